"""The segment list, creating and editing a segment (name and rule) with a live preview of the
rule, and deleting one."""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from crm_console.backend import Api, ApiError
from crm_console.pages.segments.rules import rule_spot
from crm_console.web import Changer, Reader, api, form_errors, page, redirect, unconfirmed

router = APIRouter()

PAGE_SIZE = 25
FIELDS = {"name", "rule"}
Name = Annotated[str, Form(max_length=200)]
Rule = Annotated[str, Form(max_length=10_000)]


async def _counted(a: Api, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The list call gives no member counts; each segment's read does (one page: 25 reads)."""
    return list(await asyncio.gather(*(a.get("segments", f"/v1/segments/{s['id']}") for s in items)))


@router.get("")
async def list_segments(request: Request, who: Reader, cursor: str = "") -> Response:
    a = api(request)
    listed = await a.get("segments", "/v1/segments", params={"limit": PAGE_SIZE, "cursor": cursor})
    return page(
        request,
        "segments/list.html",
        segments=await _counted(a, listed["items"]),
        next_cursor=listed.get("next_cursor"),
        paged=bool(cursor),
    )


def _editor(
    request: Request,
    segment: dict[str, Any] | None,
    values: dict[str, str],
    e: ApiError | None = None,
) -> Response:
    """The form, empty or holding what was typed; after a refused save (422) the errors are
    beside their fields and the rule's error is marked at its position."""
    errors = form_errors(e, FIELDS) if e else {}
    spot = rule_spot(values.get("rule", ""), e) if e else None
    return page(
        request,
        "segments/edit.html",
        422 if e else 200,
        segment=segment,
        values=values,
        errors=errors,
        spot=spot,
    )


@router.get("/new")
async def new_segment(request: Request, who: Reader) -> Response:
    return _editor(request, None, {"name": "", "rule": ""})


@router.post("")
async def create_segment(request: Request, who: Changer, name: Name = "", rule: Rule = "") -> Response:
    try:
        seg = await api(request).post("segments", "/v1/segments", json={"name": name, "rule": rule})
    except ApiError as e:
        if e.status != 422:
            raise
        return _editor(request, None, {"name": name, "rule": rule}, e)
    return redirect(f"/segments/{seg['id']}", f"Segment “{seg['name']}” created.")


@router.get("/{segment_id}/edit")
async def edit_segment(request: Request, segment_id: str, who: Reader) -> Response:
    seg = await api(request).get("segments", f"/v1/segments/{segment_id}")
    return _editor(request, seg, {"name": seg["name"], "rule": seg["rule"]})


@router.post("/{segment_id}/edit")
async def save_segment(
    request: Request, segment_id: str, who: Changer, name: Name = "", rule: Rule = ""
) -> Response:
    a = api(request)
    try:
        seg = await a.patch("segments", f"/v1/segments/{segment_id}", json={"name": name, "rule": rule})
    except ApiError as e:
        if e.status != 422:
            raise
        return _editor(
            request, await a.get("segments", f"/v1/segments/{segment_id}"), {"name": name, "rule": rule}, e
        )
    return redirect(f"/segments/{segment_id}", f"Segment “{seg['name']}” saved.")


@router.post("/{segment_id}/delete")
async def delete_segment(request: Request, segment_id: str, who: Changer) -> Response:
    a = api(request)
    seg = await a.get("segments", f"/v1/segments/{segment_id}")
    question = f"Delete the segment “{seg['name']}”? Its members leave it; the customers stay."
    if asked := await unconfirmed(request, question, "Delete segment"):
        return asked
    await a.delete("segments", f"/v1/segments/{segment_id}")
    return redirect("/segments", f"Segment “{seg['name']}” deleted.")


@router.post("/preview")
async def preview(request: Request, who: Reader, rule: Rule = "") -> Response:
    """How many customers the rule being typed matches now: the editor asks as it is typed
    (any role may: nothing is stored). An invalid rule is shown at its position."""
    if not rule.strip():
        return page(request, "segments/_preview.html", empty=True)
    try:
        found = await api(request).post(
            "segments", "/v1/segments/preview", json={"rule": rule, "sample_size": 5}
        )
    except ApiError as e:
        if e.status != 422:
            raise
        spot = rule_spot(rule, e)
        return page(request, "segments/_preview.html", spot=spot, message=e.message)
    return page(request, "segments/_preview.html", count=found["count"], sample=found["sample"])
