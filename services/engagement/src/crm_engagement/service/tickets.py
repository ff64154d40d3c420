"""Support tickets: opened by staff or by a customer's inbound message, answered by staff,
moved through their statuses, listed (overdue ones too). Each message is an inserted document
of its own; a ticket's own changes are versioned inserts retried on conflict, so concurrent
replies and edits never overwrite each other."""

from dataclasses import dataclass
from typing import Any

from crm_contracts.envelope import new_event
from crm_contracts.names import EventType
from crm_engagement.domain import keyset
from crm_engagement.domain import tickets as rules
from crm_engagement.domain.tickets import Direction, Priority, Status, TicketChanges, TicketDoc, TicketMessage
from crm_engagement.service.messages import Messages
from crm_engagement.service.people import Who, identify
from crm_engagement.settings import EngagementSettings
from crm_engagement.store import EngagementStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import Invalid, NotFound
from crm_servicekit.versioned import VersionConflict, retry_on_conflict

THREAD_LIMIT = 1000  # messages shown with a ticket


@dataclass(frozen=True)
class Listed:
    tickets: list[TicketDoc]  # one more than asked for when there is a next page
    answered: set[str]  # of those, the ids known to have an outbound message


class Tickets:
    def __init__(self, store: EngagementStore, settings: EngagementSettings) -> None:
        self.store = store
        self.settings = settings

    async def get(self, ticket_id: str) -> TicketDoc:
        doc = await self.store.ticket(ticket_id)
        if doc is None:
            raise NotFound("Ticket", ticket_id)
        return doc

    async def thread(self, ticket_id: str) -> list[TicketMessage]:
        return await self.store.thread(ticket_id, THREAD_LIMIT)

    async def _commit(
        self, doc: TicketDoc, *, created: bool = False, message: TicketMessage | None = None
    ) -> None:
        """Records the ticket's version with what followers hear of it: ticket.created or
        ticket.updated, and ticket.message.added for a message that came with the change (in
        the same inserted change record: the outbox)."""
        kind = EventType.TICKET_CREATED if created else EventType.TICKET_UPDATED
        src, subject = self.settings.source, doc["_id"]
        events = [new_event(kind, src, rules.state_data(doc), subject=subject)]
        if message is not None:
            data = rules.message_data(message, doc["version"])
            events.append(new_event(EventType.TICKET_MESSAGE_ADDED, src, data, subject=subject))
        await self.store.commit_ticket(doc, events)

    def _new(self, id_: str, who: Who, subject: str, channel: Any, **fields: Any) -> TicketDoc:
        return rules.new_ticket(
            id_,
            subject=subject,
            customer_id=who.customer_id,
            email=who.email,
            email_key=who.email_key,
            channel=channel,
            now=now_ms(),
            first_response_hours=self.settings.first_response_hours,
            **fields,
        )

    async def create(
        self,
        *,
        subject: str,
        body: str | None,
        customer_id: str | None,
        email: str | None,
        priority: Priority,
        assignee_id: str | None,
        order_ids: list[str],
        operator: str | None,
    ) -> TicketDoc:
        """A ticket staff open (the customer phoned, wrote elsewhere); `body`, what the
        customer asked, becomes the thread's first message, inbound, noted by the operator."""
        who = await identify(self.store, customer_id, email)
        doc = self._new(
            rules.ticket_id(),
            who,
            subject,
            "staff",
            priority=priority,
            assignee_id=assignee_id,
            order_ids=order_ids,
        )
        first = None
        if body is not None:
            # The message first: a crash after it leaves a message of no ticket (never shown),
            # not a ticket whose event announced a message that is not there.
            first = self._message(doc["_id"], "inbound", rules.CUSTOMER, body, recorded_by=operator)
            await self.store.add_ticket_message(first)
            doc["last_message_at"] = first["at"]
        await self._commit(doc, created=True, message=first)
        return doc

    async def inbound(
        self,
        *,
        customer_id: str | None,
        email: str | None,
        subject: str,
        body: str,
        ticket_id: str | None,
        external_id: str | None,
    ) -> tuple[TicketDoc, bool]:
        """A customer's message from a storefront or a mail gateway: added to the ticket it
        names (`ticket_id`, or a `[tkt_…]` reference in the subject), which opens again if it
        was pending, resolved or closed; otherwise a new ticket. True: a ticket was opened.
        The same `external_id` (the mail's Message-ID) again adds nothing."""
        who = await identify(self.store, customer_id, email)
        target = await self._target(who, ticket_id, subject)
        if target is None:
            doc = self._new(
                rules.ticket_id(external_id),
                who,
                subject,
                "inbound",
                priority="normal",
                assignee_id=None,
                order_ids=[],
            )
            created = True
            first = self._message(doc["_id"], "inbound", rules.CUSTOMER, body, external_id=external_id)
            await self.store.add_ticket_message(first)  # there already: an earlier try
            doc["last_message_at"] = first["at"]
            try:
                await self._commit(doc, created=True, message=first)
            except VersionConflict:  # opened by an earlier try of the same message
                doc, created = await self.get(doc["_id"]), False
            return doc, created
        message = self._message(target["_id"], "inbound", rules.CUSTOMER, body, external_id=external_id)
        if not await self.store.add_ticket_message(message):
            # A retry. Its first try may have stopped between the message and the ticket's
            # commit: finished here unless the ticket counts that message already.
            stored = await self.store.ticket_message(message["_id"])
            last = target.get("last_message_at")
            if stored is None or (last is not None and last >= stored["at"]):
                return target, False
            message = stored

        async def reopen() -> TicketDoc:
            current = await self.get(target["_id"])
            new = rules.after_inbound(current, message["at"], now_ms())
            if new is not current:
                await self._commit(new, message=message)
            return new

        done: TicketDoc = await retry_on_conflict(reopen)
        return done, False

    async def _target(self, who: Who, ticket_id: str | None, subject: str) -> TicketDoc | None:
        if ticket_id is not None:
            named = await self.get(ticket_id)
            if not who.is_one_of(named["customer_id"], named["email_key"]):
                raise Invalid(
                    "the ticket named is another customer's",
                    errors=[{"field": "ticket_id", "message": "not a ticket of this customer"}],
                )
            return named
        ref = rules.reference(subject)
        if ref is None:
            return None
        # A reference in a subject is only a hint: someone else's or an unknown ticket's opens
        # a new ticket rather than joining it.
        found = await self.store.ticket(ref)
        return found if found and who.is_one_of(found["customer_id"], found["email_key"]) else None

    async def reply(
        self, ticket_id: str, *, body: str, author: str | None, status: Status | None
    ) -> tuple[TicketDoc, TicketMessage]:
        """A staff answer (outbound). The first one meets the first response; `status` moves
        the ticket with it. Checked before anything is stored: a closed ticket (409), a move
        not allowed (409), no author (422)."""
        if not author:
            raise Invalid(
                "name the author, or send X-CRM-Operator",
                errors=[{"field": "author", "message": "required without an X-CRM-Operator header"}],
            )
        rules.after_reply(await self.get(ticket_id), None, status, now_ms())  # only its checks
        message = self._message(ticket_id, "outbound", author, body)
        await self.store.add_ticket_message(message)

        async def attempt() -> TicketDoc:
            current = await self.get(ticket_id)
            first = await self.store.first_outbound(ticket_id)
            new = rules.after_reply(current, first["at"] if first else None, status, now_ms(), message["at"])
            if new is not current:
                await self._commit(new, message=message)
            return new

        done: TicketDoc = await retry_on_conflict(attempt)
        return done, message

    async def change(self, ticket_id: str, changes: TicketChanges) -> TicketDoc:
        await self.get(ticket_id)

        async def attempt() -> TicketDoc:
            current = await self.get(ticket_id)
            new = rules.edit(current, changes, now_ms())
            if new is not current:
                await self._commit(new)
            return new

        done: TicketDoc = await retry_on_conflict(attempt)
        return done

    async def list(
        self,
        *,
        sort: str,
        status: str | None,
        priority: str | None,
        assignee_id: str | None,
        customer_id: str | None,
        overdue: bool,
        after: list[Any] | None,
        limit: int,
    ) -> Listed:
        """A page (limit + 1 to tell whether there is more). The overdue filter works on the
        tickets' copy of the first response and drops any that has an outbound message all
        the same (a writer stopped between the message and the copy)."""
        now = now_ms()
        order = rules.SORTS[sort]
        out: list[TicketDoc] = []
        answered: set[str] = set()
        while len(out) <= limit:
            want = limit + 1 - len(out)
            q = rules.query(
                sort=sort,
                status=status,
                priority=priority,
                assignee_id=assignee_id,
                customer_id=customer_id,
                overdue_at=now if overdue else None,
                after=after,
            )
            batch = await self.store.tickets_page(q, want)
            unknown = [t["_id"] for t in batch if t["first_response_at"] is None]
            found = await self.store.answered(unknown) if unknown else set()
            answered |= found
            out += [t for t in batch if not (overdue and t["_id"] in found)]
            if len(batch) < want:
                break
            after = keyset.values(dict(batch[-1]), order)
        return Listed(out, answered)

    async def mail_reply(
        self, messages: Messages, ticket_id: str, message_id: str, author: str, body: str
    ) -> None:
        """Mails a staff reply to the ticket's customer. Called on ticket.message.added (this
        service's own event, from the reply's stored version), so a reply whose version is
        stored is mailed even if the process stops right after storing it, and once."""
        ticket = await self.store.ticket(ticket_id)
        if ticket is None:
            return
        contact = await self.store.contact(ticket["customer_id"]) if ticket["customer_id"] else None
        await messages.ticket_reply(ticket, message_id, author, body, contact)

    @staticmethod
    def _message(
        ticket_id: str,
        direction: Direction,
        author: str,
        body: str,
        external_id: str | None = None,
        recorded_by: str | None = None,
    ) -> TicketMessage:
        return {
            "_id": rules.message_id(ticket_id, external_id),
            "ticket_id": ticket_id,
            "direction": direction,
            "author": author,
            "body": body,
            "at": now_ms(),
            "recorded_by": recorded_by,
        }
