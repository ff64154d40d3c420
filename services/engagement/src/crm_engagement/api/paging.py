"""Cursors of the ticket and review lists: the sort's name and the last item's sort values."""

from typing import Any

from crm_engagement.domain import keyset
from crm_servicekit.pagination import BadCursor, decode_cursor, encode_cursor


def after(cursor: str | None, sort_name: str, sort: keyset.Sort) -> list[Any] | None:
    raw = decode_cursor(cursor, "s", "k")
    if raw is None:
        return None
    key = keyset.load(raw["k"], sort)
    if raw["s"] != sort_name or key is None:
        raise BadCursor()  # another list's cursor, or another sort's
    return key


def page(docs: list[Any], limit: int, sort_name: str, sort: keyset.Sort) -> tuple[list[Any], str | None]:
    """The page's items and the cursor of the next page (None: this is the last)."""
    more = len(docs) > limit
    docs = docs[:limit]
    if not (more and docs):
        return docs, None
    return docs, encode_cursor({"s": sort_name, "k": keyset.dump(keyset.values(dict(docs[-1]), sort))})
