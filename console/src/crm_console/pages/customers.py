"""Customers pages."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crm_console.web import Reader, page

router = APIRouter(prefix="/customers")


@router.get("")
async def list_customers(request: Request, who: Reader) -> Response:
    return page(request, "customers/list.html")
