"""Cursor pagination: `?limit=&cursor=` -> {"items": [...], "next_cursor": "..." | null}.
A cursor is the sort key of the last item returned, opaque to clients (base64url JSON)."""

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from crm_servicekit.errors import Invalid

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=500, description="Page size")]
Cursor = Annotated[str | None, Query(max_length=2000, description="next_cursor of the previous page")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode().rstrip("=")


class BadCursor(Invalid):
    """A cursor this API did not hand out (or one whose sort key no longer fits)."""

    def __init__(self) -> None:
        super().__init__(
            "cursor is not a cursor this API returned",
            errors=[{"field": "cursor", "message": "invalid cursor"}],
        )


def decode_cursor(cursor: str | None, *keys: str) -> dict[str, Any] | None:
    """The sort key a cursor holds; `keys` are the members it must have. Raises BadCursor."""
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise BadCursor() from None
    if not isinstance(value, dict) or any(k not in value for k in keys):
        raise BadCursor()
    return value
