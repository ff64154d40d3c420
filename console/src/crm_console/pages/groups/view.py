"""One group's page as every form on it re-renders it: the group, a page of its members with
their names, its price list, analytics and the metadata rows. A form that failed passes its
own `section`, `errors` and `values` so only that form shows them."""

import asyncio
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from crm_console.backend import Api, ApiError
from crm_console.web import api, page

MEMBERS_PER_PAGE = 50
ANALYTICS_UP_TO = 500  # the groups API computes them per call; past this it reads every buyer


def customer_label(c: dict[str, Any]) -> str:
    name = " ".join(p for p in (c.get("first_name"), c.get("last_name")) if p)
    return name or c.get("email") or c.get("id", "")


async def _customer(calls: Api, customer_id: str) -> dict[str, Any]:
    try:
        c: dict[str, Any] = await calls.get("customers", f"/v1/customers/{customer_id}")
    except ApiError as e:
        if e.status != 404:
            raise
        return {"id": customer_id, "missing": True}
    return c


async def members_of(calls: Api, group_id: str, cursor: str) -> dict[str, Any]:
    """A page of members from the groups service (it holds the truth about membership, at once),
    named from the customers service, one read each, concurrently."""
    listed = await calls.get(
        "groups",
        f"/v1/groups/{group_id}/customers",
        params={"limit": MEMBERS_PER_PAGE, "cursor": cursor},
    )
    customers = await asyncio.gather(*(_customer(calls, m["customer_id"]) for m in listed["items"]))
    rows = [
        {**m, "customer": c, "label": customer_label(c)}
        for m, c in zip(listed["items"], customers, strict=True)
    ]
    return {"members": rows, "members_next": listed.get("next_cursor")}


async def picker(calls: Api, group_id: str, q: str) -> list[dict[str, Any]]:
    """Customers matching a search (prefix of e-mail or name), for the add-members picker."""
    found = await calls.get("customers", "/v1/customers", params={"q": q, "limit": 25})
    return [
        {**c, "label": customer_label(c), "member": group_id in (c.get("group_ids") or [])}
        for c in found["items"]
    ]


def metadata_rows(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [{"key": k, "value": _text(v)} for k, v in metadata.items()]
    return rows or [{"key": "", "value": ""}]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def group_page(
    request: Request, group_id: str, status: int = 200, template: str = "groups/detail.html", **ctx: Any
) -> HTMLResponse:
    calls = api(request)
    group = await calls.get("groups", f"/v1/groups/{group_id}")
    q = request.query_params
    cursor = q.get("members", "")[:500]
    pick = q.get("pick", "").strip()[:200]
    wants_analytics = group["member_count"] <= ANALYTICS_UP_TO or q.get("analytics") == "1"
    members, prices, analytics, picked = await asyncio.gather(
        members_of(calls, group_id, cursor),
        calls.get("groups", f"/v1/groups/{group_id}/prices", params={"limit": 100}),
        calls.get("groups", f"/v1/groups/{group_id}/analytics") if wants_analytics else _nothing(),
        picker(calls, group_id, pick) if pick else _nothing(),
    )
    base: dict[str, Any] = {
        "group": group,
        **members,
        "members_cursor": cursor,
        "prices": sorted(prices["items"], key=lambda p: p["created_at"]),  # the API orders by id
        "analytics": analytics,
        "pick": pick,
        "picked": picked,
        "meta_rows": metadata_rows(group["metadata"]),
        "section": "",
    }
    return page(request, template, status, **{**base, **ctx})


async def _nothing() -> None:
    return None
