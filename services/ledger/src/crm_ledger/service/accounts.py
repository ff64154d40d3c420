"""The account use cases, shared by the HTTP API, the event handlers and the expiry job: each
decides a record from the account's newest state (domain.account) and appends it (store.py)
together with the events it causes (outbound.py)."""

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict, Unpack

from crm_contracts.inbound import OrderPlaced, OrderRefunded
from crm_contracts.types import utcnow
from crm_ledger.domain import (
    CREDIT_KINDS,
    AccountState,
    Change,
    ChangeFields,
    Hold,
    HoldNotActive,
    HoldView,
    InsufficientFunds,
    JournalRecord,
    NeedsCreditLimit,
    NothingToDo,
    derived_id,
    hold_view,
)
from crm_ledger.service.outbound import record_events
from crm_ledger.store import Decide, Journal, account_key
from crm_servicekit.errors import NotFound

log = logging.getLogger(__name__)


class Cause(TypedDict, total=False):
    """What a caller says about a movement: which order or event, why, who."""

    order_id: str | None
    caused_by: str | None
    reason: str | None
    operator: str | None
    description: str


CreditLimitOf = Callable[[str, str], Awaitable[int]]
"""(customer, currency) -> how far below zero the customer's groups let a purchase go."""

DecideWithLimit = Callable[[AccountState, int | None], Change]
"""Decides a purchase given the credit limit, None while it was not looked up."""


async def no_credit(customer_id: str, currency: str) -> int:
    return 0


