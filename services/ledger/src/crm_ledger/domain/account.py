"""Account rules with no I/O (TigerBeetle's no-overdraft and pending transfers, Shopify's
expiring store credit).

An account is (customer, currency). Its history is a chain of records numbered 1, 2, 3...; each
record is an `entry` (money moved), a `hold` record (a reservation placed or released) or a
`rejection` (an event's debit refused: nothing changes, but the outcome is final) and carries
the account state after it: balance, active holds and expiring credit lots. The next record is
decided from the state of the newest one only, so a record can be written with an insert of
(account, sequence + 1): a concurrent writer of the same sequence loses and decides again on
fresh state (see store.py).
"""

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypedDict

from crm_ledger.domain.documents import ChangeFields, HoldStatus, JournalRecord, RecordType, StoredState
from crm_servicekit import errors

CREDIT_KINDS = ("funding", "refund", "reward")
DEBIT_KINDS = ("unfunding", "purchase")
ENTRY_KINDS = (*CREDIT_KINDS, *DEBIT_KINDS, "expiry", "adjustment")
HOLD_KINDS = ("hold.placed", "hold.voided", "hold.expired")


class InsufficientFunds(errors.InsufficientFunds):
    """409 insufficient-funds: a debit or hold beyond what the account can spend."""

    def __init__(self, requested: int, available: int, currency: str, credit_limit: int = 0) -> None:
        extra = {"credit_limit": credit_limit} if credit_limit else {}
        detail = f"{requested} {currency} requested, {available} {currency} available"
        if credit_limit:
            detail += f" (including a credit limit of {credit_limit} {currency} below zero)"
        super().__init__(detail, available=available, requested=requested, currency=currency, **extra)
        self.requested, self.available, self.currency = requested, available, currency
        self.credit_limit = credit_limit


class NeedsCreditLimit(Exception):
    """A purchase would take the balance below zero and the customer's credit limit was not
    looked up yet: the use case reads it (one read, only then) and decides again."""


class HoldNotActive(errors.Conflict):
    """409 hold-not-active: the hold was captured, voided or has expired. The account state
    only knows that it is gone; the use case names its status (`hold_status`)."""

    def __init__(self, hold_id: str, status: HoldStatus | None = None) -> None:
        if status is None:
            super().__init__("hold-not-active", "Hold is not active", f"hold {hold_id} is not active")
        else:
            super().__init__(
                "hold-not-active", "Hold is not active", f"hold {hold_id} is {status}", hold_status=status
            )
        self.hold_id, self.hold_status = hold_id, status


class Contention(errors.Busy):
    """503 contention: too many concurrent writers on one account; the caller may retry."""

    def __init__(self, account: str) -> None:
        super().__init__("retry shortly", title="Too many concurrent changes to this account")
        self.account = account


class NothingToDo(Exception):
    """The state no longer calls for this record (e.g. the lot was spent meanwhile)."""


def derived_id(prefix: str, *parts: str) -> str:
    """A public id made from what caused the record (an event id, an Idempotency-Key)."""
    return f"{prefix}_" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Lot:
    """Credit that expires: what is left of one funding with `expires_at`."""

    id: str
    remaining: int
    expires_at: datetime


@dataclass(frozen=True)
class Hold:
    id: str
    amount: int
    expires_at: datetime
    order_id: str | None = None


