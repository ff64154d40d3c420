"""What every stored document of the groups service holds (collections in store.py)."""

from datetime import datetime
from typing import Any, NotRequired, TypedDict

MetadataValue = str | int | float | bool


class MetadataItem(TypedDict):
    """One metadata pair: stored as a list of {k, v}, any key is then a legal document."""

    k: str
    v: MetadataValue


class CreditLimit(TypedDict):
    """How far below zero a member's balance may go in one currency (buying on account)."""

    currency: str
    amount: int  # minor units, >= 0


class GroupDoc(TypedDict):
    """`groups` (the current state) and the `state` of a `groups_changes` record."""

    _id: str
    id: str
    version: int
    name: str
    name_key: str  # the name compared case- and space-insensitively: unique
    description: str | None
    metadata: list[MetadataItem]
    discount_percent: int | None
    price_tier: str | None
    priority: int
    payment_terms_days: NotRequired[int | None]  # net days to pay an invoice; absent: none
    credit_limits: NotRequired[list[CreditLimit]]  # at most one per currency
    created_at: datetime
    updated_at: datetime


class NameClaim(TypedDict):
    """`group_names`: the group holding a name key (a unique _id)."""

    _id: str  # the name key
    group_id: str
    claimed_at: datetime


class MembershipDoc(TypedDict):
    """`memberships`: one per (group, customer)."""

    _id: str  # "<group_id>:<customer_id>"
    group_id: str
    customer_id: str
    added_at: datetime
    op: str  # the change that added it
    v: NotRequired[int]  # the version of its add (membership_versions), once settled


class MembershipVersion(TypedDict):
    """`membership_versions`: one change of one (group, customer) pair, inserted once with a
    unique `_id` = "<group_id>:<customer_id>:<v>": the unique key decides the pair's version
    (1 for its first add, then +1 for every add or remove)."""

    _id: str
    group_id: str
    customer_id: str
    pair: str  # "<group_id>:<customer_id>": the pair's changes are looked up by it
    v: int
    change: str  # "added" | "removed"
    member: str  # the change that added the membership concerned
    op: str  # the change that made this one
    at: datetime


class RemovalClaim(TypedDict):
    """`membership_removals`: the claim of one membership's removal by one change."""

    _id: str  # "<group_id>:<customer_id>:<adding change>"
    by: str  # the removing change
    at: datetime


class Removing(TypedDict):
    """A membership a change removes: customer id and the change that had added it."""

    c: str
    op: str


class MembershipOp(TypedDict):
    """`membership_ops`: the work record of one membership change."""

    _id: str
    group_id: str
    group_name: str
    add: NotRequired[list[str]]  # the requested ids: dropped once done
    remove: NotRequired[list[str]]
    removing: NotRequired[list[Removing]]  # noted before the removals are deleted
    started_at: datetime
    done: bool


class MembershipEvents(TypedDict):
    """`membership_events` (an outbox source): the events of one finished change."""

    _id: str  # the change id
    group_id: str
    added: int
    removed: int
    recorded_at: datetime
    outbox: list[dict[str, Any]]  # event envelopes
    published: bool


class Spend(TypedDict):
    """What a customer has spent in one currency, as the customers service counts it
    (cancelled orders left out, refunds deducted): from `stats.per_currency` of its events."""

    currency: str
    orders: int
    total_spent: int  # minor units


class KnownCustomer(TypedDict):
    """`known_customers`: a customer this service has seen, from customer events."""

    _id: str
    version: NotRequired[int]  # absent when erasure was the first thing seen
    deleted: bool
    spend: NotRequired[list[Spend]]  # of the newest version seen; dropped on erasure
    buyer: NotRequired[bool]  # has at least one order that counts: the analytics scan these


class PersonalDataExport(TypedDict):
    """`personal_data_exports` (an outbox source, deleted once published): the answer to one
    personal_data.requested, inserted once per request (unique `_id` = the request id)."""

    _id: str
    customer_id: str
    recorded_at: datetime
    outbox: list[dict[str, Any]]
    published: bool


class ErasurePlan(TypedDict):
    """`erasure_plans`: what a customer's erasure found to erase, inserted once before it erases
    anything, so that a redelivered customer.deleted reports the same counts."""

    _id: str  # the customer id
    memberships: int
    membership_changes: int
    customer: int  # 1: a known customer's record (what it spent) was anonymised
    planned_at: datetime


class ErasureRecord(TypedDict):
    """`erasures` (an outbox source): the personal_data.erased of one customer, inserted once
    (unique `_id` = the customer id) after the erasure is done."""

    _id: str
    recorded_at: datetime
    outbox: list[dict[str, Any]]
    published: bool


class GroupDeletion(TypedDict):
    """`group_deletions`: a deletion whose memberships may still need clearing."""

    _id: str  # the group id
    started_at: datetime


class PriceDoc(TypedDict):
    """`group_prices` (an outbox source): one entry of a group's price list, with the
    group.pricing.updated event of its creation (the entry and its event are one insert).

    Either a fixed `amount` for one SKU in one currency, or `percent_off` for one SKU or for
    every SKU (`sku` None), in one currency or in every currency (`currency` None)."""

    _id: str  # the entry id, "prc_..."
    id: str
    group_id: str
    sku: str | None
    sku_key: str  # the sku, or "*" for every SKU: the equality lookups use it
    currency: str | None
    amount: int | None  # minor units
    percent_off: int | None  # whole percent
    starts_at: datetime | None  # inclusive; None: always began
    ends_at: datetime | None  # exclusive; None: never ends
    created_at: datetime
    recorded_at: datetime
    outbox: list[dict[str, Any]]
    published: bool


class PriceRemoval(TypedDict):
    """`price_removals` (an outbox source): the removal of one price-list entry, inserted once
    (unique `<entry id>:removed`) before the entry is deleted, so it is announced once."""

    _id: str
    group_id: str
    recorded_at: datetime
    outbox: list[dict[str, Any]]
    published: bool


class DefaultGroupClaim(TypedDict):
    """`default_groups`: a default group of the installation, created at most once (unique
    `_id` = its name key), whoever starts first; `done` once it exists (or its name was taken)."""

    _id: str  # the name key
    group_id: str  # deterministic from the name: every replica creates the same group
    name: str
    claimed_at: datetime
    done: bool