class Ledger:
    def __init__(
        self,
        journal: Journal,
        source: str,
        hold_default_seconds: int,
        credit_limit: CreditLimitOf = no_credit,
    ) -> None:
        self.journal = journal
        self.source = source
        self.hold_default = timedelta(seconds=hold_default_seconds)
        self.credit_limit = credit_limit

    def _events(self, record: JournalRecord) -> list[dict[str, Any]]:
        return record_events(self.source, record)

    async def _append(
        self, customer_id: str, currency: str, record_id: str, decide: Decide, look_up_first: bool = True
    ) -> tuple[JournalRecord, bool]:
        return await self.journal.append(
            customer_id, currency, record_id, decide, self._events, look_up_first=look_up_first
        )

    async def _append_purchase(
        self,
        customer_id: str,
        currency: str,
        record_id: str,
        decide: DecideWithLimit,
        look_up_first: bool = True,
    ) -> tuple[JournalRecord, bool]:
        """A purchase (or a hold for one), which a group's credit limit lets go below zero: decided
        first without it; only when the balance does not cover it is the limit read (one read)
        and the record decided again. The limit is part of the decision made on the newest
        state, so concurrent purchases cannot together pass it (the unique sequence)."""
        limit: int | None = None

        def with_limit(state: AccountState) -> Change:
            return decide(state, limit)

        while True:
            try:
                return await self._append(customer_id, currency, record_id, with_limit, look_up_first)
            except NeedsCreditLimit:
                limit = await self.credit_limit(customer_id, currency)

    # -- reads ----------------------------------------------------------------------------
    async def accounts(self, customer_id: str) -> list[JournalRecord]:
        """The newest record of each of the customer's accounts (an account opens on first use)."""
        return await self.journal.accounts_of(customer_id)

    async def entries(
        self,
        customer_id: str,
        limit: int,
        after: tuple[datetime, int, str] | None,
        kind: str | None,
        currency: str | None,
    ) -> list[JournalRecord]:
        """Newest first; `after` = (at, sequence, id) of the last one already shown."""
        return await self.journal.entries(customer_id, limit, after, kind, currency)

    async def entry(self, customer_id: str, entry_id: str) -> JournalRecord:
        doc = await self.journal.get(entry_id)
        if doc is None or doc["customer_id"] != customer_id or doc["type"] != "entry":
            raise NotFound("Entry", entry_id)
        return doc

    async def hold(self, hold_id: str) -> HoldView:
        """The hold as clients see it: its placement and what ended it, if anything."""
        view = hold_view(hold_id, await self.journal.hold_records(hold_id))
        if view is None:
            raise NotFound("Hold", hold_id)
        return view

    async def hold_of(self, customer_id: str, hold_id: str) -> HoldView:
        """The customer's hold (another customer's is not found)."""
        hold = await self.hold(hold_id)
        if hold["customer_id"] != customer_id:
            raise NotFound("Hold", hold_id)
        return hold

    # -- money movements ------------------------------------------------------------------
    async def record_entry(
        self,
        customer_id: str,
        currency: str,
        record_id: str,
        kind: str,
        amount: int,
        *,
        expires_at: datetime | None = None,
        **cause: Unpack[Cause],
    ) -> tuple[JournalRecord, bool]:
        """An entry of `kind`: (record, replayed). `amount` is signed for adjustments,
        unsigned otherwise. Raises InsufficientFunds for a debit beyond the available balance."""
        signed = amount if kind == "adjustment" else amount if kind in CREDIT_KINDS else -amount

        def decide(state: AccountState) -> Change:
            if signed > 0:
                new = state.credit(signed, record_id, expires_at)
            else:
                new = state.debit(-signed, utcnow())
            fields: ChangeFields = {**cause}
            if expires_at:
                fields["expires_at"] = expires_at
            return Change("entry", kind, signed, new, fields)

        return await self._append(customer_id, currency, record_id, decide)

    async def refund_to_credit(self, customer_id: str, event_id: str, refund: OrderRefunded) -> None:
        """A `refund` entry, once per refund: its `refund_id` (with the order) when it has one,
        so the same refund re-sent under a new event id counts once; else once per event."""
        if refund.refund_id is not None:
            record_id = derived_id("ent", "refund", "refund_id", refund.order_id, refund.refund_id)
        else:
            record_id = derived_id("ent", "refund", event_id)
        amount = refund.amount

        def decide(state: AccountState) -> Change:
            # A credit never fails and has no note: the journal need not look the record up
            # before deciding (a redelivery's insert is refused by the record id, and replays).
            fields: ChangeFields = {
                "order_id": refund.order_id,
                "caused_by": event_id,
                "description": "order refunded to store credit",
            }
            return Change("entry", "refund", amount, state.credit(amount, record_id, None), fields)

        await self._append(customer_id, refund.currency, record_id, decide, look_up_first=False)

    # -- holds -----------------------------------------------------------------------------
    async def place_hold(
        self,
        customer_id: str,
        currency: str,
        hold_id: str,
        amount: int,
        expires_at: datetime | None,
        *,
        order_id: str | None = None,
        reason: str | None = None,
    ) -> HoldView:
        """Reserves `amount`: no longer available until captured, voided or expired.
        Raises InsufficientFunds."""
        expires = expires_at or utcnow() + self.hold_default

        def decide(state: AccountState, limit: int | None) -> Change:
            new = state.place_hold(Hold(hold_id, amount, expires, order_id), utcnow(), limit)
            return Change(
                "hold",
                "hold.placed",
                amount,
                new,
                {
                    "order_id": order_id,
                    "reason": reason,
                    "hold_id": hold_id,
                    "hold_status": "active",
                    "hold_amount": amount,
                    "hold_expires_at": expires,
                },
            )

        await self._append_purchase(customer_id, currency, f"{hold_id}:placed", decide)
        return await self.hold(hold_id)

    async def _placement(self, hold_id: str) -> JournalRecord:
        placed = await self.journal.get(f"{hold_id}:placed")
        if placed is None:
            raise NotFound("Hold", hold_id)
        return placed

    async def _capture(
        self, hold_id: str, amount: int | None, order_id: str | None, caused_by: str | None = None
    ) -> tuple[JournalRecord, bool]:
        """Turns the hold into a `purchase` of `amount` (default: the hold's amount). More than
        the hold is taken from the available balance; what is not captured is released."""
        placed = await self._placement(hold_id)

        def decide(state: AccountState, limit: int | None) -> Change:
            hold = state.hold(hold_id)
            if hold is None:
                raise HoldNotActive(hold_id)
            take = hold.amount if amount is None else amount
            released = state.release_hold(hold_id)
            new = released.debit(take, utcnow(), limit) if take > 0 else released
            fields: ChangeFields = {"order_id": hold.order_id}
            if order_id is not None:
                fields["order_id"] = order_id
            if caused_by is not None:
                fields["caused_by"] = caused_by
            fields.update(
                {
                    "hold_id": hold_id,
                    "hold_status": "captured",
                    "hold_amount": hold.amount,
                    "hold_expires_at": hold.expires_at,
                }
            )
            return Change("entry", "purchase", -take, new, fields)

        return await self._append_purchase(
            placed["customer_id"], placed["currency"], f"{hold_id}:captured", decide
        )

    async def capture_hold(
        self, customer_id: str, hold_id: str, amount: int | None, order_id: str | None
    ) -> HoldView:
        """Becomes a `purchase` entry; capturing a captured hold again returns the same result.
        Raises NotFound, HoldNotActive (voided or expired) or InsufficientFunds."""
        await self.hold_of(customer_id, hold_id)
        try:
            await self._capture(hold_id, amount, order_id)
        except HoldNotActive:
            raise HoldNotActive(hold_id, (await self.hold(hold_id))["status"]) from None
        return await self.hold(hold_id)

    async def _release(
        self, hold_id: str, status: Literal["voided", "expired"]
    ) -> tuple[JournalRecord, bool]:
        placed = await self._placement(hold_id)

        def decide(state: AccountState) -> Change:
            hold = state.hold(hold_id)
            if hold is None:
                raise HoldNotActive(hold_id)
            return Change(
                "hold",
                f"hold.{status}",
                hold.amount,
                state.release_hold(hold_id),
                {
                    "hold_id": hold_id,
                    "hold_status": status,
                    "order_id": hold.order_id,
                    "hold_amount": hold.amount,
                    "hold_expires_at": hold.expires_at,
                },
            )

        return await self._append(placed["customer_id"], placed["currency"], f"{hold_id}:{status}", decide)

    async def void_hold(self, customer_id: str, hold_id: str) -> HoldView:
        """Releases the hold; voiding a voided hold again returns the same result. Raises
        NotFound, or HoldNotActive when it was captured or has expired."""
        await self.hold_of(customer_id, hold_id)
        try:
            await self._release(hold_id, "voided")
        except HoldNotActive:
            hold = await self.hold(hold_id)
            if hold["status"] != "voided":
                raise HoldNotActive(hold_id, hold["status"]) from None
            return hold
        return await self.hold(hold_id)

    # -- orders ----------------------------------------------------------------------------
    async def pay_order(self, customer_id: str, event_id: str, order: OrderPlaced) -> None:
        """Debits `store_credit_used` once per event: by capturing the order's hold when it
        names an active one of this account, otherwise from the available balance. When the
        balance does not cover it nothing moves and ledger.debit.rejected is published."""
        record_id = derived_id("ent", "order", event_id)
        if await self.journal.get(record_id) is not None:
            return  # booked or refused before: final, even if the balance changed since
        if order.hold_id:
            try:
                placed = await self._placement(order.hold_id)
                if placed["account"] == account_key(customer_id, order.currency):
                    await self._capture(order.hold_id, order.store_credit_used, order.order_id, event_id)
                    return
            except (NotFound, HoldNotActive, InsufficientFunds):
                pass  # released, not this account's, or short: decided below from the balance
        amount = order.store_credit_used
        fields: ChangeFields = {"order_id": order.order_id, "caused_by": event_id}

        def decide(state: AccountState, limit: int | None) -> Change:
            # The debit, or else a record that changes nothing and says why: one outcome per
            # event either way, since both take the same record id.
            try:
                return Change("entry", "purchase", -amount, state.debit(amount, utcnow(), limit), fields)
            except InsufficientFunds as e:
                return Change(
                    "rejection",
                    "purchase",
                    0,
                    state,
                    {
                        **fields,
                        "requested": amount,
                        "available": e.available,
                        "description": f"insufficient-funds: {amount} requested, {e.available} available",
                    },
                )

        # Looked up above, and `decide` never raises (a rejection instead): not again first.
        await self._append_purchase(customer_id, order.currency, record_id, decide, look_up_first=False)

    # -- customer.merged --------------------------------------------------------------------
    async def move_balances(self, event_id: str, merged_id: str, kept_id: str) -> int:
        """customer.merged: per currency, the merged customer's holds still active are voided
        and what it can spend then (balance less credit expired but not yet removed) moves to
        the kept customer: an `unfunding` entry on the merged account ("merged into <kept>")
        and a `funding` entry of the same amount on the kept one ("merged from <merged>").
        Exactly once: the record ids come from the event id and the currency, and the amount
        put in is read from the entry that took it out (a redelivery, or a second replica,
        finds both entries and moves nothing). A debt (balance below zero, bought on account)
        stays where it is. Returns how many currencies moved money in this call."""
        moved = 0
        for latest in await self.journal.accounts_of(merged_id):
            currency = latest["currency"]
            for hold in AccountState.after(latest, currency).holds:
                try:
                    await self._release(hold.id, "voided")
                except HoldNotActive:
                    pass  # captured, voided or expired meanwhile
            moved += await self._move_account(event_id, merged_id, kept_id, currency)
        return moved

    async def _move_account(self, event_id: str, merged_id: str, kept_id: str, currency: str) -> bool:
        """One currency of move_balances: True when this call moved money."""
        out_id = derived_id("ent", "merge-out", event_id, currency)
        in_id = derived_id("ent", "merge-in", event_id, currency)

        def take_out(state: AccountState) -> Change:
            now = utcnow()
            amount = state.spendable(now)
            if amount <= 0:
                raise NothingToDo()
            fields: ChangeFields = {
                "caused_by": event_id,
                "reason": f"merged into {kept_id}",
                "description": f"customer merged into {kept_id}",
            }
            return Change("entry", "unfunding", -amount, state.debit(amount, now), fields)

        try:
            out, replayed = await self._append(merged_id, currency, out_id, take_out)
        except NothingToDo:
            return False  # nothing to move in this currency
        amount = -out["amount"]

        def put_in(state: AccountState) -> Change:
            fields: ChangeFields = {
                "caused_by": event_id,
                "reason": f"merged from {merged_id}",
                "description": f"customer {merged_id} merged into this one",
            }
            return Change("entry", "funding", amount, state.credit(amount, in_id, None), fields)

        _, again = await self._append(kept_id, currency, in_id, put_in)
        return not (replayed and again)

    # -- expiry job ------------------------------------------------------------------------
    async def expire_due(self, now: datetime | None = None) -> int:
        """Removes what is left of expired credit (an `expiry` entry) and releases expired
        holds. Record ids come from the lot and the hold, so two runs (or two instances)
        cannot expire the same thing twice; state is read from the database, so a restart
        picks up whatever fell due while the service was down."""
        now = now or utcnow()
        done = 0
        for customer_id, currency in await self.journal.accounts_due(now):
            try:
                done += await self._expire_account(customer_id, currency, now)
            except Exception:  # noqa: BLE001 - one account must not hold up the others
                log.exception("expiry of account %s:%s failed; next pass retries", customer_id, currency)
        return done

    async def _expire_account(self, customer_id: str, currency: str, now: datetime) -> int:
        account = account_key(customer_id, currency)
        state = AccountState.after(await self.journal.latest(account), currency)
        lots, holds = state.due(now)
        done = 0
        for lot in lots:
            try:
                _, replayed = await self._expire_lot(customer_id, currency, lot.id)
                done += not replayed
            except NothingToDo:
                pass  # spent or expired meanwhile
        for hold in holds:
            try:
                _, replayed = await self._release(hold.id, "expired")
                done += not replayed
            except HoldNotActive:
                pass  # captured or voided meanwhile
        latest = AccountState.after(await self.journal.latest(account), currency)
        if latest.due(now) == ([], []):
            await self.journal.clear_deadlines(account, latest.sequence, now)
        return done

    async def _expire_lot(self, customer_id: str, currency: str, lot_id: str) -> tuple[JournalRecord, bool]:
        def decide(state: AccountState) -> Change:
            amount, new = state.expire(lot_id)
            return Change(
                "entry", "expiry", -amount, new, {"lot_id": lot_id, "description": "store credit expired"}
            )

        return await self._append(customer_id, currency, f"{lot_id}:expired", decide)
