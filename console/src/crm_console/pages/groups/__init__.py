"""Customer groups pages: the list, one group's page, and the forms on it (one module each)."""

from fastapi import APIRouter

from crm_console.pages.groups import detail, listing, members, metadata, pricing

router = APIRouter()
# Every part has the prefix /groups (an empty prefix and path cannot be joined).
for part in (listing, detail, members, metadata, pricing):
    router.include_router(part.router)
