"""A group's pricing: its price list (add an entry, delete one) and its terms (discount, price
tier, priority, payment terms, credit limits). People type money in major units (12.50); the
API takes minor units (1250)."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from crm_console.backend import ApiError
from crm_console.domain import money
from crm_console.pages.groups.view import group_page
from crm_console.web import Changer, api, form_errors, redirect, unconfirmed

router = APIRouter(prefix="/groups")

Text = Annotated[str, Form(max_length=200)]
Texts = Annotated[list[str] | None, Form(max_length=50)]
PRICE_FIELDS = {"sku", "currency", "amount", "percent_off", "starts_at", "ends_at"}
TERMS_FIELDS = {"discount_percent", "price_tier", "priority", "payment_terms_days", "credit_limits"}


class Unreadable(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def minor_units(text: str, currency: str, field: str) -> int | None:
    """ "12.50" EUR -> 1250; "" -> None."""
    if not text.strip():
        return None
    try:
        return money.parse(text, currency)
    except ValueError as e:
        raise Unreadable(field, str(e)) from None


def whole(text: str, field: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise Unreadable(field, "A whole number") from None


def utc(text: str) -> str | None:
    """A datetime-local input's value, read as UTC (the label says so)."""
    text = text.strip()
    return None if not text else (text if len(text) > 16 else text + ":00") + "+00:00"


@router.post("/{group_id}/prices")
async def add_price(
    request: Request,
    group_id: str,
    who: Changer,
    sku: Text = "",
    currency: Text = "",
    amount: Text = "",
    percent_off: Text = "",
    starts_at: Text = "",
    ends_at: Text = "",
) -> Response:
    values = {"sku": sku, "currency": currency, "amount": amount, "percent_off": percent_off}
    values |= {"starts_at": starts_at, "ends_at": ends_at}
    currency = currency.strip().upper()
    try:
        body: dict[str, Any] = {
            "sku": sku.strip() or None,
            "currency": currency or None,
            "amount": minor_units(amount, currency, "amount"),
            "percent_off": whole(percent_off, "percent_off"),
            "starts_at": utc(starts_at),
            "ends_at": utc(ends_at),
        }
        await api(request).post(
            "groups", f"/v1/groups/{group_id}/prices", json={k: v for k, v in body.items() if v is not None}
        )
    except (Unreadable, ApiError) as e:
        if isinstance(e, ApiError) and e.status != 422:
            raise
        errors = {e.field: e.message} if isinstance(e, Unreadable) else form_errors(e, PRICE_FIELDS)
        return await group_page(request, group_id, 422, section="price", errors=errors, values=values)
    return redirect(f"/groups/{group_id}", "Price added.")


@router.post("/{group_id}/prices/{price_id}/delete")
async def delete_price(request: Request, group_id: str, price_id: str, who: Changer) -> Response:
    if asked := await unconfirmed(
        request, "Delete this price? Members stop getting it at once.", "Delete price"
    ):
        return asked
    await api(request).delete("groups", f"/v1/groups/{group_id}/prices/{price_id}")
    return redirect(f"/groups/{group_id}", "Price deleted.")


@router.post("/{group_id}/terms")
async def save_terms(
    request: Request,
    group_id: str,
    who: Changer,
    discount_percent: Text = "",
    price_tier: Text = "",
    priority: Text = "",
    payment_terms_days: Text = "",
    limit_currency: Texts = None,
    limit_amount: Texts = None,
) -> Response:
    currencies, amounts = limit_currency or [], limit_amount or []
    amounts += [""] * (len(currencies) - len(amounts))
    limits = [
        {"currency": c.strip().upper(), "amount": a}
        for c, a in zip(currencies, amounts, strict=False)
        if c.strip() or a.strip()
    ]
    values: dict[str, Any] = {
        "discount_percent": discount_percent,
        "price_tier": price_tier,
        "priority": priority,
        "payment_terms_days": payment_terms_days,
        "credit_limits": limits,
    }
    try:
        body = {
            "discount_percent": whole(discount_percent, "discount_percent"),
            "price_tier": price_tier.strip() or None,
            "priority": whole(priority, "priority") or 0,
            "payment_terms_days": whole(payment_terms_days, "payment_terms_days"),
            "credit_limits": [
                {
                    "currency": x["currency"],
                    "amount": minor_units(x["amount"], x["currency"], f"credit_limits.{i}.amount"),
                }
                for i, x in enumerate(limits)
            ],
        }
        await api(request).patch("groups", f"/v1/groups/{group_id}", json=body)
    except (Unreadable, ApiError) as e:
        if isinstance(e, ApiError) and e.status != 422:
            raise
        errors = {e.field: e.message} if isinstance(e, Unreadable) else form_errors(e)
        return await group_page(request, group_id, 422, section="terms", errors=errors, values=values)
    return redirect(f"/groups/{group_id}", "Pricing and terms saved.")
