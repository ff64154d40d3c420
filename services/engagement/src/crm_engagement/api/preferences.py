"""HTTP API of the preference centre: staff and storefronts read and set a customer's consent
per topic and channel and get the customer's link (`router`, under /v1); the page the
customer reaches by that link (`public`), proven by the signed, expiring token in its path.
The page needs no JavaScript and changes nothing on GET; its POST carries the token, the
only credential (no cookie, so a cross-site form has nothing to borrow)."""

import html
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from crm_engagement.api.mail import _html
from crm_engagement.context import Ctx
from crm_engagement.domain import preferences as rules
from crm_engagement.domain.preferences import Stated
from crm_engagement.schemas.preferences import PreferenceLinkOut, PreferencesIn, PreferencesOut
from crm_servicekit.errors import Forbidden, NotFound

router = APIRouter(tags=["preferences"])
public = APIRouter(tags=["preference centre"])


def _shown(customer_id: str, prefs: dict[tuple[str, str], Stated]) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "preferences": [
            {"topic": t, "channel": c, **prefs[(t, c)]} for t in rules.TOPICS for c in rules.CHANNELS
        ],
    }


@router.get("/customers/{customer_id}/preferences", response_model=PreferencesOut)
async def get_preferences(customer_id: str, ctx: Ctx) -> dict[str, Any]:
    """Consent per topic and channel now, each with when and where it was stated."""
    contact = await ctx.preferences.contact(customer_id)
    return _shown(customer_id, await ctx.preferences.of(contact))


@router.put("/customers/{customer_id}/preferences", response_model=PreferencesOut)
async def set_preferences(customer_id: str, body: PreferencesIn, ctx: Ctx) -> dict[str, Any]:
    """Sets the pairs named (the others stay); only what differs is recorded and published."""
    contact = await ctx.preferences.contact(customer_id)
    wanted: dict[tuple[str, str], bool] = {(p.topic, p.channel): p.granted for p in body.preferences}
    return _shown(customer_id, await ctx.preferences.set(contact, wanted, body.source))


@router.post("/customers/{customer_id}/preference-link", response_model=PreferenceLinkOut)
async def preference_link(customer_id: str, ctx: Ctx) -> dict[str, Any]:
    """A link to the customer's preference page (to put in a mail or a storefront account page)."""
    await ctx.preferences.contact(customer_id)
    url, expires = ctx.preferences.link(customer_id)
    return {"url": url, "expires_at": expires}


# --- the page (public) --------------------------------------------------------------------

_INVALID = ("Link not valid", "<p>This link is not valid.</p>", 404)
_EXPIRED = ("Link expired", "<p>This link has expired. Ask us for a new one.</p>", 403)


def _form(email: str, prefs: dict[tuple[str, str], Stated], note: str = "") -> str:
    rows = "".join(
        f'<tr><th style="text-align:left">{rules.LABELS[t]}</th>'
        + "".join(
            f'<td><label><input type="checkbox" name="{t}.{c}"{" checked" if prefs[(t, c)]["granted"] else ""}>'
            f" {'E-mail' if c == 'email' else 'SMS'}</label></td>"
            for c in rules.CHANNELS
        )
        + "</tr>"
        for t in rules.TOPICS
    )
    return (
        f"{note}<p>What may we send to <b>{html.escape(email)}</b>?</p>"
        f'<form method="post"><input type="hidden" name="form" value="preferences"><table>{rows}</table>'
        '<p><button type="submit">Save</button></p></form>'
    )


@public.get("/preferences/{token}", response_class=HTMLResponse, include_in_schema=False)
async def preference_page(token: str, ctx: Ctx) -> HTMLResponse:
    try:
        contact = await ctx.preferences.contact_of_token(token)
    except NotFound:
        return _html(*_INVALID)
    except Forbidden:
        return _html(*_EXPIRED)
    return _html("Your preferences", _form(contact["email"] or "", await ctx.preferences.of(contact)))


@public.post("/preferences/{token}", response_class=HTMLResponse, include_in_schema=False)
async def save_preferences(token: str, request: Request, ctx: Ctx) -> HTMLResponse:
    """The page's form: a checked box grants, an unchecked one (absent from the form) withdraws."""
    try:
        contact = await ctx.preferences.contact_of_token(token)
    except NotFound:
        return _html(*_INVALID)
    except Forbidden:
        return _html(*_EXPIRED)
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    prefs = await ctx.preferences.of(contact)
    if fields.get("form") != ["preferences"]:
        note = '<p style="color:#b00">Use the form below.</p>'
        return _html("Your preferences", _form(contact["email"] or "", prefs, note), 422)
    wanted: dict[tuple[str, str], bool] = {
        (t, c): f"{t}.{c}" in fields for t in rules.TOPICS for c in rules.CHANNELS
    }
    after = await ctx.preferences.set(contact, wanted, "preference-centre")
    return _html("Saved", _form(contact["email"] or "", after, "<p><b>Saved.</b></p>"))
