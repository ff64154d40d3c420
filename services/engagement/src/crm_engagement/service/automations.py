"""Automations: a welcome mail on a new account, a thank-you mail after an order, a review
request some days after an order, a re-engagement mail when a customer joins a chosen
segment. Each is switchable and sends once per cause (the message's id derives from the
cause)."""

from datetime import datetime, timedelta
from typing import Any

from crm_contracts.types import email_key
from crm_engagement.domain import (
    AUTOMATIONS,
    OFF_AT_FIRST,
    AutomationDoc,
    ContactDoc,
    ReviewRequest,
    parts_of,
    uses_order,
)
from crm_engagement.service.messages import Messages, Recipient
from crm_engagement.settings import EngagementSettings
from crm_engagement.store import EngagementStore
from crm_servicekit.clock import now_ms, to_ms
from crm_servicekit.errors import Invalid, NotFound

NOT_ABOUT_AN_ORDER = ("welcome", "re_engagement")


class Automations:
    def __init__(self, store: EngagementStore, messages: Messages, settings: EngagementSettings) -> None:
        self.store = store
        self.messages = messages
        self.settings = settings

    async def seed(self) -> None:
        for name, template_id in AUTOMATIONS.items():
            doc: AutomationDoc = {
                "_id": name,
                "enabled": name not in OFF_AT_FIRST,
                "template_id": template_id,
                "updated_at": now_ms(),
            }
            if name == "review_request":
                doc["delay_days"] = self.settings.review_request_days
            if name == "re_engagement":
                doc["segment_id"] = None
            await self.store.add_automation(doc)

    async def list(self) -> list[AutomationDoc]:
        return await self.store.list_automations()

    async def set(
        self,
        name: str,
        enabled: bool,
        template_id: str | None,
        delay_days: float | None = None,
        segment_id: str | None = None,
    ) -> AutomationDoc:
        current = await self.store.automation(name)
        if current is None:
            raise NotFound("Automation", name)
        if template_id is not None:
            template = await self.messages.template(template_id)  # 404 for an unknown template
            if name in NOT_ABOUT_AN_ORDER and uses_order(parts_of(template)):
                raise Invalid(
                    f"the {name} mail is not about an order: its template may not use `order`",
                    errors=[{"field": "template_id", "message": "uses order"}],
                )
        if delay_days is not None and name != "review_request":
            raise Invalid(
                "only review_request has a delay", errors=[{"field": "delay_days", "message": "not here"}]
            )
        if segment_id is not None and name != "re_engagement":
            raise Invalid(
                "only re_engagement has a segment", errors=[{"field": "segment_id", "message": "not here"}]
            )
        doc: AutomationDoc = {
            **current,
            "enabled": enabled,
            "template_id": template_id or current["template_id"],
            "updated_at": now_ms(),
        }
        if delay_days is not None:
            doc["delay_days"] = delay_days
        if segment_id is not None:
            doc["segment_id"] = segment_id
        if name == "re_engagement" and enabled and not doc.get("segment_id"):
            raise Invalid(
                "choose the segment whose new members get the mail",
                errors=[{"field": "segment_id", "message": "required to switch re_engagement on"}],
            )
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

    async def plan_review_request(
        self,
        source: str,
        order_id: str,
        email: str,
        customer_id: str | None,
        names: tuple[str | None, str | None],
        order: dict[str, Any],
        placed_at: datetime,
    ) -> None:
        """order.placed, when review requests are on: the request waits `delay_days` after the
        order was placed; one per order, however often the order is delivered."""
        auto = await self._enabled("review_request")
        if auto is None:
            return
        delay = timedelta(days=auto.get("delay_days", self.settings.review_request_days))
        contact = await self.store.contact(customer_id) if customer_id else None
        contact = contact or await self.store.contact_by_email(email_key(email))
        doc: ReviewRequest = {
            "_id": f"{source}:{order_id}",
            "email": email,
            "customer_id": contact["_id"] if contact else None,
            "first_name": names[0],
            "last_name": names[1],
            "order": order,
            "due_at": to_ms(placed_at) + delay,
            "status": "waiting",
        }
        await self.store.add_review_request(doc)

    async def send_due_review_requests(self) -> int:
        """The periodic job: queues the mail of each request that is due (message
        `review-request:<source>:<order>`: once, even if two replicas run the job at once), or
        skips it while the automation is off. Returns how many it looked at."""
        due = await self.store.due_review_requests(now_ms(), 200)
        if not due:
            return 0
        auto = await self._enabled("review_request")
        template = await self.store.template(auto["template_id"]) if auto else None
        for request in due:
            if template is None:
                await self.store.close_review_request(request["_id"], "skipped")
                continue
            cid = request["customer_id"]
            contact = await self.store.contact(cid) if cid else None
            if cid is not None and contact is None:  # erased since
                await self.store.close_review_request(request["_id"], "skipped")
                continue
            to = Recipient(request["email"], cid, contact, request["first_name"], request["last_name"])
            doc = self.messages.compose(
                f"review-request:{request['_id']}", template, to, order=request["order"]
            )
            await self.messages.queue_one(doc)
            await self.store.close_review_request(request["_id"], "queued")
        return len(due)

    async def re_engagement(self, join_event_id: str, segment_id: str, customer_id: str) -> None:
        """segment.member.joined of the chosen segment: once per join (the message derives
        from the join event's id: a redelivery queues nothing more; joining again later is a
        new join). A customer this service does not know yet gets nothing."""
        auto = await self._enabled("re_engagement")
        if auto is None or auto.get("segment_id") != segment_id:
            return
        contact = await self.store.contact(customer_id)
        template = await self.store.template(auto["template_id"])
        if contact is None or contact["email"] is None or template is None:
            return
        to = Recipient(contact["email"], customer_id, contact)
        await self.messages.queue_one(self.messages.compose(f"re-engagement:{join_event_id}", template, to))
