"""Account rules with no I/O (TigerBeetle's no-overdraft and pending transfers, Shopify's
expiring store credit).

An account is (customer, currency). Its history is a chain of records numbered 1, 2, 3...; each
record is an `entry` (money moved), a `hold` record (a reservation placed or released) or a
`rejection` (an event's debit refused: nothing changes, but the outcome is final) and carries the account state after it: balance, active holds and expiring credit lots. The next
record is decided from the state of the newest one only, so a record can be written with an
insert of (account, sequence + 1): a concurrent writer of the same sequence loses and decides
again on fresh state (see store.py).
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

CREDIT_KINDS = ("funding", "refund", "reward")
DEBIT_KINDS = ("unfunding", "purchase")
ENTRY_KINDS = (*CREDIT_KINDS, *DEBIT_KINDS, "expiry", "adjustment")
HOLD_KINDS = ("hold.placed", "hold.voided", "hold.expired")


class InsufficientFunds(Exception):
    def __init__(self, requested: int, available: int) -> None:
        super().__init__(f"requested {requested}, available {available}")
        self.requested, self.available = requested, available


class NothingToDo(Exception):
    """The state no longer calls for this record (e.g. the hold was released meanwhile)."""


class HoldNotActive(Exception):
    pass


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

    def spendable(self, now: datetime | None = None) -> int:
        """Available, less credit that has expired but is not removed yet (the expiry job
        runs every so often; until then that credit can no longer be spent)."""
        gone = sum(x.remaining for x in self.lots if now is not None and x.expires_at <= now)
        return max(self.available - gone, 0)

    def debit(self, amount: int, now: datetime | None = None) -> "AccountState":
        """Never beyond the available balance; spends the soonest-expiring credit first,
        credit that never expires last, expired credit never."""
        assert amount > 0
        if amount > self.spendable(now):
            raise InsufficientFunds(amount, self.spendable(now))
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
    def place_hold(self, hold: Hold, now: datetime | None = None) -> "AccountState":
        if hold.amount > self.spendable(now):
            raise InsufficientFunds(hold.amount, self.spendable(now))
        return replace(self, holds=(*self.holds, hold))

    def release_hold(self, hold_id: str) -> "AccountState":
        if self.hold(hold_id) is None:
            raise HoldNotActive(hold_id)
        return replace(self, holds=tuple(h for h in self.holds if h.id != hold_id))

    def due(self, now: datetime) -> tuple[list[Lot], list[Hold]]:
        return [x for x in self.lots if x.expires_at <= now], [h for h in self.holds if h.expires_at <= now]

    # -- storage form ------------------------------------------------------------------
    def to_doc(self) -> dict[str, Any]:
        return {
            "balance": self.balance,
            "held": self.held,
            "available": self.available,
            "holds": [h.__dict__ for h in self.holds],
            "lots": [x.__dict__ for x in self.lots],
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> "AccountState":
        if doc is None:
            return cls()
        s = doc["state"]
        return cls(
            sequence=doc["sequence"],
            balance=s["balance"],
            holds=tuple(Hold(**h) for h in s["holds"]),
            lots=tuple(Lot(**x) for x in s["lots"]),
        )


@dataclass(frozen=True)
class Change:
    """What a decision produces: the record to append (without id, sequence and time)."""

    type: str  # "entry" | "hold"
    kind: str
    amount: int  # signed for entries; the hold amount for hold records
    state: AccountState
    fields: dict[str, Any] = field(default_factory=dict)  # order_id, hold_id, reason, ...
    # `reason` and `operator` are personal (people write them) and stored apart (store.py);
    # texts the ledger writes itself go in `description`.
