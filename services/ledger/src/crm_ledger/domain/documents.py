"""What every stored document of the ledger holds, written once.

Collections: `journal` (JournalRecord, append-only; also the outbox of its events),
`entry_notes` (EntryNote: what people wrote about a record, kept apart for erasure),
`rewards` / `rewards_changes` (RewardState through crm_servicekit.versioned), `coupon_codes`
(CouponCode), `order_points` (OrderPoints), `customer_emails` (DirectoryEntry),
`parked_points` (ParkedPoints), `known_customers` (KnownCustomer) and `erased_customers`
(ErasedCustomer).
"""

from datetime import datetime
from typing import Literal, NotRequired, Required, TypedDict

RecordType = Literal["entry", "hold", "rejection"]
HoldStatus = Literal["active", "captured", "voided", "expired"]
CouponKind = Literal["amount", "percentage"]
CouponSource = Literal["points", "birthday", "referral"]


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
    source: NotRequired[CouponSource]  # missing: points
    points_spent: NotRequired[int]  # the points it cost (a closed cycle's); missing: 0
    # revoked unused, its points given back, when a refund took back the points that paid for it
    revoked_at: NotRequired[datetime | None]
    # customer.merged: the coupon now belongs to this customer (a copy is in their reward state;
    # this one stays in the merged customer's state as history and is not counted again)
    moved_to: NotRequired[str]


class OrderShare(TypedDict):
    """What a refunded or cancelled order has taken back of its points so far."""

    order_id: str
    refunded: int  # minor units refunded so far (refunds counted once each)
    reversed: int  # the order's points taken back so far (its share, at most what it earned)
    cancelled: bool  # everything taken back: later refunds change nothing


class PointsMovement(TypedDict):
    """One change of the points, with why (the newest few are kept in the reward state; every
    reversal is also published as reward.points.reversed)."""

    kind: Literal["earned", "reversed", "expired"]
    points: int  # signed: what moved
    requested: int  # for a reversal: the order's share, which the balance may not cover
    order_id: str | None
    reason: str
    at: datetime


class PointsLot(TypedDict):
    """Points of one earning that expire (a programme with `points_expire_days`): what is left
    of them. Spending and taking back use the soonest-expiring first (FIFO with one expiry
    period), points that never expire last."""

    id: str  # the earning's cause (the order event id)
    order_id: str | None
    points: int  # left
    earned_at: datetime
    expires_at: datetime


class PointsExpiry(TypedDict):
    """A fact for the loyalty KPIs, written once after an expiry was committed (`_id` =
    "<customer>:<lot id>")."""

    _id: str
    customer_id: str
    points: int
    at: datetime


class CouponTermsDoc(TypedDict):
    kind: CouponKind
    value: int  # minor units (amount coupons) or whole percent
    currency: str | None
    valid_days: int


class ThresholdDoc(TypedDict):
    points: int
    coupon: CouponTermsDoc


class ProgrammeVersion(TypedDict):
    """One version of a reward programme (`reward_programmes`, insert-only: `_id` unique)."""

    _id: str  # "<programme id>:<version>"
    id: str
    version: int  # 1, 2, 3... (0 is the environment settings' default, never stored)
    name: str
    points_per_unit: int
    currency: str | None
    rounding: Literal["down", "nearest", "up"]
    minimum_order: int
    thresholds: list[ThresholdDoc]
    birthday_coupon: CouponTermsDoc | None
    referrer_coupon: NotRequired[CouponTermsDoc | None]
    referee_coupon: NotRequired[CouponTermsDoc | None]
    group_multipliers: NotRequired[dict[str, int]]  # group id -> whole percent (missing: none)
    points_expire_days: NotRequired[int | None]  # points of an earning expire after (None: never)
    starts_at: datetime | None
    ends_at: datetime | None
    effective_from: datetime  # = recorded_at: orders placed from then on earn by this version
    recorded_at: datetime


class ReferralCode(TypedDict):
    """code -> the customer who shares it (`_id` unique; the code comes from the customer id)."""

    _id: str
    customer_id: str


class Referral(TypedDict):
    """A referred customer's conversion, once ever (`_id` = the referee: unique)."""

    _id: str  # the referee's customer id
    referrer_id: str
    code: str
    order_id: str  # the first order
    at: datetime


class PendingReversal(TypedDict):
    """A refund or cancellation that arrived before its order's points were known here (events
    come in any order): applied when the order's points are recorded. `_id` =
    "<customer>:<order>:<cause>", inserted once."""

    _id: str
    order_key: str  # "<customer_id>:<order_id>", the OrderPoints id it waits for
    customer_id: str
    order_id: str
    cause: str
    refunded: int | None  # None: a cancellation, everything goes back
    currency: str | None
    refund_id: str | None
    # Parked under the e-mail (`_id` "email:<key>:<order>:<cause>", `customer_id` ""): the
    # customer was not known yet; taken over under the customer's id when it becomes known.
    email_key: NotRequired[str]


class PointsReversal(TypedDict):
    """A fact for the loyalty KPIs, written once after a reversal was committed (`_id` =
    "<customer>:<cause>"). A crash in between loses the fact, never the points' correctness."""

    _id: str
    customer_id: str
    order_id: str
    points: int  # taken back
    at: datetime


