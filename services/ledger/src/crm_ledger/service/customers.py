"""What order and customer events do: which customer an order's money and points belong to
(the directory, learnt from customer events), booking its store credit and points, erasure.

Orders name `customer.customer_id` only when the shopper is logged in; otherwise the customer
is found by e-mail from `customer.created/updated/registered` (customers service). An order
whose customer is not known yet leaves its reward points parked under the e-mail until that
customer's event arrives (the customers service creates guests from the same order, so its
event often comes second). Every effect is keyed by the event id (record ids, reward causes),
so a redelivered event, or the same event replayed after the inbox was lost, moves no money
twice."""

import asyncio
from typing import Protocol

from crm_contracts.inbound import OrderPlaced, OrderRefunded
from crm_contracts.outbound import CustomerState
from crm_contracts.types import email_key
from crm_ledger.service.accounts import Ledger
from crm_ledger.service.rewards import Rewards
from crm_ledger.store import Directory, Journal
from crm_servicekit.errors import Invalid


class StoredResponses(Protocol):
    """The HTTP responses kept for Idempotency-Keys (crm_servicekit.idempotency)."""

    async def forget(self, subject: str) -> None: ...


class Customers:
    def __init__(
        self,
        ledger: Ledger,
        rewards: Rewards,
        directory: Directory,
        journal: Journal,
        responses: StoredResponses,
        unknown_customer_grace: float = 3.0,
    ) -> None:
        self.ledger = ledger
        self.rewards = rewards
        self.directory = directory
        self.journal = journal
        self.responses = responses
        self.unknown_customer_grace = unknown_customer_grace

    async def _customer_id(self, customer_id: str | None, email: str) -> str | None:
        return customer_id or await self.directory.customer_of(email)

    async def _required_customer_id(self, customer_id: str | None, email: str, what: str) -> str:
        """The customer an order's money belongs to. Events are handled concurrently, so the
        customer.created that makes an e-mail known may be in flight beside this event: wait
        for it a little before giving up (dead-letter, docs/contract.md §1)."""
        deadline = asyncio.get_running_loop().time() + self.unknown_customer_grace
        while True:
            found = await self._customer_id(customer_id, email)
            if found is not None:
                return found
            if asyncio.get_running_loop().time() >= deadline:
                raise Invalid(
                    f"unknown customer where one is required: {what} names no customer_id and its "
                    "e-mail belongs to no customer the ledger knows"
                )
            await asyncio.sleep(0.25)

    async def record_order(self, event_id: str, order: OrderPlaced) -> None:
        """Pays the store credit it uses and grants its points (parked while its customer is
        unknown). Raises Invalid when it spends credit for a customer never known."""
        customer_id = await self._customer_id(order.customer.customer_id, order.customer.email)
        if order.store_credit_used > 0:
            # Store credit belongs to a known customer; an order that spends some for an e-mail
            # the ledger has never seen can never be booked.
            customer_id = await self._required_customer_id(
                order.customer.customer_id,
                order.customer.email,
                f"order {order.order_id} uses store credit but",
            )
            await self.ledger.pay_order(customer_id, event_id, order)

        points = self.rewards.program.points_for(order.total, order.currency)
        if points <= 0:
            return
        if customer_id is None:
            # The customers service creates this guest from the same order; its customer.created
            # may come after this event. Park the points under the e-mail until then.
            await self.directory.park(
                {
                    "_id": event_id,
                    "email_key": email_key(order.customer.email),
                    "order_id": order.order_id,
                    "points": points,
                }
            )
            customer_id = await self.directory.customer_of(order.customer.email)  # arrived meanwhile?
            if customer_id is None:
                return
            await self.rewards.earn(customer_id, points, event_id, order.order_id)
            await self.directory.unpark(event_id)
            return
        await self.rewards.earn(customer_id, points, event_id, order.order_id)

    async def record_refund(self, event_id: str, refund: OrderRefunded) -> None:
        """A refund to store credit becomes a `refund` entry. Raises Invalid for a customer
        never known."""
        if not refund.to_store_credit:
            return
        customer_id = await self._required_customer_id(
            refund.customer.customer_id,
            refund.customer.email,
            f"refund of order {refund.order_id} to store credit",
        )
        await self.ledger.refund_to_credit(customer_id, event_id, refund)

    async def learn(self, customer: CustomerState) -> None:
        """The customer's e-mail, and the points parked under it."""
        if await self.directory.customer_of(customer.email) == customer.id:
            # Known already (most customer events are statistics changing): nothing to record,
            # and no points can be parked for an e-mail the ledger already knew.
            return
        await self.directory.learn(customer.email, customer.id, customer.version)
        for parked in await self.directory.parked_for(customer.email):
            await self.rewards.earn(customer.id, parked["points"], parked["_id"], parked.get("order_id"))
            await self.directory.unpark(parked["_id"])

    async def erase(self, customer_id: str) -> None:
        """Entries are financial records and stay; reasons, operator names, e-mails and stored
        HTTP responses (which repeat them) go."""
        await self.journal.anonymise(customer_id)
        await self.directory.forget(customer_id)
        await self.responses.forget(customer_id)