@dataclass(frozen=True)
class AccountState:
    currency: str
    sequence: int = 0
    balance: int = 0
    holds: tuple[Hold, ...] = ()
    lots: tuple[Lot, ...] = field(default=())  # soonest-expiring first

    @property
    def held(self) -> int:
        return sum(h.amount for h in self.holds)

    @property
    def available(self) -> int:
        return self.balance - self.held

    @property
    def next_deadline(self) -> datetime | None:
        times = [lot.expires_at for lot in self.lots] + [h.expires_at for h in self.holds]
        return min(times) if times else None

    def hold(self, hold_id: str) -> Hold | None:
        return next((h for h in self.holds if h.id == hold_id), None)

    # -- money -------------------------------------------------------------------------
    def credit(
        self, amount: int, lot_id: str | None = None, expires_at: datetime | None = None
    ) -> "AccountState":
        assert amount > 0
        lots = self.lots
        if expires_at is not None:
            assert lot_id is not None
            lots = tuple(sorted((*lots, Lot(lot_id, amount, expires_at)), key=lambda x: (x.expires_at, x.id)))
        return replace(self, balance=self.balance + amount, lots=lots)

    def spendable(self, now: datetime | None = None, credit_limit: int = 0) -> int:
        """Available, less credit that has expired but is not removed yet (the expiry job
        runs every so often; until then that credit can no longer be spent), plus how far the
        balance may go below zero (`credit_limit`, a purchase on account by a group's member)."""
        gone = sum(x.remaining for x in self.lots if now is not None and x.expires_at <= now)
        return max(self.available - gone + credit_limit, 0)

    def check_covered(self, amount: int, now: datetime | None, credit_limit: int | None) -> None:
        """Raises InsufficientFunds when `amount` is beyond what can be spent; NeedsCreditLimit
        when it is beyond the balance and the limit (None) was not looked up yet."""
        if amount <= self.spendable(now, credit_limit or 0):
            return
        if credit_limit is None:
            raise NeedsCreditLimit()
        raise InsufficientFunds(amount, self.spendable(now, credit_limit), self.currency, credit_limit)

    def debit(self, amount: int, now: datetime | None = None, credit_limit: int | None = 0) -> "AccountState":
        """Never beyond the available balance (plus `credit_limit` below zero); spends the
        soonest-expiring credit first, credit that never expires last, expired credit never."""
        assert amount > 0
        self.check_covered(amount, now, credit_limit)
        left, lots = amount, []
        for lot in self.lots:
            if now is not None and lot.expires_at <= now:
                lots.append(lot)  # left for its expiry entry
                continue
            take = min(left, lot.remaining)
            left -= take
            if lot.remaining - take > 0:
                lots.append(replace(lot, remaining=lot.remaining - take))
        return replace(self, balance=self.balance - amount, lots=tuple(lots))

    def expire(self, lot_id: str) -> tuple[int, "AccountState"]:
        """Removes what is left of one lot: (amount removed, new state)."""
        lot = next((x for x in self.lots if x.id == lot_id), None)
        if lot is None:
            raise NothingToDo(lot_id)
        rest = tuple(x for x in self.lots if x.id != lot_id)
        return lot.remaining, replace(self, balance=self.balance - lot.remaining, lots=rest)

    # -- holds -------------------------------------------------------------------------
    def place_hold(
        self, hold: Hold, now: datetime | None = None, credit_limit: int | None = 0
    ) -> "AccountState":
        self.check_covered(hold.amount, now, credit_limit)
        return replace(self, holds=(*self.holds, hold))

    def release_hold(self, hold_id: str) -> "AccountState":
        if self.hold(hold_id) is None:
            raise HoldNotActive(hold_id)
        return replace(self, holds=tuple(h for h in self.holds if h.id != hold_id))

    def due(self, now: datetime) -> tuple[list[Lot], list[Hold]]:
        return [x for x in self.lots if x.expires_at <= now], [h for h in self.holds if h.expires_at <= now]

    # -- storage form ------------------------------------------------------------------
    def to_doc(self) -> StoredState:
        return {
            "balance": self.balance,
            "held": self.held,
            "available": self.available,
            "holds": [
                {"id": h.id, "amount": h.amount, "expires_at": h.expires_at, "order_id": h.order_id}
                for h in self.holds
            ],
            "lots": [{"id": x.id, "remaining": x.remaining, "expires_at": x.expires_at} for x in self.lots],
        }

    @classmethod
    def after(cls, record: JournalRecord | None, currency: str) -> "AccountState":
        """The state a record left (a fresh account when there is none yet)."""
        if record is None:
            return cls(currency)
        s = record["state"]
        return cls(
            currency=currency,
            sequence=record["sequence"],
            balance=s["balance"],
            holds=tuple(Hold(**h) for h in s["holds"]),
            lots=tuple(Lot(**x) for x in s["lots"]),
        )


@dataclass(frozen=True)
class Change:
    """What a decision produces: the record to append (without id, sequence and time)."""

    type: RecordType
    kind: str
    amount: int  # signed for entries; the hold amount for hold records
    state: AccountState
    # order_id, hold_id, reason, ... `reason` and `operator` are personal (people write them)
    # and stored apart (store.py); texts the ledger writes itself go in `description`.
    fields: ChangeFields = field(default_factory=lambda: ChangeFields())


class HoldView(TypedDict):
    """A hold as clients see it: its placement and what ended it, if anything."""

    id: str
    customer_id: str
    currency: str
    amount: int
    status: HoldStatus
    expires_at: datetime
    order_id: str | None
    created_at: datetime
    ended_at: datetime | None
    captured_amount: int | None
    entry_id: str | None


def hold_view(hold_id: str, records: list[JournalRecord]) -> HoldView | None:
    """From the hold's records (oldest first); None when it was never placed."""
    placed = next((r for r in records if r["kind"] == "hold.placed"), None)
    if placed is None:
        return None
    end = next((r for r in records if r.get("hold_status") not in (None, "active")), None)
    captured = end is not None and end["type"] == "entry"
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
        "captured_amount": -end["amount"] if end and captured else None,
        "entry_id": end["_id"] if end and captured else None,
    }
