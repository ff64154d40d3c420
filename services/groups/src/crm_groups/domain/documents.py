"""What every stored document of the groups service holds (collections in store.py)."""

from datetime import datetime
from typing import Any, NotRequired, TypedDict

MetadataValue = str | int | float | bool


class MetadataItem(TypedDict):
    """One metadata pair: stored as a list of {k, v}, any key is then a legal document."""

    k: str
    v: MetadataValue


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


class KnownCustomer(TypedDict):
    """`known_customers`: a customer this service has seen, from customer events."""

    _id: str
    version: NotRequired[int]  # absent when erasure was the first thing seen
    deleted: bool


class GroupDeletion(TypedDict):
    """`group_deletions`: a deletion whose memberships may still need clearing."""

    _id: str  # the group id
    started_at: datetime
