"""Keyset paging over a sort of several fields: the filter that selects what comes after the
last item of a page. Pure; the lists of tickets and reviews use it with their own sorts."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

Sort = Sequence[tuple[str, int]]
"""(field, 1 ascending | -1 descending), ending with `_id` so that the order is total."""


def after(sort: Sort, last: Sequence[Any]) -> dict[str, Any]:
    """Documents strictly after the one whose sort values are `last`: for fields a, b, c,
    (a beyond) or (a equal, b beyond) or (a, b equal, c beyond)."""
    branches: list[dict[str, Any]] = []
    for i, (field, direction) in enumerate(sort):
        branch: dict[str, Any] = {f: last[j] for j, (f, _) in enumerate(sort[:i])}
        branch[field] = {"$gt" if direction == 1 else "$lt": last[i]}
        branches.append(branch)
    return {"$or": branches}


def values(doc: dict[str, Any], sort: Sort) -> list[Any]:
    return [doc[field] for field, _ in sort]


def combine(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    if not clauses:
        return {}
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def dump(key: Sequence[Any]) -> list[Any]:
    """Sort values as JSON for a cursor: times as {"t": RFC 3339}, so they come back as times
    (a time compared with a string matches nothing)."""
    return [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in key]


def load(raw: Any, sort: Sort) -> list[Any] | None:
    """The sort values of a cursor, or None if it is not a key of this sort."""
    if not isinstance(raw, list) or len(raw) != len(sort):
        return None
    out: list[Any] = []
    for v in raw:
        if isinstance(v, dict):
            try:
                out.append(datetime.fromisoformat(v["t"]))
            except (KeyError, TypeError, ValueError):
                return None
        elif v is None or isinstance(v, str | int):
            out.append(v)
        else:
            return None
    return out
