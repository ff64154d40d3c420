"""HTTP API of e-mail: templates, messages, campaigns, automations (thin routes over the use
cases). `router` is served under /v1 behind the bearer token; `public` (the unsubscribe page)
is what customers reach from a mail, proven by the signed token in its path."""

import html
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from fastapi.responses import HTMLResponse

from crm_engagement.context import Ctx
from crm_engagement.domain import AutomationDoc, CampaignDoc, MessageDoc, TemplateDoc
from crm_engagement.schemas.mail import (
    AutomationIn,
    AutomationOut,
    AutomationsList,
    CampaignIn,
    CampaignOut,
    CampaignsPage,
    ContactOut,
    MessageIn,
    MessageOut,
    MessagesList,
    PreviewIn,
    PreviewOut,
    SegmentAudienceOut,
    TemplateIn,
    TemplateOut,
    TemplatesPage,
)
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import NotFound
from crm_servicekit.pagination import BadCursor, Cursor, Limit, decode_cursor, encode_cursor

router = APIRouter(tags=["engagement"])
public = APIRouter(tags=["unsubscribe"])


def _after(cursor: str | None) -> str | None:
    key = decode_cursor(cursor, "i")
    if key is None:
        return None
    if not isinstance(key["i"], str):
        raise BadCursor()
    return key["i"]


def _page(docs: list[Any], limit: int, shape: Any) -> dict[str, Any]:
    more = len(docs) > limit
    docs = docs[:limit]
    return {
        "items": [shape(d) for d in docs],
        "next_cursor": encode_cursor({"i": docs[-1]["_id"]}) if more and docs else None,
    }


