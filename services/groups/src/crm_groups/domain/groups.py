"""Groups: ids, names, a new group, an edit, the group as the API and its events show it."""

from collections.abc import Mapping
from datetime import datetime
from typing import Required, TypedDict
from uuid import uuid4

from crm_groups.domain.documents import GroupDoc, MetadataValue
from crm_groups.domain.metadata import MetadataLimits, merge_metadata, metadata_from_doc, metadata_to_doc


class GroupFields(TypedDict, total=False):
    """A new group's fields (besides metadata), as POST /groups gives them."""

    name: Required[str]
    description: str | None
    discount_percent: int | None
    price_tier: str | None
    priority: int | None


class GroupChanges(TypedDict, total=False):
    """The fields a PATCH gives (besides metadata); null clears, a null priority is 0."""

    name: str
    description: str | None
    discount_percent: int | None
    price_tier: str | None
    priority: int | None


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
    member_count: int
    created_at: datetime
    updated_at: datetime


class CustomerGroupView(GroupView):
    """A group of a customer's, with when the customer joined it."""

    added_at: datetime


def new_group_id() -> str:
    return f"grp_{uuid4().hex}"


def clean_name(name: str) -> str:
    """Surrounding and repeated whitespace are not part of a name."""
    return " ".join(name.split())


def name_key(name: str) -> str:
    """Names are unique case-insensitively: `Wholesale` and `WHOLESALE ` are one name."""
    return clean_name(name).casefold()


def new_group(
    group_id: str, fields: GroupFields, metadata: Mapping[str, MetadataValue], now: datetime
) -> GroupDoc:
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
    or None if nothing changes (then no event either). Raises InvalidMetadata."""
    new = doc.copy()
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
    if metadata_patch is not None:
        merged = merge_metadata(metadata_from_doc(doc.get("metadata")), metadata_patch, limits)
        new["metadata"] = metadata_to_doc(merged)
    if new == doc:
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
        "member_count": member_count,
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
    }
