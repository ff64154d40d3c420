"""What each stored document of the segments service holds, written once (store.py keeps the
collections and their indexes). Times are UTC, cut to the millisecond as BSON keeps them."""

from datetime import datetime
from typing import Any, NotRequired, TypedDict

# profiles ---------------------------------------------------------------------------------------


class GroupRef(TypedDict):
    id: str
    name: str


class CreditHeld(TypedDict):
    """The newest ledger balance of one currency: the entry with the highest sequence wins."""

    balance: int
    sequence: int


class Profile(TypedDict):
    """`profiles`: the read model of one customer, built only from events. Each rule attribute
    (rules/attributes.py) is a field of the same name; money in minor units of the base currency."""

    _id: str  # the customer id
    version: NotRequired[int]  # of this profile: change n is `profiles_changes` "<id>:<n>" (store.py)
    active: bool  # the customer exists (created, not deleted): only active profiles are members
    deleted: bool  # a tombstone: no personal data, late events are ignored
    customer_version: int
    email: str | None
    email_key: NotRequired[str | None]  # crm_contracts.types.email_key: finds checkouts by e-mail
    email_domain: NotRequired[str | None]  # lower-cased, after the last "@"
    email_subscribed: bool | None
    has_account: bool | None
    status: NotRequired[str | None]  # "enabled" / "inactive"
    gender: NotRequired[str | None]
    birthday: NotRequired[datetime | None]  # the date at UTC midnight
    birthday_md: NotRequired[int | None]  # month * 100 + day, for anniversary()
    country: str | None  # upper-cased
    city: str | None
    city_code: NotRequired[str | None]  # Shopify's city code: letters and digits, lower-cased
    created_at: datetime | None
    abandoned_checkout_date: NotRequired[datetime | None]  # the latest checkout.abandoned
    customer_tags: list[str]
    number_of_orders: int  # every order, whatever its currency
    counted_orders: int  # orders in a currency that counts (base, or one with a rate)
    first_order_date: datetime | None
    last_order_date: datetime | None
    amount_spent: int
    average_order_value: int | None
    categories_purchased: list[str]
    products_purchased: list[str]
    groups: list[GroupRef]  # by id
    group_ids: list[str]
    customer_groups: list[str]  # the names, what rules see
    group_versions: NotRequired[dict[str, int]]  # group id -> the pair version applied last
    credit: dict[str, CreditHeld]  # by currency
    store_credit_balance: int


class ProfileFigures(TypedDict):
    """The fields of a profile analytics reads (a projection): RFM and the counters."""

    _id: str
    last_order_date: datetime | None
    number_of_orders: int
    amount_spent: int
    country: NotRequired[str | None]
    counted_orders: NotRequired[int]


class PendingCheckout(TypedDict):
    """`pending_checkouts`: a checkout.abandoned of an e-mail no profile has yet; applied and
    removed when a customer with that e-mail appears (or is erased)."""

    _id: str  # the checkout id
    email_key: str
    abandoned_at: datetime


# segments ---------------------------------------------------------------------------------------


class Segment(TypedDict):
    """`segments` (through VersionedStore, with `segments_changes`): one segment definition."""

    _id: str
    id: str
    version: int
    name: str
    rule: str  # the query text (docs/contract.md §3), parsed when used
    created_at: datetime
    updated_at: datetime


GONE = -1
"""SegmentRun version of a deleted segment whose members have all left."""


class SegmentRun(TypedDict):
    """`segment_runs`: which version of a segment the last batch computation covered. Before a
    deletion only `name` may be there (the name the `left` events carry)."""

    _id: str  # the segment id
    name: str
    version: NotRequired[int]  # GONE once a deleted segment's members have all left
    at: NotRequired[datetime]


# memberships ------------------------------------------------------------------------------------


class MembershipChange(TypedDict):
    """`membership_changes`: transition n of a (segment, customer) pair, inserted once with
    `_id` "<segment>|<customer>|<n>" and carrying its event (the outbox)."""

    _id: str
    segment_id: str
    customer_id: str
    n: int
    member: bool
    recorded_at: datetime
    outbox: NotRequired[list[dict[str, Any]]]  # left out when read back for a decision
    published: NotRequired[bool]


class MembershipState(TypedDict):
    """`memberships`: the newest state of a pair, `_id` "<segment>|<customer>"; only replaced
    by a higher n."""

    _id: str
    segment_id: str
    customer_id: str
    n: int
    member: bool
    since: datetime  # when change n was recorded


# groups -----------------------------------------------------------------------------------------


class Group(TypedDict):
    """`groups`: the newest known name of a customer group (group.updated is versioned)."""

    _id: str
    name: str
    version: int
    deleted: bool


# orders (issue 16: analytics per period) --------------------------------------------------------


class OrderLine(TypedDict):
    sku: str
    category: str | None
    quantity: int
    amount: int  # quantity * unit price, minor units of the order's currency


class OrderFact(TypedDict):
    """`orders`: one INSERTED document per storefront fact about an order, never changed but
    anonymised on erasure. `_id` is the order id for order.placed, "<order>|refund|<refund id or
    event id>" for order.refunded and "<order>|cancel" for order.cancelled, so a redelivered or
    re-sent event counts once."""

    _id: str
    kind: str  # "placed" / "refunded" / "cancelled"
    order_id: str
    customer_id: str | None  # as the storefront named it; else found by e-mail when read
    email_key: str | None  # None once the customer is erased
    at: datetime  # placed_at / refunded_at / cancelled_at
    currency: NotRequired[str]
    amount: NotRequired[int]  # placed: the total; refunded: the amount refunded
    items: NotRequired[list[OrderLine]]
    recorded_at: datetime


class MarketingSpend(TypedDict):
    """`marketing_spend`: money spent on one channel over a period, entered by staff."""

    _id: str
    id: str
    channel: str
    starts_at: datetime
    ends_at: datetime
    amount: int  # minor units
    currency: str
    note: str | None
    created_at: datetime
    updated_at: datetime


class PersonalDataRecord(TypedDict):
    """`personal_data`: an answer to personal_data.requested ("collected|<request>") or the
    confirmation of an erasure ("erased|<customer>"), inserted once with its event (the outbox)."""

    _id: str
    customer_id: str
    recorded_at: datetime
    outbox: list[dict[str, Any]]
    published: bool
