"""Buying on account, with no I/O: which groups a customer is in (from membership events
without versions: the newest per group by event time), and the credit line their groups give
(per currency the most generous limit; the longest payment terms)."""

from collections.abc import Iterable, Mapping
from datetime import datetime

from crm_ledger.domain.documents import CreditLine, GroupTerms, MembershipChange

DELETED_VERSION = 2**62
"""The version of a group's deletion record: above every real version."""


def current_groups(changes: Iterable[MembershipChange]) -> list[str]:
    """The groups the changes leave the customer in: per group the newest change decides, by
    the pair's version (events without one are older than every versioned one), then by the
    event's time (at the same time a removal wins). Sorted."""

    def order(c: MembershipChange) -> tuple[int, datetime, bool]:
        return (c.get("version") or 0, c["at"], c["change"] == "removed")

    newest: dict[str, MembershipChange] = {}
    for c in changes:
        seen = newest.get(c["group_id"])
        if seen is None or order(c) > order(seen):
            newest[c["group_id"]] = c
    return sorted(g for g, c in newest.items() if c["change"] == "added")


def newest_terms(versions: Iterable[GroupTerms]) -> GroupTerms | None:
    """A group's newest terms (its deletion record, if deleted)."""
    return max(versions, key=lambda t: t["version"], default=None)


def credit_line(
    customer_id: str, version: int, groups: Iterable[str], terms: Mapping[str, GroupTerms | None]
) -> CreditLine:
    """The customer's credit line of `version` from their groups and those groups' newest terms
    (a group deleted or not heard of yet gives nothing, and a deleted one is no group)."""
    kept: list[str] = []
    limits: dict[str, int] = {}
    days: int | None = None
    for group_id in sorted(set(groups)):
        t = terms.get(group_id)
        if t is not None and t["deleted"]:
            continue
        kept.append(group_id)
        if t is None:
            continue
        for currency, amount in t["credit_limits"].items():
            limits[currency] = max(limits.get(currency, 0), amount)
        if t["payment_terms_days"] is not None:
            days = max(days or 0, t["payment_terms_days"])
    return {
        "id": customer_id,
        "version": version,
        "group_ids": kept,
        "limits": {c: a for c, a in sorted(limits.items()) if a > 0},
        "payment_terms_days": days,
    }


def same_line(a: CreditLine | None, b: CreditLine) -> bool:
    if a is None:
        return not b["group_ids"] and not b["limits"] and b["payment_terms_days"] is None
    return (a["group_ids"], a["limits"], a["payment_terms_days"]) == (
        b["group_ids"],
        b["limits"],
        b["payment_terms_days"],
    )
