"""Group rules with no I/O: names, metadata, pricing resolution, how documents look."""

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import uuid4

T = TypeVar("T")

MetadataValue = str | int | float | bool


def new_group_id() -> str:
    return f"grp_{uuid4().hex}"


def clean_name(name: str) -> str:
    """Surrounding and repeated whitespace are not part of a name."""
    return " ".join(name.split())


def name_key(name: str) -> str:
    """Names are unique case-insensitively: `Wholesale` and `WHOLESALE ` are one name."""
    return clean_name(name).casefold()


def unique(ids: Iterable[str]) -> list[str]:
    """The ids without repeats, in their first order."""
    return list(dict.fromkeys(ids))


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- metadata -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetadataLimits:
    max_keys: int = 50
    max_key_length: int = 40
    max_value_length: int = 500


# Keys end up as document field names in the stored events (the outbox), where MongoDB and
# FerretDB refuse '.' and a leading '$'; a plain charset keeps every key storable and portable.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_:-]+")


class InvalidMetadata(ValueError):
    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def merge_metadata(
    current: Mapping[str, MetadataValue], patch: Mapping[str, Any], limits: MetadataLimits
) -> dict[str, MetadataValue]:
    """PATCH semantics: a key set to null is removed, any other value sets the key.
    Values are strings (bounded), numbers or booleans: metadata is for integrations' ids and
    flags, not documents."""
    out = dict(current)
    errors: list[dict[str, str]] = []
    for key, value in patch.items():
        field = f"metadata.{key}"
        if not 1 <= len(key) <= limits.max_key_length:
            errors.append({"field": field, "message": f"keys are 1 to {limits.max_key_length} characters"})
        elif not KEY_PATTERN.fullmatch(key):
            errors.append({"field": field, "message": "keys hold letters, digits, '_', '-' and ':' only"})
        elif value is None:
            out.pop(key, None)
        elif isinstance(value, str):
            if len(value) > limits.max_value_length:
                errors.append(
                    {"field": field, "message": f"values are at most {limits.max_value_length} characters"}
                )
            else:
                out[key] = value
        elif isinstance(value, bool) or (isinstance(value, int) and abs(value) < 2**53):
            out[key] = value
        elif isinstance(value, float) and math.isfinite(value):
            out[key] = value
        else:
            errors.append({"field": field, "message": "values are strings, numbers, booleans or null"})
    if not errors and len(out) > limits.max_keys:
        errors.append({"field": "metadata", "message": f"at most {limits.max_keys} keys per group"})
    if errors:
        raise InvalidMetadata(errors)
    return out


def metadata_to_doc(metadata: Mapping[str, MetadataValue]) -> list[dict[str, Any]]:
    """Stored as a list of {k, v}: any key is then a legal document (dots, `$`...)."""
    return [{"k": k, "v": v} for k, v in metadata.items()]


def metadata_from_doc(stored: list[dict[str, Any]] | None) -> dict[str, MetadataValue]:
    return {item["k"]: item["v"] for item in stored or []}


# --- groups ---------------------------------------------------------------------------------

PRICING_FIELDS = ("discount_percent", "price_tier", "priority")


def new_group(
    group_id: str, fields: Mapping[str, Any], metadata: dict[str, MetadataValue], now: datetime
) -> dict[str, Any]:
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
    doc: dict[str, Any],
    changes: Mapping[str, Any],
    metadata_patch: Mapping[str, Any] | None,
    limits: MetadataLimits,
    now: datetime,
) -> dict[str, Any] | None:
    """The next version of `doc` with `changes` (fields given in a PATCH, null clears) applied,
    or None if nothing changes (then no event either)."""
    new = dict(doc)
    for field, value in changes.items():
        if field == "name":
            new["name"] = clean_name(value)
            new["name_key"] = name_key(value)
        elif field == "priority":
            new["priority"] = value or 0
        else:
            new[field] = value
    if metadata_patch is not None:
        merged = merge_metadata(metadata_from_doc(doc.get("metadata")), metadata_patch, limits)
        new["metadata"] = metadata_to_doc(merged)
    if new == doc:
        return None
    new["version"] = doc["version"] + 1
    new["updated_at"] = now
    return new


def group_view(doc: Mapping[str, Any], member_count: int) -> dict[str, Any]:
    """The group as the API and group.created / group.updated show it."""
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


# --- pricing --------------------------------------------------------------------------------


def has_pricing(group: Mapping[str, Any]) -> bool:
    return group.get("discount_percent") is not None or bool(group.get("price_tier"))


def _rank(group: Mapping[str, Any]) -> tuple[Any, ...]:
    # Highest priority first, then the best discount, then the oldest group, then the id:
    # the answer is the same on every call, whatever order the groups are read in.
    return (
        -(group.get("priority") or 0),
        -(group.get("discount_percent") or 0),
        group["created_at"],
        group["id"],
    )


def applicable_pricing(
    groups: Iterable[Mapping[str, Any]],
) -> tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]:
    """Of a customer's groups, the one whose pricing applies (None if no group has pricing),
    and every group with pricing in the order they were weighed."""
    ranked = sorted((g for g in groups if has_pricing(g)), key=_rank)
    return (ranked[0] if ranked else None), ranked
