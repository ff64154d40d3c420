"""Automations: a welcome mail on a new account, a thank-you mail after an order. Each is
switchable and sends once per cause (the message's id derives from the cause)."""

from typing import Any

from crm_contracts.types import email_key
from crm_engagement.domain import AUTOMATIONS, AutomationDoc, ContactDoc, parts_of, uses_order
from crm_engagement.service.messages import Messages, Recipient
from crm_engagement.store import EngagementStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import Invalid, NotFound


class Automations:
    def __init__(self, store: EngagementStore, messages: Messages) -> None:
        self.store = store
        self.messages = messages

    async def seed(self) -> None:
        for name, template_id in AUTOMATIONS.items():
            doc: AutomationDoc = {
                "_id": name,
                "enabled": True,
                "template_id": template_id,
                "updated_at": now_ms(),
            }
            await self.store.add_automation(doc)

    async def list(self) -> list[AutomationDoc]:
        return await self.store.list_automations()

    async def set(self, name: str, enabled: bool, template_id: str | None) -> AutomationDoc:
        current = await self.store.automation(name)
        if current is None:
            raise NotFound("Automation", name)
        if template_id is not None:
            template = await self.messages.template(template_id)  # 404 for an unknown template
            if name == "welcome" and uses_order(parts_of(template)):
                raise Invalid(
                    "the welcome mail is not about an order: its template may not use `order`",
                    errors=[{"field": "template_id", "message": "uses order"}],
                )
        doc: AutomationDoc = {
            "_id": name,
            "enabled": enabled,
            "template_id": template_id or current["template_id"],
            "updated_at": now_ms(),
        }
        await self.store.replace_automation(doc)
        return doc

    async def _enabled(self, name: str) -> AutomationDoc | None:
        doc = await self.store.automation(name)
        return doc if doc is not None and doc["enabled"] else None

    async def welcome(self, contact: ContactDoc) -> None:
        """Once per customer, whether it comes from customer.created or customer.registered."""
        auto = await self._enabled("welcome")
        if auto is None or contact["email"] is None:
            return
        template = await self.store.template(auto["template_id"])
        if template is None:
            return
        to = Recipient(contact["email"], contact["_id"], contact)
        await self.messages.queue_one(self.messages.compose(f"welcome:{contact['_id']}", template, to))

    async def thank_you(
        self,
        source: str,
        order_id: str,
        email: str,
        customer_id: str | None,
        names: tuple[str | None, str | None],
        order: dict[str, Any],
    ) -> None:
        """Once per order (the order id is unique per source)."""
        auto = await self._enabled("thank_you")
        if auto is None:
            return
        template = await self.store.template(auto["template_id"])
        if template is None:
            return
        contact = await self.store.contact(customer_id) if customer_id else None
        contact = contact or await self.store.contact_by_email(email_key(email))
        to = Recipient(email, contact["_id"] if contact else None, contact, names[0], names[1])
        await self.messages.queue_one(
            self.messages.compose(f"thank-you:{source}:{order_id}", template, to, order=order)
        )
