"""Groups pages."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crm_console.web import Reader, page

router = APIRouter(prefix="/groups")


@router.get("")
async def list_groups(request: Request, who: Reader) -> Response:
    return page(request, "groups/list.html")
