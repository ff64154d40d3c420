"""Segments pages: the list, the rule editor with its live preview, a segment's members and the
analytics. Fixed paths (/new, /analytics, /preview) are routed before /{segment_id}."""

from fastapi import APIRouter

from crm_console.pages.segments import analytics, editor, members

router = APIRouter()
for part in (analytics, editor, members):
    router.include_router(part.router, prefix="/segments")