class BirthdayReward(TypedDict):
    """One per customer and year (`_id` unique): the birthday job's claim."""

    _id: str  # "<customer_id>:<year>"
    customer_id: str
    year: int
    code: str
    at: datetime


class RewardState(TypedDict):
    """One versioned document per customer. The members marked NotRequired came later: older
    stored states lack them (domain.rewards reads them with defaults)."""

    _id: NotRequired[str]  # on the projection only
    id: str  # the customer id
    version: int
    points: int  # towards the next coupon; never below 0
    earned_total: int
    coupons: list[Coupon]  # oldest first; the n-th has code domain.coupon_code(customer, n)
    reversed_total: NotRequired[int]  # points taken back by refunds and cancellations
    shares: NotRequired[list[OrderShare]]  # orders refunded or cancelled
    movements: NotRequired[list[PointsMovement]]  # newest last, the last rewards.MOVEMENTS_KEPT
    ladder: NotRequired[int]  # the highest threshold issued in the current cycle (not again)
    # The referral code given when the customer was created (CustomerState.referred_by): their
    # first order converts it; `referral_settled` once that order was looked at (converted or not).
    referred_by: NotRequired[str]
    referral_settled: NotRequired[bool]
    lots: NotRequired[list[PointsLot]]  # expiring points, soonest first; their sum <= points
    points_deadline: NotRequired[datetime | None]  # the soonest lot's expiry (the expiry job's query)
    expired_total: NotRequired[int]
    # customer.merged: this customer was merged into `merged_into`; `merged_out` is what moved
    merged_into: NotRequired[str]
    merged_out: NotRequired["MergedRewards"]


class MergedRewards(TypedDict):
    """What a merged customer's reward state handed to the kept customer (customer.merged)."""

    from_id: str
    into: str
    points: int
    lots: list[PointsLot]
    coupons: list[Coupon]  # unredeemed, as they are now the kept customer's


class OrderPoints(TypedDict):
    """What an order earned, written once after the points are granted (so a reversal that
    finds it finds them in the balance): a refund or a cancellation takes back from this,
    whatever the programme says by then."""

    _id: str  # "<customer_id>:<order_id>"
    customer_id: str
    order_id: str
    points: int
    total: int  # the order's total, minor units (0: unknown, for points parked before)
    currency: str | None
    at: datetime


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
    total: NotRequired[int]  # the order's, for taking points back in proportion
    currency: NotRequired[str]
    placed_at: NotRequired[datetime]  # which programme version the order earns by


class KnownCustomer(TypedDict):
    """A customer the ledger has heard of (customer.created / updated / registered). Written
    when first heard of or when what the ledger keeps of it changes, not for every event."""

    _id: str  # the customer id
    version: int
    email_key: str
    since: NotRequired[datetime]  # first heard of (missing: before this was recorded)
    birthday: NotRequired[str | None]  # "MM-DD" (the birthday job looks it up by equality)
    consent: NotRequired[bool]  # email_subscribed: marketing (a birthday coupon) is welcome
    referred_by: NotRequired[str | None]  # the code the customer came with, once noted
    # The code the customer shares (rewards.referral_code), looked up by equality; stored with
    # the first record of a customer (before that, and over HTTP: in `referral_codes`).
    referral_code: NotRequired[str]


class MergedCustomer(TypedDict):
    """customer.merged, as an insert: money no longer moves for `_id`; its balances, points and
    coupons went to `into`."""

    _id: str  # the merged customer id
    into: str
    event_id: str
    at: datetime


class ErasedCustomer(TypedDict):
    """customer.deleted, as an insert: no later (or reordered) customer event brings it back."""

    _id: str  # the customer id
    at: datetime


# -- groups: credit on account, learnt from group events ----------------------------------
class GroupTerms(TypedDict):
    """A group's terms as group.created / group.updated tell them (`group_terms`, insert-only:
    `_id` = "<group>:<version>"; group.deleted adds "<group>:deleted", `deleted` True, with
    the highest version, so no late event brings the group back)."""

    _id: str
    group_id: str
    version: int
    name: str
    credit_limits: dict[str, int]  # currency -> minor units the balance may go below zero
    payment_terms_days: int | None
    deleted: bool
    at: datetime


class MembershipChange(TypedDict):
    """One customer's part of a group.members.added / removed event (`group_memberships`,
    insert-only: `_id` = "<event id>:<customer id>"). Per (customer, group) the newest counts:
    by the pair's `version` (the event's `versions`), and for events without versions (older
    than them) by the event's `time`, a tie: removed."""

    _id: str
    group_id: str
    customer_id: str
    change: Literal["added", "removed"]
    version: int | None  # the (group, customer) pair's membership version; None: not given
    at: datetime


class CreditLine(TypedDict):
    """What a customer may spend below zero, from their groups (versioned `credit_lines`, one
    per customer, recomputed from `group_memberships` and `group_terms` when either changes):
    per currency the most generous limit among their groups. A purchase that would take the
    balance below zero reads its projection (one read by `_id`)."""

    _id: NotRequired[str]  # on the projection only
    id: str  # the customer id
    version: int
    group_ids: list[str]  # the customer's groups (not deleted), sorted
    limits: dict[str, int]  # currency -> minor units
    payment_terms_days: int | None  # the longest of the groups that give one
