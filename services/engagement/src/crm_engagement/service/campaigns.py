"""Campaigns: one template to a segment or a selection of customers, now or at a set time.
Launching queues one message per recipient, keyed by (campaign, customer), so a launch
repeated after a crash or by two replicas queues each mail once."""

import uuid
from datetime import datetime
from typing import Any

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import CampaignCompleted
from crm_engagement.domain import CampaignDoc, MessageStatus
from crm_engagement.service.messages import Messages, Recipient
from crm_engagement.store import EngagementStore
from crm_servicekit.clock import now_ms, to_ms
from crm_servicekit.errors import Invalid, NotFound


class Campaigns:
    def __init__(self, store: EngagementStore, messages: Messages, max_selection: int, source: str) -> None:
        self.source = source
        self.store = store
        self.messages = messages
        self.max_selection = max_selection

    async def create(
        self,
        name: str,
        template_id: str,
        segment_id: str | None,
        customer_ids: list[str] | None,
        scheduled_at: datetime | None,
    ) -> CampaignDoc:
        if (segment_id is None) == (customer_ids is None):
            raise Invalid(
                "name either a segment_id or customer_ids",
                errors=[{"field": "segment_id", "message": "exactly one of segment_id, customer_ids"}],
            )
        if customer_ids is not None and len(customer_ids) > self.max_selection:
            raise Invalid(
                f"at most {self.max_selection} customers",
                errors=[{"field": "customer_ids", "message": "too many"}],
            )
        template = await self.messages.template(template_id)
        if template["kind"] != "marketing":
            raise Invalid(
                "campaigns send marketing templates",
                errors=[{"field": "template_id", "message": "not a marketing template"}],
            )
        now = now_ms()
        doc: CampaignDoc = {
            "_id": "cmp_" + uuid.uuid4().hex[:16],
            "name": name,
            "template_id": template_id,
            "segment_id": segment_id,
            "customer_ids": list(dict.fromkeys(customer_ids)) if customer_ids is not None else None,
            "scheduled_at": to_ms(scheduled_at) if scheduled_at else now,
            "status": "scheduled",
            "created_at": now,
        }
        await self.store.add_campaign(doc)
        return doc

    async def get(self, campaign_id: str) -> CampaignDoc:
        doc = await self.store.campaign(campaign_id)
        if doc is None:
            raise NotFound("Campaign", campaign_id)
        return doc

    async def list(self, after: str | None, limit: int) -> list[CampaignDoc]:
        return await self.store.list_campaigns(after, limit + 1)

    async def audience(self, doc: CampaignDoc) -> int:
        """How many customers the campaign would reach now (before consent and limits)."""
        if doc["segment_id"] is not None:
            return len(await self.store.segment_member_ids(doc["segment_id"]))
        return len(doc["customer_ids"] or [])

    async def segment_audience(self, segment_id: str) -> int:
        return len(await self.store.segment_member_ids(segment_id))

    async def progress(self, doc: CampaignDoc) -> dict[MessageStatus, int]:
        return await self.store.campaign_counts(doc["_id"])

    async def tick(self) -> None:
        """Launches the campaigns that are due and completes those whose mails are all done."""
        now = now_ms()
        for doc in await self.store.campaigns_in("scheduled"):
            if doc["scheduled_at"] <= now:
                await self.launch(doc)
        for doc in await self.store.campaigns_in("sending"):
            counts = await self.store.campaign_counts(doc["_id"])
            if not counts.get("queued"):
                done = now_ms()
                completed = CampaignCompleted(
                    campaign_id=doc["_id"],
                    name=doc["name"],
                    segment_id=doc["segment_id"],
                    recipients=doc.get("recipients", 0),
                    counts={str(k): v for k, v in counts.items() if v},
                    launched_at=doc.get("launched_at"),
                    completed_at=done,
                )
                event = new_event(
                    EventType.CAMPAIGN_COMPLETED,
                    self.source,
                    completed,
                    subject=doc["_id"],
                    id=f"{doc['_id']}:completed",
                )
                # Announced first: a crash before the update announces nothing twice (one key).
                await self.store.announce(f"campaign:{doc['_id']}:completed", event)
                await self.store.update_campaign(doc["_id"], {"status": "completed", "completed_at": done})

    async def launch(self, doc: CampaignDoc) -> None:
        template = await self.messages.template(doc["template_id"])
        if doc["segment_id"] is not None:
            ids = await self.store.segment_member_ids(doc["segment_id"])
        else:
            ids = list(doc["customer_ids"] or [])
        contacts = await self.store.contacts_by_id(ids)
        messages = []
        for customer_id in ids:
            contact = contacts.get(customer_id)
            if contact is None or contact["email"] is None:
                continue
            to = Recipient(contact["email"], customer_id, contact)
            messages.append(
                self.messages.compose(
                    f"campaign:{doc['_id']}:{customer_id}", template, to, campaign_id=doc["_id"]
                )
            )
        await self.store.queue(messages)
        changes: dict[str, Any] = {
            "status": "sending",
            "launched_at": now_ms(),
            "recipients": len(messages),
            "not_found": len(ids) - len(messages),
        }
        await self.store.update_campaign(doc["_id"], changes)
