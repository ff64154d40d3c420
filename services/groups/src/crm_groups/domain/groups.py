"""Groups: ids, names, a new group, an edit, the group as the API and its events show it."""

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Required, TypedDict
from uuid import NAMESPACE_URL, uuid4, uuid5

from crm_groups.domain.documents import CreditLimit, GroupDoc, MetadataValue
from crm_groups.domain.metadata import MetadataLimits, merge_metadata, metadata_from_doc, metadata_to_doc
from crm_servicekit.errors import Invalid


class GroupFields(TypedDict, total=False):
    """A new group's fields (besides metadata), as POST /groups gives them."""

    name: Required[str]
    description: str | None
    discount_percent: int | None
    price_tier: str | None
    priority: int | None
    payment_terms_days: int | None
    credit_limits: list[CreditLimit] | None


class GroupChanges(TypedDict, total=False):
    """The fields a PATCH gives (besides metadata); null clears, a null priority is 0."""

    name: str
    description: str | None
    discount_percent: int | None
    price_tier: str | None
    priority: int | None
    payment_terms_days: int | None
    credit_limits: list[CreditLimit] | None


class GroupView(TypedDict):
    """The group as the API and group.created / group.updated show it."""

    id: str
    version: int
    name: str
    description: str | None
    metadata: dict[str, MetadataValue]
    discount_percent: int | None
    price_tier: str | None
    priority: int
    payment_terms_days: int | None
    credit_limits: list[CreditLimit]
    member_count: int
    created_at: datetime
    updated_at: datetime


class CustomerGroupView(GroupView):
    """A group of a customer's, with when the customer joined it."""

    added_at: datetime


def new_group_id() -> str:
    return f"grp_{uuid4().hex}"


def default_group_id(key: str) -> str:
    """The same id on every replica for a default group (its name key): created once."""
    return f"grp_{uuid5(NAMESPACE_URL, f'crm-groups:default:{key}').hex}"


def clean_name(name: str) -> str:
    """Surrounding and repeated whitespace are not part of a name."""
    return " ".join(name.split())


def name_key(name: str) -> str:
    """Names are unique case-insensitively: `Wholesale` and `WHOLESALE ` are one name."""
    return clean_name(name).casefold()


def credit_limits(limits: list[CreditLimit] | None) -> list[CreditLimit]:
    """The limits sorted by currency; Invalid (naming `credit_limits`) if a currency repeats."""
    out: list[CreditLimit] = sorted(
        ({"currency": c["currency"], "amount": c["amount"]} for c in limits or []),
        key=lambda c: c["currency"],
    )
    repeated = sorted(c for c, n in Counter(c["currency"] for c in out).items() if n > 1)
    if repeated:
        message = f"one limit per currency; repeated: {', '.join(repeated)}"
        raise Invalid(f"credit_limits: {message}", errors=[{"field": "credit_limits", "message": message}])
    return out


def new_group(
    group_id: str, fields: GroupFields, metadata: Mapping[str, MetadataValue], now: datetime
) -> GroupDoc:
    """Raises Invalid (a currency repeated in credit_limits)."""
    name = clean_name(fields["name"])
    return {
        "_id": group_id,
        "id": group_id,
        "version": 1,
        "name": name,
        "name_key": name_key(name),
        "description": fields.get("description"),
        "metadata": metadata_to_doc(metadata),
        "discount_percent": fields.get("discount_percent"),
        "price_tier": fields.get("price_tier"),
        "priority": fields.get("priority") or 0,
        "payment_terms_days": fields.get("payment_terms_days"),
        "credit_limits": credit_limits(fields.get("credit_limits")),
        "created_at": now,
        "updated_at": now,
    }


def edited(
    doc: GroupDoc,
    changes: GroupChanges,
    metadata_patch: Mapping[str, object] | None,
    limits: MetadataLimits,
    now: datetime,
) -> GroupDoc | None:
    """The next version of `doc` with `changes` (fields given in a PATCH, null clears) applied,
    or None if nothing changes (then no event either). Raises InvalidMetadata, Invalid."""
    new = doc.copy()
    # Groups stored before payment terms existed: absent is the same as none.
    new.setdefault("payment_terms_days", None)
    new.setdefault("credit_limits", [])
    if "name" in changes:
        new["name"] = clean_name(changes["name"])
        new["name_key"] = name_key(changes["name"])
    if "description" in changes:
        new["description"] = changes["description"]
    if "discount_percent" in changes:
        new["discount_percent"] = changes["discount_percent"]
    if "price_tier" in changes:
        new["price_tier"] = changes["price_tier"]
    if "priority" in changes:
        new["priority"] = changes["priority"] or 0
    if "payment_terms_days" in changes:
        new["payment_terms_days"] = changes["payment_terms_days"]
    if "credit_limits" in changes:  # the whole list is replaced; null or [] clears it
        new["credit_limits"] = credit_limits(changes["credit_limits"])
    if metadata_patch is not None:
        merged = merge_metadata(metadata_from_doc(doc.get("metadata")), metadata_patch, limits)
        new["metadata"] = metadata_to_doc(merged)
    if new == {"payment_terms_days": None, "credit_limits": [], **doc}:
        return None
    new["version"] = doc["version"] + 1
    new["updated_at"] = now
    return new


def group_view(doc: GroupDoc, member_count: int) -> GroupView:
    return {
        "id": doc["id"],
        "version": doc["version"],
        "name": doc["name"],
        "description": doc.get("description"),
        "metadata": metadata_from_doc(doc.get("metadata")),
        "discount_percent": doc.get("discount_percent"),
        "price_tier": doc.get("price_tier"),
        "priority": doc.get("priority", 0),
        "payment_terms_days": doc.get("payment_terms_days"),
        "credit_limits": list(doc.get("credit_limits") or []),
        "member_count": member_count,
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
    }
