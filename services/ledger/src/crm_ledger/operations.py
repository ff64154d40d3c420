"""The ledger's use cases, shared by the HTTP API, the event handlers and the expiry job:
each one decides a record from the account's newest state (domain.py) and appends it
(store.py) together with the events it causes."""

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from crm_contracts import new_event
from crm_contracts.names import EventType as T
from crm_contracts.outbound import (
    LedgerDebitRejected,
    LedgerEntryRecorded,
    LedgerHoldChanged,
    RewardCouponIssued,
)
from crm_contracts.types import utcnow
from crm_ledger import rewards
from crm_ledger.domain import (
    CREDIT_KINDS,
    AccountState,
    Change,
    Hold,
    HoldNotActive,
    InsufficientFunds,
    NothingToDo,
)
from crm_ledger.reward_store import RewardStore
from crm_ledger.store import Journal, account_key, now_ms
from crm_servicekit.versioned import AlreadyApplied, retry_on_conflict

log = logging.getLogger(__name__)

HOLD_EVENTS = {
    "active": T.LEDGER_HOLD_PLACED,
    "captured": T.LEDGER_HOLD_CAPTURED,
    "voided": T.LEDGER_HOLD_VOIDED,
    "expired": T.LEDGER_HOLD_EXPIRED,
}


class UnknownHold(Exception):
    pass


def derived_id(prefix: str, *parts: str) -> str:
    """A public id made from what caused the record (an event id, an Idempotency-Key)."""
    return f"{prefix}_" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def _event_id(kind: str, record_id: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"crm-ledger:{kind}:{record_id}"))


