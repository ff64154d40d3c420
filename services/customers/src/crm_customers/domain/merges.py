"""Merging two customer records (staff), with no I/O: what the kept record takes of the other."""

from crm_customers.domain import addresses as addrs
from crm_customers.domain.customer import clean_tags
from crm_customers.domain.documents import Address, Customer
from crm_servicekit.errors import Conflict, Invalid


def merged_into(kept: Customer, other: Customer) -> tuple[Customer, int, list[str]]:
    """The kept record with the other's addresses (those it does not have already; its own
    defaults stay) and tags. Returns (kept, addresses added, tags added)."""
    known = {(a["type"], addrs.fingerprint(a)) for a in kept["addresses"]}
    added: list[Address] = [
        {**a, "is_default": False}
        for a in other["addresses"]
        if (a["type"], addrs.fingerprint(a)) not in known
    ]
    new_tags = [t for t in clean_tags(other["tags"]) if t not in kept["tags"]]
    out: Customer = {
        **kept,
        "addresses": addrs.with_others(kept["addresses"], added),
        "tags": [*kept["tags"], *new_tags],
    }
    return out, len(added), new_tags


def same_record(customer_id: str) -> Invalid:
    return Invalid(
        "a customer cannot be merged into itself",
        errors=[{"field": "from_customer_id", "message": "must be another customer"}],
    )


def already_merged(merged_id: str, kept_id: str) -> Conflict:
    return Conflict(
        "already-merged",
        "Already merged",
        f"customer {merged_id} was merged into {kept_id}",
        kept_id=kept_id,
    )
