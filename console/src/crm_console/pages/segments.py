"""Segments pages."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crm_console.web import Reader, page

router = APIRouter(prefix="/segments")


@router.get("")
async def list_segments(request: Request, who: Reader) -> Response:
    return page(request, "segments/list.html")
