"""A customer's addresses, with no I/O: several per customer, shipping or billing, at most one
default of each type (the first of a type becomes its default)."""

import hashlib
from datetime import datetime
from uuid import uuid4

from crm_customers.domain.documents import Address, AddressChanges, NewAddress, OrderAddress

_FINGERPRINT = (
    "first_name",
    "last_name",
    "company",
    "line1",
    "line2",
    "city",
    "province",
    "postal_code",
    "country_code",
)


def new_address_id() -> str:
    return f"addr_{uuid4().hex}"


def order_address_id(order_key: str) -> str:
    """Deterministic id for an address learned from an order, so a retry adds the same one."""
    return "addr_" + hashlib.sha256(order_key.encode()).hexdigest()[:32]


def fingerprint(address: OrderAddress) -> tuple[str, ...]:
    fields: dict[str, object] = dict(address)
    return tuple(str(fields.get(k) or "").strip().lower() for k in _FINGERPRINT)


def new_address(given: NewAddress, at: datetime) -> Address:
    return {"id": new_address_id(), **given, "created_at": at}


def _normalise_defaults(addresses: list[Address], prefer: str | None = None) -> list[Address]:
    """Exactly one default per type that has addresses; `prefer` (an id) wins its type."""
    out: list[Address] = [{**a} for a in addresses]
    for kind in {a["type"] for a in out}:
        same = [a for a in out if a["type"] == kind]
        chosen = next((a for a in same if a["id"] == prefer and a["is_default"]), None)
        chosen = chosen or next((a for a in same if a["is_default"]), None) or same[0]
        for a in same:
            a["is_default"] = a is chosen
    return out


def with_others(addresses: list[Address], others: list[Address]) -> list[Address]:
    """`addresses` and then `others`, one default per type (the first list's defaults stay)."""
    return _normalise_defaults([*addresses, *others])


def add(addresses: list[Address], address: Address) -> list[Address]:
    return _normalise_defaults([*addresses, address], prefer=address["id"])


def edit(addresses: list[Address], address_id: str, changes: AddressChanges) -> list[Address]:
    out: list[Address] = [{**a, **changes} if a["id"] == address_id else a for a in addresses]
    if changes.get("is_default") is False:
        # Un-defaulting leaves the type's default to another address when there is one.
        target = next(a for a in out if a["id"] == address_id)
        others = [a for a in out if a["type"] == target["type"] and a["id"] != address_id]
        if others:
            others[0]["is_default"] = True
    return _normalise_defaults(out, prefer=address_id if changes.get("is_default") else None)


def remove(addresses: list[Address], address_id: str) -> list[Address]:
    return _normalise_defaults([a for a in addresses if a["id"] != address_id])


def find(addresses: list[Address], address_id: str) -> Address | None:
    return next((a for a in addresses if a["id"] == address_id), None)


def learn_from_order(
    addresses: list[Address], order_key: str, shipping: OrderAddress | None, at: datetime
) -> list[Address]:
    """The shipping address of an order joins the customer's addresses when it is new."""
    if not shipping:
        return addresses
    if any(fingerprint(a) == fingerprint(shipping) for a in addresses):
        return addresses
    address: Address = {
        "id": order_address_id(order_key),
        "type": "shipping",
        "is_default": False,
        "first_name": shipping.get("first_name"),
        "last_name": shipping.get("last_name"),
        "company": shipping.get("company"),
        "line1": shipping["line1"],
        "line2": shipping.get("line2"),
        "city": shipping["city"],
        "province": shipping.get("province"),
        "postal_code": shipping.get("postal_code"),
        "country_code": shipping["country_code"],
        "phone": shipping.get("phone"),
        "created_at": at,
        "from_order": order_key,
    }
    return _normalise_defaults([*addresses, address])