class Ledger:
    def __init__(self, journal: Journal, source: str, hold_default_seconds: int) -> None:
        self.journal = journal
        self.source = source
        self.hold_default = timedelta(seconds=hold_default_seconds)

    # -- events ------------------------------------------------------------------------
    def _events(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        if doc["type"] == "rejection":
            data = LedgerDebitRejected(
                customer_id=doc["customer_id"],
                currency=doc["currency"],
                amount=doc["requested"],
                available=doc["available"],
                order_id=doc.get("order_id"),
                reason=doc["description"],
            )
            out.append(
                new_event(
                    T.LEDGER_DEBIT_REJECTED,
                    self.source,
                    data,
                    subject=doc["customer_id"],
                    id=_event_id("rejected", doc["_id"]),
                )
            )
        if doc["type"] == "entry":
            data = LedgerEntryRecorded(
                id=doc["_id"],
                customer_id=doc["customer_id"],
                currency=doc["currency"],
                kind=doc["kind"],
                amount=doc["amount"],
                balance_after=doc["balance_after"],
                sequence=doc["sequence"],
                order_id=doc.get("order_id"),
                caused_by=doc.get("caused_by"),
                at=doc["at"],
                available_after=doc["available_after"],
                hold_id=doc.get("hold_id"),
                expires_at=doc.get("expires_at"),
            )
            out.append(
                new_event(
                    T.LEDGER_ENTRY_RECORDED,
                    self.source,
                    data,
                    subject=doc["customer_id"],
                    id=_event_id("entry", doc["_id"]),
                )
            )
        if doc.get("hold_status"):
            data = LedgerHoldChanged(
                id=doc["hold_id"],
                customer_id=doc["customer_id"],
                currency=doc["currency"],
                amount=doc["hold_amount"],
                status=doc["hold_status"],
                expires_at=doc["hold_expires_at"],
                order_id=doc.get("order_id"),
                captured_amount=-doc["amount"] if doc["type"] == "entry" else None,
                available_after=doc["available_after"],
                at=doc["at"],
            )
            out.append(
                new_event(
                    HOLD_EVENTS[doc["hold_status"]],
                    self.source,
                    data,
                    subject=doc["customer_id"],
                    id=_event_id("hold", doc["_id"]),
                )
            )
        return out

    async def _append(
        self, customer_id: str, currency: str, record_id: str, decide: Any
    ) -> tuple[dict[str, Any], bool]:
        return await self.journal.append(customer_id, currency, record_id, decide, self._events)

    # -- money movements ------------------------------------------------------------------
    async def record(
        self,
        customer_id: str,
        currency: str,
        record_id: str,
        kind: str,
        amount: int,
        *,
        expires_at: datetime | None = None,
        **fields: Any,
    ) -> tuple[dict[str, Any], bool]:
        """An entry of `kind`. `amount` is signed for adjustments, unsigned otherwise.
        Raises InsufficientFunds for a debit beyond the available balance."""
        signed = amount if kind == "adjustment" else amount if kind in CREDIT_KINDS else -amount

        def decide(state: AccountState) -> Change:
            if signed > 0:
                new = state.credit(signed, record_id, expires_at)
            else:
                new = state.debit(-signed, utcnow())
            extra = {"expires_at": expires_at} if expires_at else {}
            return Change("entry", kind, signed, new, {**fields, **extra})

        return await self._append(customer_id, currency, record_id, decide)

    # -- holds -----------------------------------------------------------------------------
    async def place_hold(
        self,
        customer_id: str,
        currency: str,
        hold_id: str,
        amount: int,
        expires_at: datetime | None,
        **fields: Any,
    ) -> dict[str, Any]:
        expires = expires_at or utcnow() + self.hold_default

        def decide(state: AccountState) -> Change:
            new = state.place_hold(Hold(hold_id, amount, expires, fields.get("order_id")), utcnow())
            return Change(
                "hold",
                "hold.placed",
                amount,
                new,
                {
                    **fields,
                    "hold_id": hold_id,
                    "hold_status": "active",
                    "hold_amount": amount,
                    "hold_expires_at": expires,
                },
            )

        await self._append(customer_id, currency, f"{hold_id}:placed", decide)
        return await self.hold(hold_id)

    async def _placement(self, hold_id: str) -> dict[str, Any]:
        placed = await self.journal.get(f"{hold_id}:placed")
        if placed is None:
            raise UnknownHold(hold_id)
        return placed

    async def hold(self, hold_id: str) -> dict[str, Any]:
        """The hold as clients see it: its placement and what ended it, if anything."""
        records = await self.journal.hold_records(hold_id)
        placed = next((r for r in records if r["kind"] == "hold.placed"), None)
        if placed is None:
            raise UnknownHold(hold_id)
        end = next((r for r in records if r.get("hold_status") not in (None, "active")), None)
        return {
            "id": hold_id,
            "customer_id": placed["customer_id"],
            "currency": placed["currency"],
            "amount": placed["hold_amount"],
            "status": end["hold_status"] if end else "active",
            "expires_at": placed["hold_expires_at"],
            "order_id": placed.get("order_id"),
            "created_at": placed["at"],
            "ended_at": end["at"] if end else None,
            "captured_amount": -end["amount"] if end and end["type"] == "entry" else None,
            "entry_id": end["_id"] if end and end["type"] == "entry" else None,
        }

    async def capture(
        self, hold_id: str, amount: int | None = None, **fields: Any
    ) -> tuple[dict[str, Any], bool]:
        """Turns the hold into a `purchase` of `amount` (default: the hold's amount). More than
        the hold is taken from the available balance; what is not captured is released."""
        placed = await self._placement(hold_id)

        def decide(state: AccountState) -> Change:
            hold = state.hold(hold_id)
            if hold is None:
                raise HoldNotActive(hold_id)
            take = hold.amount if amount is None else amount
            released = state.release_hold(hold_id)
            new = released.debit(take, utcnow()) if take > 0 else released
            return Change(
                "entry",
                "purchase",
                -take,
                new,
                {
                    "order_id": hold.order_id,
                    **{k: v for k, v in fields.items() if v is not None},
                    "hold_id": hold_id,
                    "hold_status": "captured",
                    "hold_amount": hold.amount,
                    "hold_expires_at": hold.expires_at,
                },
            )

        return await self._append(placed["customer_id"], placed["currency"], f"{hold_id}:captured", decide)

    async def _release(self, hold_id: str, status: str, **fields: Any) -> tuple[dict[str, Any], bool]:
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
                    **fields,
                    "hold_id": hold_id,
                    "hold_status": status,
                    "order_id": hold.order_id,
                    "hold_amount": hold.amount,
                    "hold_expires_at": hold.expires_at,
                },
            )

        return await self._append(placed["customer_id"], placed["currency"], f"{hold_id}:{status}", decide)

    async def void(self, hold_id: str, **fields: Any) -> dict[str, Any]:
        await self._release(hold_id, "voided", **fields)
        return await self.hold(hold_id)

    # -- orders ----------------------------------------------------------------------------
    async def pay_order(self, customer_id: str, event_id: str, order: Any) -> None:
        """Debits `store_credit_used` once per event: by capturing the order's hold when it
        names an active one of this account, otherwise from the available balance. When the
        balance does not cover it nothing moves and ledger.debit.rejected is published."""
        record_id = derived_id("ent", "order", event_id)
        if await self.journal.get(record_id) is not None:
            return  # booked or refused before: final, even if the balance changed since
        fields = {"order_id": order.order_id, "caused_by": event_id}
        if order.hold_id:
            try:
                placed = await self._placement(order.hold_id)
                if placed["account"] == account_key(customer_id, order.currency):
                    await self.capture(order.hold_id, order.store_credit_used, **fields)
                    return
            except (UnknownHold, HoldNotActive, InsufficientFunds):
                pass  # released, not this account's, or short: decided below from the balance
        amount = order.store_credit_used

        def decide(state: AccountState) -> Change:
            # The debit, or else a record that changes nothing and says why: one outcome per
            # event either way, since both take the same record id.
            try:
                return Change("entry", "purchase", -amount, state.debit(amount, utcnow()), fields)
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

        await self._append(customer_id, order.currency, record_id, decide)

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
        state = AccountState.from_doc(await self.journal.latest(account))
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
        latest = AccountState.from_doc(await self.journal.latest(account))
        if latest.due(now) == ([], []):
            await self.journal.clear_deadlines(account, latest.sequence, now)
        return done

    async def _expire_lot(self, customer_id: str, currency: str, lot_id: str) -> tuple[dict[str, Any], bool]:
        def decide(state: AccountState) -> Change:
            amount, new = state.expire(lot_id)
            return Change(
                "entry", "expiry", -amount, new, {"lot_id": lot_id, "description": "store credit expired"}
            )

        return await self._append(customer_id, currency, f"{lot_id}:expired", decide)


