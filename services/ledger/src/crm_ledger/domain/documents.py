"""What every stored document of the ledger holds, written once.

Collections: `journal` (JournalRecord, append-only; also the outbox of its events),
`entry_notes` (EntryNote: what people wrote about a record, kept apart for erasure),
`rewards` / `rewards_changes` (RewardState through crm_servicekit.versioned), `coupon_codes`
(CouponCode), `customer_emails` (DirectoryEntry) and `parked_points` (ParkedPoints).
"""

from datetime import datetime
from typing import Literal, NotRequired, Required, TypedDict

RecordType = Literal["entry", "hold", "rejection"]
HoldStatus = Literal["active", "captured", "voided", "expired"]
CouponKind = Literal["amount", "percentage"]


# -- journal ------------------------------------------------------------------------------
class StoredHold(TypedDict):
    id: str
    amount: int
    expires_at: datetime
    order_id: str | None


class StoredLot(TypedDict):
    """Credit that expires: what is left of one funding with `expires_at`."""

    id: str
    remaining: int
    expires_at: datetime


class StoredState(TypedDict):
    """The account after a record (domain.AccountState in storage form)."""

    balance: int
    held: int
    available: int
    holds: list[StoredHold]
    lots: list[StoredLot]  # soonest-expiring first


class Note(TypedDict, total=False):
    """Personal: written by people, stored apart in `entry_notes` and joined on read."""

    reason: str | None
    operator: str | None


class RecordFields(TypedDict, total=False):
    """The members of a record that depend on what caused it (present only when they apply)."""

    order_id: str | None
    caused_by: str | None
    expires_at: datetime  # an expiring credit
    lot_id: str  # an expiry entry
    description: str  # text the ledger writes itself
    hold_id: str  # records of a hold (and a purchase that captured one)
    hold_status: HoldStatus
    hold_amount: int
    hold_expires_at: datetime
    requested: int  # a rejection
    available: int  # a rejection


class ChangeFields(RecordFields, Note, total=False):
    """What a use case adds to the record it appends: the record's fields and its note."""


class JournalRecord(RecordFields, Note, total=False):
    """One record of an account's history, `_id` deterministic from its cause. The note's
    members are not stored here: reads join them from `entry_notes`."""

    _id: Required[str]
    account: Required[str]  # "<customer_id>:<currency>" (store.account_key)
    customer_id: Required[str]
    currency: Required[str]
    sequence: Required[int]  # 1, 2, 3... per account; unique with `account`
    type: Required[RecordType]
    kind: Required[str]  # domain.ENTRY_KINDS / HOLD_KINDS
    amount: Required[int]  # signed for entries; the hold's amount for hold records; 0 for rejections
    balance_after: Required[int]
    available_after: Required[int]
    state: StoredState  # left out of history pages
    next_deadline: datetime | None  # the soonest lot or hold expiry of `state`
    at: Required[datetime]
    recorded_at: datetime  # = at (outbox)
    published: bool  # outbox
    deadline_cleared: bool  # an expiry pass dealt with `next_deadline`


class EntryNote(Note):
    _id: str  # the record id
    customer_id: str


# -- rewards ------------------------------------------------------------------------------
class Coupon(TypedDict):
    code: str
    customer_id: str
    kind: CouponKind
    value: int  # minor units (amount coupons) or whole percent
    currency: str | None  # amount coupons only
    issued_at: datetime
    expires_at: datetime
    order_id: str | None  # the order whose points crossed the target
    redeemed_at: datetime | None
    redemption: str | None  # "order:<id>" or "key:<Idempotency-Key>": redeeming again is the same


class RewardState(TypedDict):
    """One versioned document per customer."""

    _id: NotRequired[str]  # on the projection only
    id: str  # the customer id
    version: int
    points: int  # towards the next coupon
    earned_total: int
    coupons: list[Coupon]  # oldest first; the n-th has code domain.coupon_code(customer, n)


class CouponCode(TypedDict):
    """code -> whose reward state holds it."""

    _id: str  # the code
    customer_id: str


# -- customer directory -------------------------------------------------------------------
class DirectoryEntry(TypedDict):
    """Which customer an e-mail belongs to, as customer events tell."""

    _id: str  # crm_contracts.types.email_key of the e-mail
    customer_id: str
    version: int  # of the customer event: older never overwrite newer


class ParkedPoints(TypedDict):
    """Reward points of an order by an e-mail no known customer has yet."""

    _id: str  # the order event's id
    email_key: str
    order_id: str
    points: int
