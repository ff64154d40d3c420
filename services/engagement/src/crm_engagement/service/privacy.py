"""Personal data (GDPR, docs/contract.md): the export of what this service holds about a
customer (personal_data.requested -> personal_data.collected), and the erasure on
customer.deleted (-> personal_data.erased). Each answer is one inserted record carrying its
event (the outbox), with an event id derived from its cause."""

from collections.abc import Callable
from typing import Any

from crm_contracts.envelope import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import PersonalDataCollected, PersonalDataErased
from crm_engagement.domain import consented
from crm_engagement.domain import privacy as rules
from crm_engagement.domain import reviews as review_rules
from crm_engagement.domain import tickets as ticket_rules
from crm_engagement.domain.reviews import ReviewDoc
from crm_engagement.domain.tickets import TicketDoc, TicketMessage
from crm_engagement.service.surveys import Surveys
from crm_engagement.settings import EngagementSettings
from crm_engagement.store import EngagementStore
from crm_servicekit.clock import now_ms
from crm_servicekit.outbox import pending
from crm_servicekit.versioned import retry_on_conflict

THREAD_LIMIT = 10_000
ERASED_MESSAGE: dict[str, Any] = {"email": "", "subject": "", "html": "", "text": "", "unsubscribe_url": None}


class Privacy:
    def __init__(
        self,
        store: EngagementStore,
        settings: EngagementSettings,
        notify: Callable[[], None],
        surveys: Surveys,
    ) -> None:
        self.store = store
        self.settings = settings
        self._notify = notify
        self.surveys = surveys

    async def collect(self, request_event_id: str, request_id: str, customer_id: str) -> None:
        """Answers an export request with everything held about the customer (read-only). An
        unknown or erased customer gets the kinds with empty lists: the export completes."""
        record_id = f"collected:{request_event_id}"
        if await self.store.personal_data_record(record_id) is not None:
            return  # a redelivered request: answered already
        # The event must fit what consumers accept (CRM_MAX_MESSAGE_BYTES), envelope included.
        data = rules.fit(await self.gather(customer_id), self.settings.max_message_bytes - 20_000)
        at = now_ms()
        event = new_event(
            EventType.PERSONAL_DATA_COLLECTED,
            self.settings.source,
            PersonalDataCollected(
                request_id=request_id,
                customer_id=customer_id,
                service=rules.SERVICE,
                data=data,
                collected_at=at,
            ),
            subject=customer_id,
            id=rules.collected_event_id(request_id),
        )
        doc = {"_id": record_id, "kind": "collected", "recorded_at": at, **pending([event])}
        if await self.store.record_personal_data(doc):
            self._notify()

    async def gather(self, customer_id: str) -> dict[str, Any]:
        contact = await self.store.contact_record(customer_id)
        if contact is None or contact["deleted"]:
            return rules.empty_export()
        key = contact["email_key"]
        statements = await self.store.statements(key) if key else []
        tickets: list[tuple[TicketDoc, list[TicketMessage]]] = []
        for ticket_id in await self.store.ticket_ids_of(customer_id, key):
            ticket = await self.store.ticket(ticket_id)
            if ticket is not None:
                tickets.append((ticket, await self.store.thread(ticket_id, THREAD_LIMIT)))
        reviews: list[ReviewDoc] = []
        for review_id in await self.store.review_ids_of(customer_id, key):
            review = await self.store.review(review_id)
            if review is not None:
                reviews.append(review)
        answers = await self.surveys.answers_of(customer_id)
        return rules.export(
            contact,
            statements,
            await self.store.preference_changes(customer_id),
            consented(statements),
            await self.store.all_messages_of(customer_id),
            tickets,
            reviews,
            answers,
        )

    async def erase(self, customer_id: str) -> None:
        """Erases or anonymises everything held about the customer, then confirms it once with
        personal_data.erased. Every step runs again on a redelivered customer.deleted (or one
        after a crash half-way) and changes nothing done already; the confirmation is inserted
        once (the first one stands). The contact, whose e-mail finds the rest, goes last."""
        record_id = f"erased:{customer_id}"
        contact = await self.store.contact_record(customer_id)
        key = contact["email_key"] if contact and not contact["deleted"] else None
        counts: dict[str, int] = {}
        counts["messages"] = await self.store.erase_messages(customer_id, ERASED_MESSAGE)
        tickets = thread = 0
        for ticket_id in await self.store.ticket_ids_of(customer_id, key):
            await self._erase_ticket(ticket_id, customer_id)
            tickets += 1
            thread += await self.store.erase_thread(ticket_id, ticket_rules.ERASED)
        counts["tickets"], counts["ticket_messages"] = tickets, thread
        reviews = 0
        for review_id in await self.store.review_ids_of(customer_id, key):
            await self._erase_review(review_id, customer_id)
            reviews += 1
        counts["reviews"] = reviews
        counts["consent_statements"] = await self.store.erase_statements(key) if key else 0
        counts.update(await self.surveys.erase(customer_id))
        counts["preference_changes"] = await self.store.erase_preferences(customer_id)
        counts["review_requests"] = await self.store.erase_review_requests(customer_id)
        counts["contact"] = 1 if contact is not None and not contact["deleted"] else 0
        await self.store.erase_contact(customer_id)
        at = now_ms()
        event = new_event(
            EventType.PERSONAL_DATA_ERASED,
            self.settings.source,
            PersonalDataErased(customer_id=customer_id, service=rules.SERVICE, erased=counts, at=at),
            subject=customer_id,
            id=rules.erased_event_id(customer_id),
        )
        doc = {"_id": record_id, "kind": "erased", "recorded_at": at, **pending([event])}
        if await self.store.record_personal_data(doc):
            self._notify()

    async def _erase_ticket(self, ticket_id: str, customer_id: str) -> None:
        async def attempt() -> None:
            current = await self.store.ticket(ticket_id)
            if current is None or current.get("erased"):
                return
            new = ticket_rules.anonymised(current, now_ms())
            if new["customer_id"] is None:
                new["customer_id"] = customer_id  # opened by e-mail: counted as this customer's
            data = ticket_rules.state_data(new)
            event = new_event(EventType.TICKET_UPDATED, self.settings.source, data, subject=ticket_id)
            await self.store.commit_ticket(new, [event])

        await retry_on_conflict(attempt)

    async def _erase_review(self, review_id: str, customer_id: str) -> None:
        async def attempt() -> None:
            current = await self.store.review(review_id)
            if current is None or current.get("erased"):
                return
            new = review_rules.anonymised(current, customer_id, now_ms())
            events = []
            if current["status"] == "published":
                data = review_rules.withdrawn_data(new)
                events.append(
                    new_event(EventType.REVIEW_WITHDRAWN, self.settings.source, data, subject=review_id)
                )
            await self.store.commit_review(new, events)

        await retry_on_conflict(attempt)
