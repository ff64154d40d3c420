"""The sender: delivers queued messages over SMTP, at most once each.

For each attempt at a message the sender first inserts the claim `<message>:<attempt>` (a
unique key): of two replicas, one sends and the other moves on. Only the holder of a message's
current claim changes the message. A claim that is old and unfinished means its holder
crashed somewhere between the claim and recording the result; the mail may have gone out, so
it is marked failed and never retried: nobody gets a mail twice. Marketing mail is checked at
send time against the newest consent and the frequency limit."""

import asyncio
import logging
from datetime import timedelta
from typing import Any

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import MessageOutcome
from crm_contracts.types import email_key
from crm_engagement.domain import FrequencySlot, MessageDoc, consented, retry_delay, slot_allowed
from crm_engagement.domain.preferences import current as current_preferences
from crm_engagement.mailer import Mailer
from crm_engagement.settings import EngagementSettings
from crm_engagement.store import EngagementStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import Busy

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted while sending (a crash); not retried, so that it is never sent twice"


class Sender:
    def __init__(self, store: EngagementStore, settings: EngagementSettings, mailer: Mailer) -> None:
        self.store = store
        self.settings = settings
        self.mailer = mailer

    async def run_once(self) -> int:
        """Delivers what is due; returns how many messages it looked at."""
        seen = 0
        sem = asyncio.Semaphore(self.settings.send_concurrency)

        async def one(doc: MessageDoc) -> None:
            async with sem:
                try:
                    await self.deliver(doc)
                except Exception:  # noqa: BLE001 - the next pass retries (the claim says how)
                    log.exception("delivering %s failed", doc["_id"])
                if self.settings.send_pause_seconds:
                    await asyncio.sleep(self.settings.send_pause_seconds)

        for _ in range(20):
            due = await self.store.due_messages(now_ms(), self.settings.send_batch)
            if not due:
                break
            await asyncio.gather(*(one(d) for d in due))
            seen += len(due)
            if len(due) < self.settings.send_batch:
                break
        return seen

    async def deliver(self, doc: MessageDoc) -> None:
        attempt = doc["attempts"]
        claim_id = f"{doc['_id']}:{attempt}"
        now = now_ms()
        if not await self.store.claim({"_id": claim_id, "message_id": doc["_id"], "at": now}):
            claim = await self.store.get_claim(claim_id)
            timeout = timedelta(seconds=self.settings.claim_timeout_seconds)
            if claim is not None and claim["at"] < now - timeout:
                fresh = await self.store.message(doc["_id"])
                if fresh and fresh["status"] == "queued" and fresh["attempts"] == attempt:
                    await self._finish(doc, "failed", INTERRUPTED, attempt + 1)
            return
        if doc["customer_id"] is not None and await self.store.contact(doc["customer_id"]) is None:
            await self._finish(doc, "skipped", "the customer was erased", attempt)
            return
        if doc["kind"] == "marketing":
            assert doc["customer_id"] is not None
            topic = doc.get("topic") or "newsletter"
            if topic == "newsletter":
                if not consented(await self.store.statements(email_key(doc["email"]))):
                    await self._finish(doc, "skipped", "no marketing consent at send time", attempt)
                    return
            else:
                prefs = current_preferences(await self.store.preference_changes(doc["customer_id"]))
                if not prefs[(topic, "email")]["granted"]:
                    await self._finish(
                        doc, "skipped", f"no consent for {topic} by e-mail at send time", attempt
                    )
                    return
            if not await self.take_slot(doc["customer_id"], doc["_id"]):
                await self._finish(doc, "skipped", "frequency limit reached", attempt)
                return
        outcome = await self.mailer.send(doc)
        tries = attempt + 1
        if outcome.result == "sent":
            await self._finish(doc, "sent", None, tries, sent=True)
        elif outcome.result == "retry" and tries < self.settings.max_attempts:
            later = now_ms() + retry_delay(tries, self.settings.retry_base_seconds)
            await self.store.update_message(
                doc["_id"],
                {
                    "attempts": tries,
                    "reason": outcome.reason,
                    "next_attempt_at": later,
                    "updated_at": now_ms(),
                },
            )
        elif outcome.result == "retry":
            await self._finish(doc, "failed", f"gave up after {tries} tries: {outcome.reason}", tries)
        else:
            await self._finish(doc, outcome.result, outcome.reason, tries)

    async def _finish(
        self, doc: MessageDoc, status: str, reason: str | None, tries: int, sent: bool = False
    ) -> None:
        now = now_ms()
        if status in ("sent", "failed"):
            # Announced before the record changes: a crash in between announces it again under
            # the same key, so the first outcome is the only one announced.
            outcome = MessageOutcome(
                message_id=doc["_id"],
                customer_id=doc["customer_id"],
                kind=doc["kind"],
                template_id=doc["template_id"],
                campaign_id=doc["campaign_id"],
                status="sent" if status == "sent" else "failed",
                reason=reason,
                attempts=max(tries, 1),
                at=now,
            )
            kind = EventType.MESSAGE_SENT if status == "sent" else EventType.MESSAGE_FAILED
            subject = doc["customer_id"] or doc["_id"]
            event = new_event(
                kind, self.settings.source, outcome, subject=subject, id=f"{doc['_id']}:outcome"
            )
            await self.store.announce(f"message:{doc['_id']}", event)
        changes: dict[str, Any] = {"status": status, "reason": reason, "attempts": tries, "updated_at": now}
        if sent:
            changes["sent_at"] = now
        await self.store.update_message(doc["_id"], changes)

    async def take_slot(self, customer_id: str, msg_id: str) -> bool:
        """Counts one marketing mail against the customer's limit, if it fits in the rolling
        window. The slot sequence is unique per customer: two concurrent takers of the same
        sequence number cannot both win, the loser looks again."""
        if await self.store.slot_of_message(msg_id) is not None:
            return True  # a retry of a mail already counted
        limit = self.settings.marketing_limit
        window = timedelta(hours=self.settings.marketing_window_hours)
        for _ in range(20):
            now = now_ms()
            last = await self.store.last_slot(customer_id)
            seq = last["seq"] + 1 if last else 1
            nth = await self.store.slot(customer_id, seq - limit) if seq > limit else None
            if not slot_allowed(nth, now, window):
                return False
            slot: FrequencySlot = {
                "_id": f"{customer_id}:{seq}",
                "customer_id": customer_id,
                "seq": seq,
                # Never earlier than the slot before: times rise along the sequence.
                "at": max(now, last["at"]) if last else now,
                "message_id": msg_id,
            }
            if await self.store.take_slot(slot):
                return True
        raise Busy("too many concurrent marketing mails to one customer")
