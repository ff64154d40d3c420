"""The customer list: quick search, filters, sort, a count of matches and paging by the API's
cursors. htmx swaps only the results while staff type; the same GET form works without it."""

import asyncio
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crm_console.pages.customers.lookups import agents, display_name, group_names
from crm_console.web import Reader, api, page

router = APIRouter(prefix="/customers")

FILTERS = ("q", "has_account", "group_id", "tag", "status", "sales_agent_id")
SORTS = [
    ("-created_at", "Newest first"),
    ("created_at", "Oldest first"),
    ("name", "Name A–Z"),
    ("-name", "Name Z–A"),
    ("-total_spent", "Total spent, highest first"),
    ("total_spent", "Total spent, lowest first"),
]
PAGE_SIZE = 25
FIRST = "0"  # stands for the first page in the trail (a cursor is base64 JSON: never "0")


@router.get("")
async def list_customers(request: Request, who: Reader) -> Response:
    q = request.query_params
    filters = {k: q.get(k, "").strip()[:200] for k in FILTERS}
    sort = q.get("sort", "-created_at")
    if sort not in dict(SORTS):
        sort = "-created_at"
    cursor = q.get("cursor", "")[:2000]
    size = q.get("limit", "")
    limit = int(size) if size.isdigit() and 1 <= int(size) <= 100 else PAGE_SIZE
    # The cursors of the pages before this one, oldest first: "previous" pops the last.
    trail = [c for c in q.get("trail", "").split(",") if c][:50]
    backend = api(request)
    listing, count, groups, agent_list = await asyncio.gather(
        backend.get(
            "customers",
            "/v1/customers",
            params={**filters, "sort": sort, "cursor": cursor, "limit": limit},
        ),
        backend.get("customers", "/v1/customers/count", params=filters),
        group_names(backend),
        agents(backend),
    )
    base = {**{k: v for k, v in filters.items() if v}, "sort": sort}
    if limit != PAGE_SIZE:
        base["limit"] = str(limit)
    pages: dict[str, str] = {}
    if listing["next_cursor"]:
        pages["next"] = "?" + urlencode(
            {**base, "cursor": listing["next_cursor"], "trail": ",".join([*trail, cursor or FIRST])}
        )
    if cursor:
        back = trail[-1] if trail else FIRST
        pages["previous"] = "?" + urlencode(
            {**base, **({"cursor": back} if back != FIRST else {}), "trail": ",".join(trail[:-1])}
        )
        pages["first"] = "?" + urlencode(base)
    rows = [_row(c, groups) for c in listing["items"]]
    return page(
        request,
        "customers/list.html",
        customers=rows,
        count=count["count"],
        values={**filters, "sort": sort},
        sorts=SORTS,
        groups=groups,
        agents=agent_list,
        pages=pages,
        page_number=len(trail) + 1 if cursor else 1,
        filtered=any(filters.values()),
    )


def _row(c: dict[str, Any], groups: dict[str, str] | None) -> dict[str, Any]:
    return {
        **c,
        "name": display_name(c),
        "group_names": [groups.get(g, g) for g in c["group_ids"]] if groups is not None else None,
        "spent": [(s["total_spent"], s["currency"]) for s in c["stats"]["per_currency"]],
    }
