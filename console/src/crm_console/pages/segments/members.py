"""One segment: its rule, member count and members, a page at a time (cursor paging)."""

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crm_console.backend import Api, ApiError, ServiceDown
from crm_console.web import Reader, api, page

router = APIRouter()

PAGE_SIZE = 25


async def _customer(a: Api, customer_id: str) -> dict[str, Any] | None:
    """The customer's record, or None if it is gone (erased since it joined)."""
    try:
        return await a.get("customers", f"/v1/customers/{customer_id}")
    except ApiError as e:
        if e.status == 404:
            return None
        raise


async def _with_names(a: Api, members: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """Members with the customer's name: the segments service knows ids and e-mails only, the
    customers service the names. If it is down the members are still shown, without names."""
    try:
        found = await asyncio.gather(*(_customer(a, m["customer_id"]) for m in members))
    except ServiceDown:
        return [{**m, "customer": None} for m in members], False
    return [{**m, "customer": c} for m, c in zip(members, found, strict=True)], True


@router.get("/{segment_id}")
async def segment_members(request: Request, segment_id: str, who: Reader, cursor: str = "") -> Response:
    a = api(request)
    seg = await a.get("segments", f"/v1/segments/{segment_id}")
    listed = await a.get(
        "segments", f"/v1/segments/{segment_id}/members", params={"limit": PAGE_SIZE, "cursor": cursor}
    )
    members, names_known = await _with_names(a, listed["items"])
    return page(
        request,
        "segments/members.html",
        segment=seg,
        members=members,
        names_known=names_known,
        next_cursor=listed.get("next_cursor"),
        paged=bool(cursor),
    )
