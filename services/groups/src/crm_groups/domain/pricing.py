"""Group pricing: which of a customer's groups decides the discount and price tier."""

from collections.abc import Iterable
from datetime import datetime

from crm_groups.domain.documents import GroupDoc


def has_pricing(group: GroupDoc) -> bool:
    return group.get("discount_percent") is not None or bool(group.get("price_tier"))


def _rank(group: GroupDoc) -> tuple[int, int, datetime, str]:
    # Highest priority first, then the best discount, then the oldest group, then the id:
    # the answer is the same on every call, whatever order the groups are read in.
    return (
        -(group.get("priority") or 0),
        -(group.get("discount_percent") or 0),
        group["created_at"],
        group["id"],
    )


def applicable_pricing(groups: Iterable[GroupDoc]) -> tuple[GroupDoc | None, list[GroupDoc]]:
    """Of a customer's groups, the one whose pricing applies (None if no group has pricing),
    and every group with pricing in the order they were weighed."""
    ranked = sorted((g for g in groups if has_pricing(g)), key=_rank)
    return (ranked[0] if ranked else None), ranked
