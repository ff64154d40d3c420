"""A customer's addresses, with no I/O: several per customer, shipping or billing, at most one
default of each type (the first of a type becomes its default)."""

import hashlib
from typing import Any
from uuid import uuid4

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


def fingerprint(address: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(address.get(k) or "").strip().lower() for k in _FINGERPRINT)


def _normalise_defaults(addresses: list[dict[str, Any]], prefer: str | None = None) -> list[dict[str, Any]]:
    """Exactly one default per type that has addresses; `prefer` (an id) wins its type."""
    out = [dict(a) for a in addresses]
    for kind in {a["type"] for a in out}:
        same = [a for a in out if a["type"] == kind]
        chosen = next((a for a in same if a["id"] == prefer and a.get("is_default")), None)
        chosen = chosen or next((a for a in same if a.get("is_default")), None) or same[0]
        for a in same:
            a["is_default"] = a is chosen
    return out


def add(addresses: list[dict[str, Any]], address: dict[str, Any]) -> list[dict[str, Any]]:
    return _normalise_defaults([*addresses, address], prefer=address["id"])


def edit(addresses: list[dict[str, Any]], address_id: str, changes: dict[str, Any]) -> list[dict[str, Any]]:
    out = [{**a, **changes} if a["id"] == address_id else a for a in addresses]
    if changes.get("is_default") is False:
        # Un-defaulting leaves the type's default to another address when there is one.
        target = next(a for a in out if a["id"] == address_id)
        others = [a for a in out if a["type"] == target["type"] and a["id"] != address_id]
        if others:
            others[0]["is_default"] = True
    return _normalise_defaults(out, prefer=address_id if changes.get("is_default") else None)


def remove(addresses: list[dict[str, Any]], address_id: str) -> list[dict[str, Any]]:
    return _normalise_defaults([a for a in addresses if a["id"] != address_id])


def find(addresses: list[dict[str, Any]], address_id: str) -> dict[str, Any] | None:
    return next((a for a in addresses if a["id"] == address_id), None)


def learn_from_order(
    addresses: list[dict[str, Any]], order_key: str, shipping: dict[str, Any] | None, at: Any
) -> list[dict[str, Any]]:
    """The shipping address of an order joins the customer's addresses when it is new."""
    if not shipping:
        return addresses
    if any(fingerprint(a) == fingerprint(shipping) for a in addresses):
        return addresses
    address = {
        "id": order_address_id(order_key),
        "type": "shipping",
        "is_default": False,
        **{k: shipping.get(k) for k in (*_FINGERPRINT, "phone")},
        "created_at": at,
        "from_order": order_key,
    }
    return _normalise_defaults([*addresses, address])
