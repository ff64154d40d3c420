"""A group's members: the customer picker (search, tick, add) and removing selected members."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from crm_console.backend import ApiError
from crm_console.pages.groups.view import group_page, picker
from crm_console.web import Changer, Reader, api, page, redirect, unconfirmed

router = APIRouter(prefix="/groups")

CustomerIds = Annotated[list[str] | None, Form(max_length=200)]


@router.get("/{group_id}/picker")
async def pick_customers(request: Request, group_id: str, who: Reader, pick: str = "") -> Response:
    """The picker's results (htmx, as the search is typed)."""
    pick = pick.strip()[:200]
    picked = await picker(api(request), group_id, pick) if pick else None
    return page(request, "groups/_picker.html", group={"id": group_id}, pick=pick, picked=picked)


@router.post("/{group_id}/members")
async def add_members(
    request: Request, group_id: str, who: Changer, customer_id: CustomerIds = None
) -> Response:
    ids = sorted(set(customer_id or []))
    if not ids:
        return redirect(f"/groups/{group_id}", "Nothing selected: tick the customers to add.")
    try:
        done = await api(request).post("groups", f"/v1/groups/{group_id}/customers", json={"add": ids})
    except ApiError as e:
        if e.status != 422:
            raise
        # Most likely customers created a moment ago: the groups service hears of them by event.
        message = e.message
        if e.slug == "unknown-customers":
            message = (
                "The groups service does not know some of these customers yet (just created, or "
                "erased). Try again in a moment."
            )
        return await group_page(request, group_id, 422, section="picker", errors={"": message})
    added = len(done["added"])
    return redirect(f"/groups/{group_id}", f"{added} customer(s) added." if added else "Already members.")


@router.post("/{group_id}/members/remove")
async def remove_members(
    request: Request, group_id: str, who: Changer, customer_id: CustomerIds = None
) -> Response:
    ids = sorted(set(customer_id or []))
    if not ids:
        return redirect(f"/groups/{group_id}", "Nothing selected: tick the members to remove.")
    question = f"Remove {len(ids)} member(s) from the group? The customers themselves are kept."
    if asked := await unconfirmed(request, question, "Remove"):
        return asked
    done = await api(request).post("groups", f"/v1/groups/{group_id}/customers", json={"remove": ids})
    return redirect(f"/groups/{group_id}", f"{len(done['removed'])} member(s) removed.")
