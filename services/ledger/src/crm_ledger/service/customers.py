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
import logging
from datetime import datetime
from typing import Protocol

from crm_contracts.inbound import OrderCancelled, OrderPlaced, OrderRefunded
from crm_contracts.outbound import CustomerMerged, CustomerState
from crm_contracts.types import email_key
from crm_ledger.domain import ParkedPoints, Program, RewardState, rewards
from crm_ledger.domain.kpis import LoyaltyKpis, loyalty_kpis
from crm_ledger.domain.programmes import DEFAULT_ID
from crm_ledger.service.accounts import Ledger
from crm_ledger.service.credit import Credit
from crm_ledger.service.rewards import Rewards
from crm_ledger.store import Directory, Journal
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import Invalid, NotFound, NotKnownYet

log = logging.getLogger(__name__)


def _referral_pending(state: RewardState | None) -> bool:
    """The customer arrived with a referral code whose first order was not looked at yet."""
    return bool(state and state.get("referred_by") and not state.get("referral_settled"))


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
        unknown_customer_http_wait: float | None = None,
        credit: Credit | None = None,
    ) -> None:
        self.credit = credit
        self.ledger = ledger
        self.rewards = rewards
        self.directory = directory
        self.journal = journal
        self.responses = responses
        self.unknown_customer_grace = unknown_customer_grace
        self.unknown_customer_http_wait = (
            unknown_customer_grace if unknown_customer_http_wait is None else unknown_customer_http_wait
        )
        # (customer, parked id) -> done: parked points a handler of this process is granting
        self._granting: dict[tuple[str, str], asyncio.Future[bool]] = {}

    async def require(self, customer_id: str) -> None:
        """Money moves (over HTTP) only for a customer the ledger has heard of and that was not
        erased: NotFound otherwise. A customer created a moment ago may still have its
        customer.created in flight to the ledger, so an unknown one is waited for a little
        (`unknown_customer_http_wait`, 1 s by default) before the refusal; an erased one is
        refused at once."""
        deadline = asyncio.get_running_loop().time() + self.unknown_customer_http_wait
        while True:
            if await self.directory.exists(customer_id):
                return
            if await self.directory.is_erased(customer_id):
                raise NotFound("Customer", customer_id)
            if (into := await self.directory.merged_into(customer_id)) is not None:
                # Merged into another record: refused at once, saying which one to use.
                raise NotFound("Customer", customer_id, merged_into=into)
            if asyncio.get_running_loop().time() >= deadline:
                raise NotFound("Customer", customer_id)
            await asyncio.sleep(0.25)

    async def _customer_id(self, customer_id: str | None, email: str) -> str | None:
        return customer_id or await self.directory.customer_of(email)

    async def _required_customer_id(
        self, customer_id: str | None, email: str, what: str, refuse_erased: bool = True
    ) -> str:
        """The customer an order's money belongs to. Events are handled concurrently, so the
        customer.created that makes an e-mail known may be in flight beside this event: wait
        for it a little, then NotKnownYet: the event is retried later, and dead-lettered once
        its attempts are used up (docs/contract.md §1)."""
        deadline = asyncio.get_running_loop().time() + self.unknown_customer_grace
        while True:
            found = await self._customer_id(customer_id, email)
            if found is not None:
                if refuse_erased and await self.directory.is_erased(found):
                    raise Invalid(f"erased customer: {what} names customer {found}, who was erased")
                return found
            if asyncio.get_running_loop().time() >= deadline:
                # Retried later, then dead-lettered: under a backlog (or in another partition)
                # the customer.created can be further behind than the grace.
                raise NotKnownYet(
                    f"unknown customer where one is required: {what} names no customer_id and its "
                    "e-mail belongs to no customer the ledger knows"
                )
            await asyncio.sleep(0.25)

    async def record_order(self, event_id: str, order: OrderPlaced) -> None:
        """Pays the store credit it uses and grants its points (parked while its customer is
        unknown). Raises NotKnownYet when it spends credit for a customer not known (yet)."""
        customer_id = await self._customer_id(order.customer.customer_id, order.customer.email)
        if order.store_credit_used > 0:
            # Store credit belongs to a known customer; an order that spends some for an e-mail
            # the ledger has never seen can never be booked.
            customer_id = await self._required_customer_id(
                customer_id,  # found above (or None: waited for below)
                order.customer.email,
                f"order {order.order_id} uses store credit but",
            )
            await self.ledger.pay_order(customer_id, event_id, order)

        program = await self.rewards.programmes.at(order.placed_at)
        points = program.points_for(order.total, order.currency) if program else 0
        if program is not None and program.group_multipliers and points > 0 and customer_id and self.credit:
            # Per-group multipliers: the customer's groups as the ledger knows them now (one
            # read, only for a programme that has multipliers).
            points = program.multiplied(points, await self.credit.groups_of(customer_id))
        committed: RewardState | None = None
        if program is not None and points > 0:
            customer_id, committed = await self._grant_points(event_id, order, customer_id, program, points)
            if committed is None and customer_id is not None:
                # A redelivery (the points were granted before): a conversion it may have left
                # undone is looked at again (one read, on redeliveries only).
                committed = await self.rewards.store.projected(customer_id)
        if not order.referral_code and customer_id is not None and _referral_pending(committed):
            assert committed is not None
            # The customer arrived with a referral code (`referred_by` at creation): this order,
            # the first to earn, converts it (or not), once.
            await self._convert_referral(customer_id, committed["referred_by"], order.order_id, program)
            await self.rewards.settle_referral(customer_id)
        if order.referral_code:
            # A referred newcomer is usually a guest whose customer.created (made from this very
            # order) is still on its way: wait for it, else retried later, at last dead-lettered.
            customer_id = customer_id or await self._required_customer_id(
                order.customer.customer_id,
                order.customer.email,
                f"order {order.order_id} names a referral code but",
                refuse_erased=False,  # no referral for them, but nothing to dead-letter either
            )
            await self._referred(customer_id, order, program)

    async def _referred(self, customer_id: str, order: OrderPlaced, program: Program | None) -> None:
        """An order naming a referral code: the referee's first order converts the referral,
        once; never a self-referral, never for an erased referrer or referee, never for a
        customer who ordered before (as far as the ledger knows: an order that earned points)."""
        await self._convert_referral(customer_id, order.referral_code or "", order.order_id, program)

    async def _convert_referral(
        self, customer_id: str, code: str, order_id: str, program: Program | None
    ) -> None:
        code = code.strip().upper()
        referrer = await self.rewards.store.sharer_of(code)
        if referrer is None or referrer == customer_id:
            return  # an unknown code, or one's own
        if await self.directory.is_erased(referrer) or await self.directory.is_erased(customer_id):
            return
        if await self.rewards.store.earned_before(customer_id, order_id):
            return  # not the referee's first order
        await self.rewards.convert_referral(referrer, customer_id, code, order_id, program)

    async def _referred_by(self, customer_id: str) -> None:
        """After learning a customer's `referred_by`: an order of theirs the ledger already has
        (events come in any order; a guest's parked points) converts it now; otherwise their
        first earning order will (record_order)."""
        state = await self.rewards.store.get(customer_id)
        if not _referral_pending(state):
            return
        first = await self.rewards.store.first_order_of(customer_id)
        if first is None:
            return
        program = await self.rewards.programmes.at(first["at"])
        await self._convert_referral(customer_id, state["referred_by"], first["order_id"], program)
        await self.rewards.settle_referral(customer_id)

    async def _grant_points(
        self, event_id: str, order: OrderPlaced, customer_id: str | None, program: Program, points: int
    ) -> tuple[str | None, RewardState | None]:
        """The order's points, or parked under the e-mail; the customer id if known by now, and
        the reward state committed (None: parked, or granted before)."""
        if customer_id is None:
            # The customers service creates this guest from the same order; its customer.created
            # may come after this event. Park the points under the e-mail until then.
            await self.directory.park(
                {
                    "_id": event_id,
                    "email_key": email_key(order.customer.email),
                    "order_id": order.order_id,
                    "points": points,
                    "total": order.total,
                    "currency": order.currency,
                    "placed_at": order.placed_at,
                }
            )
            customer_id = await self.directory.customer_of(order.customer.email)  # arrived meanwhile?
            if customer_id is None:
                return None, None
            committed = await self.rewards.earn(
                customer_id, points, event_id, order.order_id, program, order.total, order.currency
            )
            await self.directory.unpark(event_id)
            return customer_id, committed
        committed = await self.rewards.earn(
            customer_id, points, event_id, order.order_id, program, order.total, order.currency
        )
        if committed is None:
            # Granted before: maybe by this event's first handling, parked, then granted when
            # the customer appeared and stopped before unparking (a later owner of the e-mail
            # would be granted them again). An idempotent delete, only on redeliveries.
            await self.directory.unpark(event_id)
        return customer_id, committed

    async def record_refund(self, event_id: str, refund: OrderRefunded) -> None:
        """A refund to store credit becomes a `refund` entry; any refund takes back the order's
        points in proportion. Each once per refund: by `refund_id` when the event has one
        (the same refund re-sent under a new event id counts once), else by the event id.
        Raises NotKnownYet for a refund to store credit of a customer not known (yet), Invalid
        for an erased one."""
        if refund.to_store_credit:
            customer_id: str | None = await self._required_customer_id(
                refund.customer.customer_id,
                refund.customer.email,
                f"refund of order {refund.order_id} to store credit",
            )
            assert customer_id is not None
            await self.ledger.refund_to_credit(customer_id, event_id, refund)
        else:
            customer_id = await self._customer_id(refund.customer.customer_id, refund.customer.email)
        key = (
            f"refund:{refund.order_id}:{refund.refund_id}" if refund.refund_id else f"refund-event:{event_id}"
        )
        if customer_id is None:
            customer_id = await self._parked_until_known(
                refund.customer.email, refund.order_id, key, refund.amount, refund.currency, refund.refund_id
            )
            if customer_id is None:
                return
        await self.rewards.take_back(
            customer_id, refund.order_id, key, refund.amount, refund.currency, refund.refund_id
        )

    async def _parked_until_known(
        self,
        email: str,
        order_id: str,
        cause: str,
        refunded: int | None,
        currency: str | None = None,
        refund_id: str | None = None,
    ) -> str | None:
        """A refund or cancellation of an e-mail no customer has yet: the order's points, if
        any, are parked under the e-mail and granted when its customer is known, so the
        reversal waits there too. Then the customer is looked for again: if it became known
        meanwhile (learn adopts what is parked before this parked it), returns its id."""
        await self.rewards.park_for_email(email_key(email), order_id, cause, refunded, currency, refund_id)
        return await self._customer_id(None, email)

    async def record_cancellation(self, cancelled: OrderCancelled) -> None:
        """The order's points are taken back, all that is left of them, once per order."""
        customer_id = await self._customer_id(cancelled.customer.customer_id, cancelled.customer.email)
        cause = f"cancel:{cancelled.order_id}"
        if customer_id is None:
            customer_id = await self._parked_until_known(
                cancelled.customer.email, cancelled.order_id, cause, None
            )
            if customer_id is None:
                return
        await self.rewards.take_back(customer_id, cancelled.order_id, cause, None)

    async def learn(self, customer: CustomerState) -> None:
        """The customer exists; its e-mail, and the points parked under it. One read for most
        customer events (statistics changing): the known customer, by id."""
        known = await self.directory.known_customer(customer.id)
        birthday = customer.birthday.strftime("%m-%d") if customer.birthday else None
        consent = customer.email_subscribed
        referred_by = (customer.referred_by or "").strip().upper()
        if known is not None and (
            known["version"] >= customer.version
            or (
                known["email_key"] == email_key(customer.email)
                and known.get("birthday") == birthday
                and known.get("consent", False) == consent
                # A guest who registers with a referral code: the code is news.
                and (not referred_by or known.get("referred_by") == referred_by)
            )
        ):
            # Known as it is (no points can be parked for an e-mail the ledger already knew),
            # or this event is older than what is known.
            return
        if await self.directory.is_erased(customer.id):
            return  # a late event of an erased customer brings nothing back
        await self.directory.learn(customer.email, customer.id, customer.version)
        await self.rewards.adopt_parked(customer.id, email_key(customer.email))  # before the grants
        # A customer new to the ledger has no reward state yet, as a rule: decide its first
        # earning on an empty one (a wrong guess is refused by the unique version, then read).
        state: RewardState | None = rewards.empty(customer.id) if known is None else None
        if referred_by:
            state = await self.rewards.note_referred_by(customer.id, referred_by)
        for parked in await self.directory.parked_for(customer.email):
            state = await self._grant_parked(customer.id, parked, state)
        if referred_by:
            await self._referred_by(customer.id)
        # Last, all done: the customer as known now, with the code they can share when first
        # heard of (registered with this same insert).
        await self.directory.remember(
            customer.id,
            customer.email,
            customer.version,
            birthday,
            consent,
            known=known is not None,
            referral_code=rewards.referral_code(customer.id) if known is None else None,
            referred_by=referred_by or None,
        )

    async def _grant_parked(
        self, customer_id: str, parked: ParkedPoints, state: RewardState | None
    ) -> RewardState | None:
        """Grants points parked under the customer's e-mail, then unparks them; returns the
        reward state committed (for the next one). The customers service sends a customer's
        events in bursts (created, then updated per order), handled side by side here, and each
        finds the same parked points: while one handler of this process grants them, another
        waits for it instead of doing the same again (which would change nothing, at five
        commands). Only work is saved: exactly once rests on the keys (cause, order points),
        and a handler that waited does the grant itself when the first one failed."""
        key = (customer_id, parked["_id"])
        while (running := self._granting.get(key)) is not None:
            if await asyncio.shield(running):
                return None  # granted and unparked by the other handler
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._granting[key] = done
        try:
            placed_at = parked.get("placed_at") or now_ms()
            program = await self.rewards.programmes.at(placed_at) or await self.rewards.programmes.get(
                DEFAULT_ID
            )
            committed = await self.rewards.earn(
                customer_id,
                parked["points"],
                parked["_id"],
                parked.get("order_id"),
                program,
                parked.get("total", 0),
                parked.get("currency"),
                state=state,
            )
            await self.directory.unpark(parked["_id"])
        except BaseException:
            done.set_result(False)  # a waiting handler grants them itself
            raise
        else:
            done.set_result(True)
        finally:
            del self._granting[key]
        return committed

    async def merge(self, event_id: str, merged: CustomerMerged) -> None:
        """customer.merged: `merged_id` is no more; what the ledger holds of it goes to `id`.
        In order: the merged customer is marked (insert-only: money stops moving for it at
        once, over HTTP), its e-mails find the kept customer, its balances move (holds voided
        first; Ledger.move_balances), then its points and unredeemed coupons (Rewards.merge),
        and its referral code refers to the kept customer. Every step is keyed by the event
        id or sets the same value from every writer, so a redelivery moves nothing twice and a
        crash midway is completed by the redelivery. History (entries, coupons redeemed) stays
        readable under `merged_id`. Invalid (dead-lettered) for a record merged into itself."""
        kept_id, merged_id = merged.id, merged.merged_id
        if kept_id == merged_id:
            raise Invalid(f"customer.merged names {kept_id} as both the kept and the merged record")
        first = await self.directory.mark_merged(
            {"_id": merged_id, "into": kept_id, "event_id": event_id, "at": now_ms()}
        )
        if first["into"] != kept_id:
            raise Invalid(f"customer {merged_id} was merged into {first['into']} before, not into {kept_id}")
        await self.directory.repoint_emails(merged_id, kept_id)
        await self.ledger.move_balances(event_id, merged_id, kept_id)
        await self.rewards.merge(merged_id, kept_id)
        await self.rewards.store.hand_over_code(rewards.referral_code(merged_id), kept_id)

    async def birthday_pass(self, now: datetime | None = None) -> int:
        """The daily birthday job (run every so often; each pass looks at today, UTC): a
        birthday coupon of the programme in effect to every customer born today who consents
        to marketing (`email_subscribed`) and was not erased, once per customer and year, even
        with several replicas running it (rewards.grant_birthday). Returns how many it issued."""
        now = now or now_ms()
        program = await self.rewards.programmes.at(now)
        if program is None or program.birthday_coupon is None:
            return 0
        issued = 0
        for key in rewards.birthday_keys(now.date()):
            for known in await self.directory.born_on(key):
                if not known.get("consent") or await self.directory.is_erased(known["_id"]):
                    continue
                try:
                    issued += await self.rewards.grant_birthday(known["_id"], program.birthday_coupon, now)
                except Exception:  # noqa: BLE001 - one customer must not hold up the others
                    log.exception("birthday coupon of %s failed; the next pass retries", known["_id"])
        return issued

    async def loyalty_kpis(self, start: datetime, end: datetime) -> LoyaltyKpis:
        """The loyalty KPIs of [start, end) (domain.kpis). Reads the loyalty facts whole: a report
        asked for now and then, never on the event path. Raises Invalid for an empty period."""
        if end <= start:
            raise Invalid("to must be after from", errors=[{"field": "to", "message": "must be after from"}])
        store = self.rewards.store
        return loyalty_kpis(
            start,
            end,
            customers=await self.directory.customers_since(),
            erased=await self.directory.erased_ids(),
            earnings=await store.earnings(),
            reversals=await store.reversals_between(start, end),
            coupons=await store.coupons(),
            conversions=await store.conversions_between(start, end),
            expiries=await store.expiries_between(start, end),
        )

    async def erase(self, customer_id: str) -> dict[str, int]:
        """Entries are financial records and stay; reasons, operator names, e-mails, the
        birthday, stored HTTP responses (which repeat them) and group memberships go. Returns
        what was erased or anonymised, per kind."""
        await self.directory.mark_erased(customer_id)  # first: money stops moving for them
        erased = {
            "customer": 1,  # the known customer's birthday and consent
            "entry_notes": await self.journal.anonymise(customer_id),
            "customer_emails": await self.directory.forget(customer_id),
        }
        await self.responses.forget(customer_id)
        if self.credit is not None:
            erased.update(await self.credit.erase(customer_id))
        return erased
