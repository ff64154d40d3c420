"""What several customers pages read from other services: group names, sales agents, a
person's display name, and a section loaded so that a service that is down (or does not know
the customer yet) leaves a notice in that section rather than failing the page."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Path

from crm_console.backend import Api, ApiError, ServiceDown


async def group_names(api: Api) -> dict[str, str] | None:
    """Group id -> name (None: the groups service is down). One page: a shop has dozens."""
    try:
        page = await api.get("groups", "/v1/groups", params={"limit": 500})
    except ServiceDown:
        return None
    return {g["id"]: g["name"] for g in page["items"]}


async def agents(api: Api) -> list[dict[str, Any]]:
    page = await api.get("customers", "/v1/agents", params={"limit": 500})
    return list(page["items"])


def display_name(c: dict[str, Any]) -> str:
    name = " ".join(p for p in (c.get("first_name"), c.get("last_name")) if p)
    return name or c["email"]


async def section(load: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """`load()`'s context with `state` "ok"; "down" (with the service) when it does not
    answer; "pending" when it answers 404: it has not yet received the customer.created
    that the broker carries to it, usually within a second."""
    try:
        return {"state": "ok", **await load()}
    except ServiceDown as e:
        return {"state": "down", "service": e.service}
    except ApiError as e:
        if e.status == 404:
            return {"state": "pending"}
        raise


CustomerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,100}$")]
"""A customer id as the services make them: safe in a service's URL and in a file name."""
