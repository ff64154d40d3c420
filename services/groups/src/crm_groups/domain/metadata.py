"""Group metadata: what keys and values may hold, PATCH merging, the stored form."""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from crm_groups.domain.documents import MetadataItem, MetadataValue
from crm_servicekit.errors import Invalid


@dataclass(frozen=True)
class MetadataLimits:
    max_keys: int = 50
    max_key_length: int = 40
    max_value_length: int = 500


# Keys end up as document field names in the stored events (the outbox), where MongoDB and
# FerretDB refuse '.' and a leading '$'; a plain charset keeps every key storable and portable.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_:-]+")


class InvalidMetadata(Invalid):
    """422 validation-error naming each `metadata.<key>` (or `metadata`) at fault."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
        self.errors = errors


def merge_metadata(
    current: Mapping[str, MetadataValue], patch: Mapping[str, object], limits: MetadataLimits
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


def metadata_to_doc(metadata: Mapping[str, MetadataValue]) -> list[MetadataItem]:
    """Stored as a list of {k, v}: any key is then a legal document (dots, `$`...)."""
    return [{"k": k, "v": v} for k, v in metadata.items()]


def metadata_from_doc(stored: list[MetadataItem] | None) -> dict[str, MetadataValue]:
    return {item["k"]: item["v"] for item in stored or []}
