"""Search and list queries, with no I/O: a filter and sort that an index answers, plus the
keyset cursor. Every field filtered or sorted on here has an index in
`crm_customers.store.SEARCH_INDEXES` (tests/unit/customers/test_domain.py checks that each
query built here is covered by one)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from crm_customers.domain.documents import Customer

Sort = Literal["name", "-name", "created_at", "-created_at", "total_spent", "-total_spent"]

SORT_FIELDS = {"name": "name_sort", "created_at": "created_at", "total_spent": "spent_base"}
PREFIX_FIELDS = ("email_key", "first_key", "last_key", "name_key")
FILTER_FIELDS = ("group_ids", "tags", "has_account", "status", "sales_agent_id")

ASCENDING, DESCENDING = 1, -1  # pymongo's values, without importing pymongo here


@dataclass(frozen=True)
class After:
    """Where a page starts: after the document with this sort value and id."""

    value: str | int | datetime
    id: str


@dataclass(frozen=True)
class Query:
    filter: dict[str, Any]
    sort: list[tuple[str, int]]
    field: str


def prefix_range(prefix: str) -> dict[str, str]:
    return {"$gte": prefix, "$lt": prefix + "\uffff"}


def build(
    *,
    q: str | None = None,
    has_account: bool | None = None,
    group_id: str | None = None,
    tag: str | None = None,
    status: str | None = None,
    sales_agent_id: str | None = None,
    sort: Sort = "-created_at",
    after: After | None = None,
) -> Query:
    clauses: list[dict[str, Any]] = []
    for field, value in (
        ("has_account", has_account),
        ("group_ids", group_id),
        ("tags", tag),
        ("status", status),
        ("sales_agent_id", sales_agent_id),
    ):
        if value is not None:
            clauses.append({field: value})
    if q and q.strip():
        p = q.strip().lower()
        # An "@" can only be in an e-mail: one range, not four.
        fields = ("email_key",) if "@" in p else PREFIX_FIELDS
        clauses.append({"$or": [{f: prefix_range(p)} for f in fields]})
    field = SORT_FIELDS[sort.lstrip("-")]
    direction = DESCENDING if sort.startswith("-") else ASCENDING
    if after is not None:
        op = "$lt" if direction == DESCENDING else "$gt"
        v, i = after.value, after.id
        clauses.append({"$or": [{field: {op: v}}, {field: v, "_id": {op: i}}]})
    filt: dict[str, Any] = {"$and": clauses} if len(clauses) > 1 else (clauses[0] if clauses else {})
    return Query(filt, [(field, direction), ("_id", direction)], field)


def cursor_of(doc: Customer, query: Query) -> dict[str, Any]:
    """What the cursor after `doc` holds (JSON-ready)."""
    value = {"name_sort": doc["name_sort"], "created_at": doc["created_at"], "spent_base": doc["spent_base"]}[
        query.field
    ]
    return {"v": value.isoformat() if isinstance(value, datetime) else value, "id": doc["_id"]}


def decode_after(raw: dict[str, Any] | None, sort: Sort) -> After | None:
    """The cursor's sort value back in the type the field holds; ValueError if not a cursor."""
    if raw is None:
        return None
    if not isinstance(raw.get("id"), str) or "v" not in raw:
        raise ValueError("cursor")
    field = SORT_FIELDS[sort.lstrip("-")]
    v = raw["v"]
    if field == "created_at":
        v = datetime.fromisoformat(v)
    elif field == "spent_base" and not isinstance(v, int):
        raise ValueError("cursor")
    elif field == "name_sort" and not isinstance(v, str):
        raise ValueError("cursor")
    return After(v, raw["id"])
