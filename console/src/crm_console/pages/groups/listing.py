"""The groups list: search by name, member counts, and creating a group."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from crm_console.backend import ApiError
from crm_console.web import Changer, Reader, api, form_errors, page, redirect

router = APIRouter(prefix="/groups")


async def _groups(request: Request, q: str, cursor: str) -> dict[str, Any]:
    found = await api(request).get("groups", "/v1/groups", params={"q": q, "cursor": cursor, "limit": 50})
    return {"groups": found["items"], "next_cursor": found.get("next_cursor"), "q": q, "cursor": cursor}


@router.get("")
async def list_groups(request: Request, who: Reader, q: str = "", cursor: str = "") -> Response:
    return page(request, "groups/list.html", **await _groups(request, q.strip()[:100], cursor[:500]))


@router.post("")
async def create_group(
    request: Request,
    who: Changer,
    name: Annotated[str, Form(max_length=200)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    body = {"name": name, **({"description": description.strip()} if description.strip() else {})}
    try:
        group = await api(request).post("groups", "/v1/groups", json=body)
    except ApiError as e:
        if e.status not in (409, 422):
            raise
        # A taken name is the name's fault: said beside it, like a bad one.
        errors = (
            {"name": e.message} if e.slug == "group-name-taken" else form_errors(e, {"name", "description"})
        )
        values = {"name": name, "description": description}
        listed = await _groups(request, "", "")
        return page(request, "groups/list.html", 422, errors=errors, values=values, **listed)
    return redirect(f"/groups/{group['id']}", f"Group “{group['name']}” created.")
