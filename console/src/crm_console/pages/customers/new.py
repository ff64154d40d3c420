"""Adding a customer: the customer with its note and addresses in one call (the service checks
all of it before it creates anything, so a failed save creates nothing), then its group."""

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crm_console.backend import Api, ApiError, ServiceDown
from crm_console.pages.customers.lookups import group_names
from crm_console.web import Changer, Reader, api, form_errors, page, redirect

router = APIRouter(prefix="/customers")

PROFILE = ("email", "password", "first_name", "last_name", "company", "phone", "note", "group_id")
ADDRESS = ("line1", "line2", "city", "postal_code", "province", "country_code")
KINDS = ("billing", "shipping")
GROUP_WAIT_SECONDS = 10  # the groups service learns of a new customer through the broker


@router.get("/new")
async def new_customer(request: Request, who: Reader) -> Response:
    return await _form(request)


async def _form(request: Request, status: int = 200, **context: Any) -> Response:
    groups = await group_names(api(request))
    return page(request, "customers/new.html", status, groups=groups, kinds=KINDS, address=ADDRESS, **context)


@router.post("/new")
async def create_customer(request: Request, who: Changer) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")).strip()[:2000] for k in PROFILE}
    values["password"] = str(form.get("password", ""))[:256]  # as typed
    addresses = {kind: {f: str(form.get(f"{kind}.{f}", "")).strip()[:200] for f in ADDRESS} for kind in KINDS}
    shown = {k: v for k, v in values.items() if k != "password"}
    shown.update({f"{kind}.{f}": v for kind, a in addresses.items() for f, v in a.items()})
    errors = _address_errors(addresses)
    if not values["email"]:
        errors["email"] = "Required"
    if errors:
        return await _form(request, 422, errors=errors, values=shown)
    backend = api(request)
    body: dict[str, Any] = {
        "email": values["email"],
        **{k: values[k] for k in ("first_name", "last_name", "company", "phone") if values[k]},
        "has_account": bool(values["password"]),  # a password opens an account; else a guest
        "notes": [{"body": values["note"]}] if values["note"] else [],
        "addresses": [
            {"type": kind, **{k: v for k, v in a.items() if v}}
            for kind, a in addresses.items()
            if any(a.values())
        ],
    }
    if values["password"]:
        body["password"] = values["password"]
    try:
        customer = await backend.post("customers", "/v1/customers", json=body)
    except ApiError as e:
        errors = _named(_address_fields(form_errors(e), body["addresses"], set(PROFILE)), e)
        return await _form(request, 422, errors=errors, values=shown)
    if customer.get("status") == "verification_pending":
        # A guest has this e-mail: the account opens (with the guest's history) only once the
        # owner of the address confirms the token the storefront e-mails them.
        return redirect(
            "/customers",
            f"A guest already shops as {customer['email']}: the account opens when they confirm the "
            "e-mail sent to that address (verification pending). Nothing else was changed.",
        )
    flash = f"Customer {customer['email']} added."
    if values["group_id"]:
        flash += await _join_group(backend, values["group_id"], customer["id"])
    return redirect(f"/customers/{customer['id']}", flash)


def _address_errors(addresses: dict[str, dict[str, str]]) -> dict[str, str]:
    """An address begun must have what every address has (the service would refuse it after
    the customer exists)."""
    errors = {}
    for kind, a in addresses.items():
        if any(a.values()):
            for required in ("line1", "city", "country_code"):
                if not a[required]:
                    errors[f"{kind}.{required}"] = "Required for this address"
            if a["country_code"] and (len(a["country_code"]) != 2 or not a["country_code"].isalpha()):
                errors[f"{kind}.country_code"] = "Two letters (ISO 3166-1), e.g. PT"
    return errors


def _address_fields(errors: dict[str, str], sent: list[dict[str, str]], known: set[str]) -> dict[str, str]:
    """The service names an address's field by its place in the list (`addresses.0.city`);
    the form by its tab (`billing.city`). Anything else goes under "" unless the form has it."""
    out: dict[str, str] = {}
    for field, message in errors.items():
        parts = field.split(".")
        if len(parts) == 3 and parts[0] == "addresses" and parts[1].isdigit() and int(parts[1]) < len(sent):
            out[f"{sent[int(parts[1])]['type']}.{parts[2]}"] = message
        elif field in known or field == "":
            out[field] = message
        else:
            out.setdefault("", f"{field}: {message}")
    return out


def _named(errors: dict[str, str], e: ApiError) -> dict[str, str]:
    if e.slug == "email-taken":  # a 409 names no field: it is the e-mail's
        return {"email": e.message}
    return errors


async def _join_group(backend: Api, group_id: str, customer_id: str) -> str:
    """Adds the new customer to the group; the groups service may not know the customer for
    a moment, so an unknown-customer refusal is tried again for a few seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GROUP_WAIT_SECONDS
    while True:
        try:
            await backend.post("groups", f"/v1/groups/{group_id}/customers", json={"add": [customer_id]})
            return " Added to the group."
        except ServiceDown:
            return " The groups service is not answering: add the customer to the group later."
        except ApiError as e:
            if e.slug != "unknown-customers" or loop.time() >= deadline:
                return f" Not added to the group: {e.message}"
        await asyncio.sleep(0.3)
