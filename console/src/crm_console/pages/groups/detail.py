"""One group: its page, editing its name and description in a side panel, deleting it."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from crm_console.backend import ApiError
from crm_console.pages.groups.view import group_page
from crm_console.web import Changer, Reader, api, form_errors, is_htmx, page, redirect, unconfirmed

router = APIRouter(prefix="/groups")


@router.get("/{group_id}")
async def show_group(request: Request, group_id: str, who: Reader) -> Response:
    return await group_page(request, group_id)


@router.get("/{group_id}/edit")
async def edit_form(request: Request, group_id: str, who: Reader) -> Response:
    """htmx loads the panel into the page; without htmx, the page comes with the panel open."""
    if is_htmx(request):
        group = await api(request).get("groups", f"/v1/groups/{group_id}")
        return page(request, "groups/_edit_panel.html", group=group, values=group)
    return await group_page(request, group_id, panel=True)


@router.post("/{group_id}/edit")
async def save_edit(
    request: Request,
    group_id: str,
    who: Changer,
    name: Annotated[str, Form(max_length=200)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    values = {"name": name, "description": description}
    body = {"name": name, "description": description.strip() or None}
    try:
        group = await api(request).patch("groups", f"/v1/groups/{group_id}", json=body)
    except ApiError as e:
        if e.status not in (409, 422):
            raise
        errors = (
            {"name": e.message} if e.slug == "group-name-taken" else form_errors(e, {"name", "description"})
        )
        if is_htmx(request):
            group = await api(request).get("groups", f"/v1/groups/{group_id}")
            return page(request, "groups/_edit_panel.html", 422, group=group, values=values, errors=errors)
        return await group_page(
            request, group_id, 422, section="panel", panel=True, values=values, errors=errors
        )
    if is_htmx(request):
        # The panel closes; the heading and description change in place (out-of-band swaps).
        return page(request, "groups/_edit_saved.html", group=group, flash="Saved.")
    return redirect(f"/groups/{group_id}", "Saved.")


@router.post("/{group_id}/delete")
async def delete_group(request: Request, group_id: str, who: Changer) -> Response:
    calls = api(request)
    group = await calls.get("groups", f"/v1/groups/{group_id}")
    question = f"Delete the group “{group['name']}”? This cannot be undone; its customers are kept."
    if asked := await unconfirmed(request, question, "Delete group"):
        return asked
    await calls.delete("groups", f"/v1/groups/{group_id}")
    return redirect("/groups", f"Group “{group['name']}” deleted; its customers were kept.")
