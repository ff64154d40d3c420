"""customer.merged (staff merged the record `merged_id` into `id`): what this service holds of
the merged customer becomes the kept one's, and the merged contact is dropped.

Every step finds what is still left to move and moves it, so a redelivered event (or one
handled twice at once, or after a crash half-way) changes nothing already done and publishes
nothing twice: a ticket is moved by a versioned commit (a unique (id, version)), and one
already the kept customer's is not touched again. The merged contact, whose e-mail finds its
tickets and reviews opened before its id was known, goes last."""

import logging

from crm_contracts.envelope import new_event
from crm_contracts.names import EventType
from crm_engagement.domain import reviews as review_rules
from crm_engagement.domain import tickets as ticket_rules
from crm_engagement.settings import EngagementSettings
from crm_engagement.store import EngagementStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import Invalid
from crm_servicekit.versioned import retry_on_conflict

log = logging.getLogger(__name__)

MERGED = "the customer was merged into another"


class Merges:
    def __init__(self, store: EngagementStore, settings: EngagementSettings) -> None:
        self.store = store
        self.settings = settings

    async def customer_merged(self, kept_id: str, merged_id: str) -> dict[str, int]:
        """Moves the merged customer's tickets (each with ticket.updated, one version up),
        review authorship, mails, survey answers, preference change sets and waiting review
        requests to the kept customer; queued marketing mail to the merged one is skipped and
        its contact dropped (no more marketing mail to it). Consent statements stay with their
        e-mail address. Returns the counts moved now. Raises Invalid (the same id twice)."""
        if kept_id == merged_id:
            raise Invalid("customer.merged with the same id kept and merged")
        store = self.store
        contact = await store.contact_record(merged_id)
        key = contact["email_key"] if contact is not None and not contact["deleted"] else None
        await store.skip_queued_marketing(merged_id, MERGED)
        moved = await store.move_customer_records(merged_id, kept_id)
        moved["tickets"] = 0
        for ticket_id in await store.ticket_ids_of(merged_id, key):
            moved["tickets"] += await self._move_ticket(ticket_id, merged_id, key, kept_id)
        moved["reviews"] = 0
        for review_id in await store.review_ids_of(merged_id, key):
            moved["reviews"] += await self._move_review(review_id, merged_id, key, kept_id)
        await store.erase_contact(merged_id)  # last: its e-mail found the tickets and reviews
        log.info("customer %s merged into %s: moved %s", merged_id, kept_id, moved)
        return moved

    async def _move_ticket(self, ticket_id: str, merged_id: str, key: str | None, kept_id: str) -> int:
        moved = 0

        async def attempt() -> None:
            nonlocal moved
            current = await self.store.ticket(ticket_id)
            if current is None or not ticket_rules.belongs_to(current, merged_id, key):
                return  # moved already (a redelivery), or another customer's
            new = ticket_rules.reattributed(current, kept_id, now_ms())
            data = ticket_rules.state_data(new)
            event = new_event(EventType.TICKET_UPDATED, self.settings.source, data, subject=ticket_id)
            await self.store.commit_ticket(new, [event])
            moved = 1

        await retry_on_conflict(attempt)
        return moved

    async def _move_review(self, review_id: str, merged_id: str, key: str | None, kept_id: str) -> int:
        moved = 0

        async def attempt() -> None:
            nonlocal moved
            current = await self.store.review(review_id)
            if current is None or not review_rules.belongs_to(current, merged_id, key):
                return
            await self.store.commit_review(review_rules.reattributed(current, kept_id, now_ms()), [])
            moved = 1

        await retry_on_conflict(attempt)
        return moved
