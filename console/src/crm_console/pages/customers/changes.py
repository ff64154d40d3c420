"""The changes made from a customer's page: notes, tags, details, account, addresses,
erasure; and the export of the person's data. Each is a plain form: 303 back to the page with
a flash when done, the page again with status 422 and the error beside the field when not."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from crm_console.backend import ApiError
from crm_console.pages.customers import record
from crm_console.pages.customers.lookups import CustomerId
from crm_console.web import Changer, api, form_errors, redirect

router = APIRouter(prefix="/customers")

ADDRESS = ("line1", "line2", "city", "postal_code", "province", "country_code")


def _renamed(e: ApiError, names: dict[str, str]) -> dict[str, str]:
    """The service's field names as the page's inputs are named (several forms share a page)."""
    return {names.get(field, ""): message for field, message in form_errors(e, set(names)).items()}


@router.post("/{customer_id}/notes")
async def add_note(
    request: Request,
    customer_id: CustomerId,
    who: Changer,
    note: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    if not note.strip():
        return await record.render(
            request, customer_id, 422, {"note": "Write the note first"}, {"note": note}
        )
    try:
        # The author is the signed-in person: the service takes it from X-CRM-Operator.
        await api(request).post("customers", f"/v1/customers/{customer_id}/notes", json={"body": note})
    except ApiError as e:
        return await record.render(request, customer_id, 422, _renamed(e, {"body": "note"}), {"note": note})
    return redirect(f"/customers/{customer_id}", "Note added.")


@router.post("/{customer_id}/tags")
async def change_tags(
    request: Request,
    customer_id: CustomerId,
    who: Changer,
    tag: Annotated[str, Form(max_length=100)] = "",
    remove: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Adds `tag` or removes `remove`; the bulk call changes only that tag, so two people
    tagging at once do not undo each other."""
    if not (tag.strip() or remove):
        return await record.render(request, customer_id, 422, {"tag": "Type a tag"}, {"tag": tag})
    body = {
        "customer_ids": [customer_id],
        "add": [tag.strip()] if tag.strip() else [],
        "remove": [remove] if remove else [],
    }
    try:
        await api(request).post("customers", "/v1/customers/tags", json=body)
    except ApiError as e:
        return await record.render(request, customer_id, 422, {"tag": _tag_error(e)}, {"tag": tag})
    return redirect(
        f"/customers/{customer_id}", f"Tag {remove} removed." if remove else f"Tag {tag.strip()} added."
    )


def _tag_error(e: ApiError) -> str:
    messages = list(e.field_errors.values())
    return messages[0] if messages else e.message


@router.post("/{customer_id}/details")
async def edit_details(request: Request, customer_id: CustomerId, who: Changer) -> Response:
    form = await request.form()
    fields = ("first_name", "last_name", "company", "phone")
    values = {k: str(form.get(k, "")).strip()[:300] for k in fields}
    # An emptied field is cleared (null), not kept.
    changes: dict[str, Any] = {k: v or None for k, v in values.items()}
    try:
        await api(request).patch("customers", f"/v1/customers/{customer_id}", json=changes)
    except ApiError as e:
        return await record.render(request, customer_id, 422, _renamed(e, {k: k for k in fields}), values)
    return redirect(f"/customers/{customer_id}", "Details saved.")


@router.post("/{customer_id}/account")
async def edit_account(
    request: Request,
    customer_id: CustomerId,
    who: Changer,
    email: Annotated[str, Form(max_length=300)] = "",
    status: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    values = {"email": email, "status": status}
    if not email.strip():
        return await record.render(request, customer_id, 422, {"email": "Required"}, values)
    try:
        await api(request).patch(
            "customers", f"/v1/customers/{customer_id}", json={"email": email.strip(), "status": status}
        )
    except ApiError as e:
        return await record.render(
            request, customer_id, 422, _renamed(e, {"email": "email", "status": "status"}), values
        )
    return redirect(f"/customers/{customer_id}", "Account saved.")


@router.post("/{customer_id}/addresses")
async def add_address(request: Request, customer_id: CustomerId, who: Changer) -> Response:
    form = await request.form()
    kind = str(form.get("address.type", ""))
    given = {k: str(form.get(f"address.{k}", "")).strip()[:200] for k in ADDRESS}
    values = {f"address.{k}": v for k, v in given.items()} | {"address.type": kind}
    body = {
        "type": kind,
        "is_default": form.get("address.is_default") == "on",
        **{k: v for k, v in given.items() if v},
    }
    try:
        await api(request).post("customers", f"/v1/customers/{customer_id}/addresses", json=body)
    except ApiError as e:
        names = {k: f"address.{k}" for k in (*ADDRESS, "type")}
        return await record.render(request, customer_id, 422, _renamed(e, names), values)
    return redirect(f"/customers/{customer_id}", f"{kind.capitalize()} address added.")