def _template(doc: TemplateDoc) -> dict[str, Any]:
    return {"id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}


def _message(doc: MessageDoc) -> dict[str, Any]:
    return {"id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}


# --- templates ----------------------------------------------------------------------------


@router.post("/templates", status_code=201, response_model=TemplateOut)
async def create_template(body: TemplateIn, ctx: Ctx) -> dict[str, Any]:
    """Unknown variables or broken syntax: 422 naming the part (subject, html, text)."""
    return _template(await ctx.templates.create(body.name, body.kind, body.parts(), body.topic))


@router.get("/templates", response_model=TemplatesPage)
async def list_templates(ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    return _page(await ctx.templates.list(_after(cursor), limit), limit, _template)


@router.get("/templates/{template_id}", response_model=TemplateOut)
async def get_template(template_id: str, ctx: Ctx) -> dict[str, Any]:
    return _template(await ctx.templates.get(template_id))


@router.put("/templates/{template_id}", response_model=TemplateOut)
async def replace_template(template_id: str, body: TemplateIn, ctx: Ctx) -> dict[str, Any]:
    return _template(await ctx.templates.replace(template_id, body.name, body.kind, body.parts(), body.topic))


@router.delete("/templates/{template_id}", status_code=204, response_class=Response)
async def delete_template(template_id: str, ctx: Ctx) -> Response:
    await ctx.templates.delete(template_id)
    return Response(status_code=204)


@router.post(
    "/templates/{template_id}/preview",
    response_model=PreviewOut,
    responses={404: {"description": "template not found, or the customer named by `customer_id`"}},
)
async def preview_template(template_id: str, body: PreviewIn, ctx: Ctx) -> dict[str, str]:
    r = await ctx.templates.preview(template_id, body.customer_id)
    return {"subject": r.subject, "html": r.html, "text": r.text}


# --- messages -----------------------------------------------------------------------------


@router.post(
    "/customers/{customer_id}/messages",
    status_code=202,
    response_model=MessageOut,
    responses={404: {"description": "customer or template (`template_id`) not found"}},
)
async def send_message(
    customer_id: str,
    body: MessageIn,
    ctx: Ctx,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Queues one mail to the customer (202: it is sent shortly; follow its status). The same
    Idempotency-Key queues it once."""
    return _message(await ctx.messages.send_to_customer(customer_id, body.template_id, idempotency_key))


@router.get("/customers/{customer_id}/messages", response_model=MessagesList)
async def customer_messages(customer_id: str, ctx: Ctx, limit: Limit = 50) -> dict[str, Any]:
    return {"items": [_message(d) for d in await ctx.messages.of_customer(customer_id, limit)]}


@router.get("/messages/{message_id}", response_model=MessageOut)
async def get_message(message_id: str, ctx: Ctx) -> dict[str, Any]:
    return _message(await ctx.messages.get(message_id))


@router.get("/customers/{customer_id}/contact", response_model=ContactOut)
async def get_contact(customer_id: str, ctx: Ctx) -> dict[str, Any]:
    """What this service knows of a customer: e-mail, consent now, marketing mails counted."""
    c = await ctx.contacts.contact(customer_id)
    since = now_ms() - timedelta(hours=ctx.settings.marketing_window_hours)
    return {
        "customer_id": c["_id"],
        "email": c["email"],
        "first_name": c["first_name"],
        "last_name": c["last_name"],
        "marketing_consent": await ctx.contacts.consent(c["email"] or ""),
        "marketing_sent_in_window": await ctx.store.slots_since(c["_id"], since),
    }


# --- campaigns ----------------------------------------------------------------------------


async def _campaign(ctx: Any, doc: CampaignDoc) -> dict[str, Any]:
    counts = await ctx.campaigns.progress(doc)
    launched = "recipients" in doc
    return {
        "id": doc["_id"],
        **{k: v for k, v in doc.items() if k not in ("_id", "recipients")},
        "audience": doc["recipients"] if launched else await ctx.campaigns.audience(doc),
        "counts": counts,
    }


@router.get("/segment-audiences/{segment_id}", response_model=SegmentAudienceOut)
async def segment_audience(segment_id: str, ctx: Ctx) -> dict[str, Any]:
    """How many customers a campaign to this segment would reach now (before consent and the
    frequency limit, which are checked when each mail is sent)."""
    return {"segment_id": segment_id, "customers": await ctx.campaigns.segment_audience(segment_id)}


@router.post(
    "/campaigns",
    status_code=201,
    response_model=CampaignOut,
    responses={404: {"description": "template (`template_id`) not found"}},
)
async def create_campaign(body: CampaignIn, ctx: Ctx) -> dict[str, Any]:
    doc = await ctx.campaigns.create(
        body.name, body.template_id, body.segment_id, body.customer_ids, body.scheduled_at
    )
    return await _campaign(ctx, doc)


@router.get("/campaigns", response_model=CampaignsPage)
async def list_campaigns(ctx: Ctx, limit: Limit = 20, cursor: Cursor = None) -> dict[str, Any]:
    docs = await ctx.campaigns.list(_after(cursor), limit)
    page = _page(docs, limit, lambda d: d)
    page["items"] = [await _campaign(ctx, d) for d in page["items"]]
    return page


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
async def get_campaign(campaign_id: str, ctx: Ctx) -> dict[str, Any]:
    return await _campaign(ctx, await ctx.campaigns.get(campaign_id))


# --- automations --------------------------------------------------------------------------


def _automation(doc: AutomationDoc) -> dict[str, Any]:
    return {
        "name": doc["_id"],
        "enabled": doc["enabled"],
        "template_id": doc["template_id"],
        "delay_days": doc.get("delay_days"),
        "segment_id": doc.get("segment_id"),
        "updated_at": doc["updated_at"],
    }


@router.get("/automations", response_model=AutomationsList)
async def list_automations(ctx: Ctx) -> dict[str, Any]:
    return {"items": [_automation(d) for d in await ctx.automations.list()]}


@router.put(
    "/automations/{name}",
    response_model=AutomationOut,
    responses={404: {"description": "no such automation, or template (`template_id`) not found"}},
)
async def set_automation(name: str, body: AutomationIn, ctx: Ctx) -> dict[str, Any]:
    return _automation(
        await ctx.automations.set(name, body.enabled, body.template_id, body.delay_days, body.segment_id)
    )


# --- unsubscribe (public) -----------------------------------------------------------------

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:sans-serif;max-width:32em;margin:3em auto"><h1>{title}</h1>{body}</body></html>"""


def _html(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status)


@public.get("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe_page(token: str, ctx: Ctx) -> HTMLResponse:
    """A confirmation page: a GET never unsubscribes (link scanners follow links)."""
    try:
        contact = await ctx.contacts.contact_of_token(token)
    except NotFound:
        return _html("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    email = html.escape(contact["email"] or "")
    return _html(
        "Unsubscribe",
        f'<p>Stop marketing e-mail to <b>{email}</b>?</p><form method="post">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>',
    )


@public.post("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe(token: str, ctx: Ctx) -> HTMLResponse:
    """RFC 8058 one-click (a mail client POSTs `List-Unsubscribe=One-Click`) and the page's
    button. Records the unsubscribe and publishes newsletter.unsubscribed; repeating it is
    harmless."""
    try:
        contact = await ctx.contacts.unsubscribe(token)
    except NotFound:
        return _html("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    email = html.escape(contact["email"] or "")
    return _html("Unsubscribed", f"<p><b>{email}</b> gets no more marketing e-mail from us.</p>")
