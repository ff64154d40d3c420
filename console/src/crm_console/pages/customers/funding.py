"""Adding or deducting store credit from the customer's page. The form carries its own
Idempotency-Key, so a double submit moves the money once; the operator the ledger records is
the signed-in person (X-CRM-Operator, sent by every call)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from crm_console.backend import ApiError
from crm_console.domain import money
from crm_console.pages.customers import record
from crm_console.pages.customers.lookups import CustomerId
from crm_console.web import Changer, api, form_errors, redirect

router = APIRouter(prefix="/customers")


@router.post("/{customer_id}/credit")
async def move_credit(
    request: Request,
    customer_id: CustomerId,
    who: Changer,
    direction: Annotated[str, Form(max_length=20)] = "funding",
    amount: Annotated[str, Form(max_length=40)] = "",
    currency: Annotated[str, Form(max_length=3)] = "EUR",
    reason: Annotated[str, Form(max_length=500)] = "",
    key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    values = {"amount": amount, "currency": currency, "direction": direction, "reason": reason}
    currency = currency.upper()
    if direction not in ("funding", "unfunding"):
        return await record.render(request, customer_id, 422, {"direction": "Add or deduct"}, values)
    try:
        units = money.parse(amount, currency)
    except ValueError as e:
        return await record.render(request, customer_id, 422, {"amount": str(e)}, values)
    body = {
        "kind": direction,
        "amount": units,
        "currency": currency,
        **({"reason": reason} if reason else {}),
    }
    try:
        await api(request).post(
            "ledger",
            f"/v1/accounts/{customer_id}/entries",
            json=body,
            headers={"Idempotency-Key": key} if key else None,
        )
    except ApiError as e:
        if e.slug == "insufficient-funds":
            errors = {"amount": "Insufficient funds: the balance is smaller than this amount."}
        elif e.status == 404:
            errors = {"amount": "The ledger does not know this customer yet. Try again in a moment."}
        else:
            errors = {("amount" if k in ("", "amount") else k): m for k, m in form_errors(e).items()}
        return await record.render(request, customer_id, 422, errors, values)
    done = "added" if direction == "funding" else "deducted"
    return redirect(f"/customers/{customer_id}", f"Store credit {done}: {money.show(units, currency)}.")
