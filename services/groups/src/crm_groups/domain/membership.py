"""Membership changes: the rules a bulk add/remove request must keep, and batching."""

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from crm_servicekit.errors import Invalid

T = TypeVar("T")


def unique(ids: Iterable[str]) -> list[str]:
    """The ids without repeats, in their first order."""
    return list(dict.fromkeys(ids))


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def check_change(add: Sequence[str], remove: Sequence[str], limit: int) -> None:
    """At most `limit` ids in each list, and no id in both. Raises Invalid naming the lists."""
    errors = [
        {"field": f, "message": f"at most {limit} ids per call"}
        for f, ids in (("add", add), ("remove", remove))
        if len(ids) > limit
    ]
    both = sorted(set(add) & set(remove))
    if both:
        errors.append({"field": "remove", "message": f"ids both added and removed: {', '.join(both[:20])}"})
    if errors:
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


class UnknownCustomers(Invalid):
    """Ids in `add` of customers this service has not seen (or that were erased)."""

    def __init__(self, unknown: list[str]) -> None:
        super().__init__(
            f"{len(unknown)} customer id(s) in add are unknown",
            slug="unknown-customers",
            title="Unknown customers",
            errors=[{"field": "add", "message": "unknown customer ids"}],
            unknown_customer_ids=unknown,
        )
