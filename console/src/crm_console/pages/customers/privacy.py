"""The customer's personal data: an export collected from every service (right of access) and
an erasure scheduled after its grace period, cancellable until then (right to erasure)."""

import json
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response

from crm_console.backend import ApiError
from crm_console.pages.customers import record
from crm_console.pages.customers.lookups import CustomerId
from crm_console.web import Changer, Reader, api, page, redirect, unconfirmed

router = APIRouter()
RequestId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,100}$")]
"""An export or erasure request's id, as the customers service makes them."""


@router.post("/customers/{customer_id}/export")
async def export(request: Request, customer_id: CustomerId, who: Reader) -> Response:
    """Asks every service for what it holds; the request's page fills in as they answer. A POST
    behind a confirmation, not a link: personal data is about to leave the system."""
    asked = await api(request).post("customers", f"/v1/customers/{customer_id}/personal-data-requests")
    return redirect(f"/personal-data/{asked['id']}", "Export requested from every service.")


@router.get("/personal-data/{request_id}")
async def export_page(request: Request, request_id: RequestId, who: Reader) -> Response:
    document = await api(request).get("customers", f"/v1/personal-data-requests/{request_id}")
    template = (
        "customers/_export_status.html" if request.headers.get("HX-Request") else "customers/export.html"
    )
    return page(request, template, d=document)


@router.post("/personal-data/{request_id}/download")
async def download(request: Request, request_id: RequestId, who: Reader) -> Response:
    document = await api(request).get("customers", f"/v1/personal-data-requests/{request_id}")
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="personal-data-{document["customer_id"]}.json"'
        },
    )


@router.post("/customers/{customer_id}/erase")
async def schedule_erasure(
    request: Request,
    customer_id: CustomerId,
    who: Changer,
    grace_days: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    days = grace_days.strip()
    if days and not (days.isdigit() and int(days) <= 365):
        errors = {"grace_days": "A whole number of days from 0 to 365"}
        return await record.render(request, customer_id, 422, errors, {"grace_days": grace_days})
    when = "at once" if days == "0" else f"in {days} days" if days else "after the grace period"
    question = f"Erase this customer {when}? Their personal data is then deleted from every service."
    if asked := await unconfirmed(request, question, "Schedule erasure"):
        return asked
    body = {"grace_days": int(days)} if days else {}
    try:
        scheduled = await api(request).post(
            "customers", f"/v1/customers/{customer_id}/erasure-requests", json=body
        )
    except ApiError as e:
        if e.slug == "erasure-pending":
            return redirect(f"/customers/{customer_id}", "An erasure is already scheduled.")
        raise
    due = scheduled["due_at"][:16].replace("T", " ")
    return redirect(
        f"/customers/{customer_id}", f"Erasure scheduled for {due} UTC; it can be cancelled until then."
    )


@router.post("/customers/{customer_id}/erasure/{request_id}/cancel")
async def cancel_erasure(
    request: Request, customer_id: CustomerId, request_id: RequestId, who: Changer
) -> Response:
    try:
        await api(request).delete("customers", f"/v1/erasure-requests/{request_id}")
    except ApiError as e:
        if e.slug == "erasure-carried-out":
            return redirect("/customers", "Too late to cancel: the erasure is being carried out.")
        raise
    return redirect(f"/customers/{customer_id}", "Erasure cancelled: nothing was erased.")
