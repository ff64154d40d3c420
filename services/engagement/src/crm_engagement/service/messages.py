"""Queueing mail: render a template for one recipient and store the message, once per cause.
The sender (sender.py) delivers what is queued."""

import html
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from crm_engagement.domain import (
    ContactDoc,
    MailKind,
    MessageDoc,
    TemplateDoc,
    customer_vars,
    message_id,
    parts_of,
    render,
    unsubscribe_token,
    uses_order,
)
from crm_engagement.domain.preferences import token as preference_token
from crm_engagement.domain.tickets import TicketDoc
from crm_engagement.settings import EngagementSettings
from crm_engagement.store import EngagementStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import Invalid, NotFound


@dataclass(frozen=True)
class Recipient:
    email: str
    customer_id: str | None = None
    contact: ContactDoc | None = None
    first_name: str | None = None
    last_name: str | None = None


class Messages:
    def __init__(self, store: EngagementStore, settings: EngagementSettings, secret: str) -> None:
        self.store = store
        self.settings = settings
        self.secret = secret

    def preferences_url(self, customer_id: str) -> str:
        expires = now_ms() + timedelta(days=self.settings.preference_link_days)
        token = preference_token(self.secret, customer_id, expires)
        return f"{self.settings.public_url.rstrip('/')}/preferences/{token}"

    def unsubscribe_url(self, customer_id: str) -> str:
        return f"{self.settings.public_url.rstrip('/')}/unsubscribe/{unsubscribe_token(self.secret, customer_id)}"

    def compose(
        self,
        key: str,
        template: TemplateDoc,
        to: Recipient,
        *,
        order: dict[str, Any] | None = None,
        campaign_id: str | None = None,
        survey: tuple[str, str] | None = None,
    ) -> MessageDoc:
        """The message `key` stands for, rendered now. Marketing mail carries an unsubscribe
        link (and needs a customer to unsubscribe)."""
        kind: MailKind = template["kind"]
        if kind == "marketing" and to.customer_id is None:
            raise Invalid(
                "marketing mail needs a known customer",
                errors=[{"field": "customer_id", "message": "unknown"}],
            )
        if order is None and uses_order(parts_of(template)):
            raise Invalid(
                f"template {template['_id']} uses `order`, and this mail is not about an order",
                errors=[{"field": "template_id", "message": "needs an order"}],
            )
        link = self.unsubscribe_url(to.customer_id) if kind == "marketing" and to.customer_id else None
        context = {
            "customer": customer_vars(to.contact, to.email, to.first_name, to.last_name),
            "order": order,
            "unsubscribe_url": link or "",
            "preferences_url": self.preferences_url(to.customer_id) if link and to.customer_id else "",
            "shop_name": self.settings.shop_name,
            "survey_url": survey[0] if survey else "",
            "survey_question": survey[1] if survey else "",
        }
        rendered = render(parts_of(template), context)
        now = now_ms()
        return {
            "_id": message_id(key),
            "key": key,
            "customer_id": to.customer_id,
            "email": to.email,
            "kind": kind,
            "template_id": template["_id"],
            "campaign_id": campaign_id,
            "subject": rendered.subject,
            "html": rendered.html,
            "text": rendered.text,
            "unsubscribe_url": link,
            "topic": template.get("topic") if kind == "marketing" else None,
            "status": "queued",
            "reason": None,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
            "sent_at": None,
        }

    async def ticket_reply(
        self, ticket: TicketDoc, message_id_: str, author: str, body: str, contact: ContactDoc | None
    ) -> MessageDoc | None:
        """A staff reply on a ticket, mailed to the customer (transactional: no consent needed,
        not counted), once per reply: its id derives from the ticket message's id. The subject
        carries the ticket's reference, so the customer's answer joins the same ticket."""
        if not ticket["email"] or ticket.get("erased"):
            return None
        subject = f"Re: {ticket['subject']} [{ticket['_id']}]"
        shop = self.settings.shop_name
        text = f"{body}\n\n-- \n{author}, {shop}\nReply to this e-mail to answer (keep [{ticket['_id']}] in the subject)."
        safe = html.escape(body).replace("\n", "<br>")
        page = (
            f"<p>{safe}</p><p>-- <br>{html.escape(author)}, {html.escape(shop)}</p>"
            f'<p style="color:#666">Reply to this e-mail to answer.</p>'
        )
        now = now_ms()
        key = f"ticket-reply:{message_id_}"
        doc: MessageDoc = {
            "_id": message_id(key),
            "key": key,
            # Only a customer this service knows: the sender skips mail to an unknown (erased) id.
            "customer_id": contact["_id"] if contact else None,
            "email": ticket["email"],
            "kind": "transactional",
            "template_id": "ticket_reply",
            "campaign_id": None,
            "subject": subject,
            "html": page,
            "text": text,
            "unsubscribe_url": None,
            "status": "queued",
            "reason": None,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
            "sent_at": None,
            "reply_to": self.settings.support_reply_to,
        }
        return await self.queue_one(doc)

    async def template(self, template_id: str) -> TemplateDoc:
        doc = await self.store.template(template_id)
        if doc is None:
            raise NotFound("Template", template_id)
        return doc

    async def send_to_customer(self, customer_id: str, template_id: str, key: str | None) -> MessageDoc:
        """A mail from a customer's profile. With a key (Idempotency-Key), the same key
        queues one mail only and returns it again."""
        contact = await self.store.contact(customer_id)
        if contact is None or contact["email"] is None:
            raise NotFound("Customer", customer_id)
        template = await self.template(template_id)
        cause = f"api:{customer_id}:{key or uuid.uuid4().hex}"
        doc = self.compose(cause, template, Recipient(contact["email"], customer_id, contact))
        return await self.queue_one(doc)

    async def queue_one(self, doc: MessageDoc) -> MessageDoc:
        if await self.store.queue([doc]):
            stored = await self.store.message(doc["_id"])
            return stored or doc
        return doc

    async def get(self, msg_id: str) -> MessageDoc:
        doc = await self.store.message(msg_id)
        if doc is None:
            raise NotFound("Message", msg_id)
        return doc

    async def of_customer(self, customer_id: str, limit: int) -> list[MessageDoc]:
        return await self.store.messages_of(customer_id, limit)