class Rewards:
    def __init__(self, store: RewardStore, program: rewards.Program, source: str) -> None:
        self.store = store
        self.program = program
        self.source = source

    async def earn(self, customer_id: str, points: int, cause: str, order_id: str | None) -> None:
        """Once per cause (the order event): points, and a coupon each time they reach the target."""
        if points <= 0:
            return

        async def attempt() -> None:
            state = await self.store.get(customer_id)
            new, issued = rewards.earn(state, self.program, points, now_ms(), order_id)
            await self.store.claim_codes(customer_id, [c["code"] for c in issued])
            events = [
                new_event(
                    T.REWARD_COUPON_ISSUED,
                    self.source,
                    RewardCouponIssued(
                        code=c["code"],
                        customer_id=customer_id,
                        kind=c["kind"],
                        value=c["value"],
                        currency=c["currency"],
                        expires_at=c["expires_at"],
                    ),
                    subject=customer_id,
                    id=_event_id("coupon", c["code"]),
                )
                for c in issued
            ]
            try:
                await self.store.states.commit(customer_id, new["version"], new, events, cause=cause)
            except AlreadyApplied:
                pass

        await retry_on_conflict(attempt, tries=100)

    async def redeem(self, code: str, redemption: str | None) -> dict[str, Any]:
        owner = await self.store.owner_of(code)
        if owner is None:
            raise KeyError(code)

        async def attempt() -> dict[str, Any]:
            now = now_ms()  # as stored (BSON keeps milliseconds): a replay shows the same time
            state = await self.store.get(owner)
            new, coupon = rewards.redeem(state, code, redemption, now)
            if new is not None:
                await self.store.states.commit(owner, new["version"], new, [])
            return rewards.coupon_view(coupon, now)

        return await retry_on_conflict(attempt, tries=100)
