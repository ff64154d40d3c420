"""The customer's page: the customers service's record (history, notes, details, account,
addresses, orders) and one section per other service (groups, store credit, rewards and
coupons, segments). Each of those sections is loaded on its own, so a service that is down
leaves a notice in its section and the rest of the page still shows; a section can also be
fetched alone (`/parts/<name>`), which htmx does to refresh one that is waiting."""

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crm_console.backend import Api
from crm_console.pages.customers import credit
from crm_console.pages.customers.lookups import CustomerId, display_name, section
from crm_console.web import Reader, api, page

router = APIRouter(prefix="/customers")

ORDER_SORTS = {
    "-placed_at": "Newest first",
    "placed_at": "Oldest first",
    "-total": "Highest value first",
    "total": "Lowest value first",
}


async def groups_part(backend: Api, customer_id: CustomerId, request: Request) -> dict[str, Any]:
    async def load() -> dict[str, Any]:
        found = await backend.get("groups", f"/v1/customers/{customer_id}/groups", params={"limit": 500})
        return {"items": found["items"]}

    return await section(load)


async def segments_part(backend: Api, customer_id: CustomerId, request: Request) -> dict[str, Any]:
    async def load() -> dict[str, Any]:
        found = await backend.get("segments", f"/v1/customers/{customer_id}/segments", params={"limit": 500})
        return {"items": found["items"]}

    return await section(load)


async def credit_part(backend: Api, customer_id: CustomerId, request: Request) -> dict[str, Any]:
    return await section(lambda: credit.load(backend, customer_id, request.query_params.get("kind", "")))


async def rewards_part(backend: Api, customer_id: CustomerId, request: Request) -> dict[str, Any]:
    return await section(lambda: credit.load_rewards(backend, customer_id))


PARTS = {"groups": groups_part, "segments": segments_part, "credit": credit_part, "rewards": rewards_part}


@router.get("/{customer_id}")
async def customer_page(request: Request, customer_id: CustomerId, who: Reader) -> Response:
    return await render(request, customer_id)


@router.get("/{customer_id}/parts/{name}")
async def customer_part(request: Request, customer_id: CustomerId, name: str, who: Reader) -> Response:
    """One section alone (htmx refreshes a section that waits for its service)."""
    load = PARTS.get(name)
    if load is None:
        return page(request, "message.html", 404, title="Not found", message="No such section.")
    parts: dict[str, Any] = {name: await load(api(request), customer_id, request)}
    return page(request, f"customers/_{name}.html", customer_id=customer_id, **parts)


async def render(
    request: Request,
    customer_id: CustomerId,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    """The whole page; after a refused change, with the errors beside that form's fields."""
    backend = api(request)
    path = f"/v1/customers/{customer_id}"
    customer = await backend.get("customers", path)  # a 404 is the "Not found" page
    orders_sort = request.query_params.get("orders", "-placed_at")
    if orders_sort not in ORDER_SORTS:
        orders_sort = "-placed_at"
    history, notes, orders, erasures, *parts = await asyncio.gather(
        backend.get("customers", f"{path}/history", params={"limit": 30}),
        backend.get("customers", f"{path}/notes", params={"limit": 100}),
        backend.get("customers", f"{path}/orders", params={"limit": 100, "sort": orders_sort}),
        backend.get("customers", f"{path}/erasure-requests"),
        *(load(backend, customer_id, request) for load in PARTS.values()),
    )
    return page(
        request,
        "customers/customer.html",
        status,
        c=customer,
        customer_id=customer_id,
        name=display_name(customer),
        history=history["items"],
        notes=notes["items"],
        orders=orders["items"],
        erasure=next((e for e in erasures if e["status"] == "scheduled"), None),
        orders_sort=orders_sort,
        order_sorts=ORDER_SORTS,
        errors=errors or {},
        values=values or {},
        **_named(parts),
    )


def _named(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(zip(PARTS, parts, strict=True))
