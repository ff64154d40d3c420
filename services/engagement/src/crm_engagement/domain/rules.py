"""Pure rules: consent, the frequency limit, retries, message identity, signed links."""

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from crm_engagement.domain.documents import ConsentStatement, ContactDoc, FrequencySlot, SegmentMember
from crm_engagement.domain.templates import money


def consented(statements: Iterable[ConsentStatement]) -> bool:
    """Marketing consent: the newest statement decides; at the same time, an unsubscribe wins.
    No statement at all: no consent."""
    newest = max(statements, key=lambda s: (s["at"], not s["subscribed"]), default=None)
    return bool(newest and newest["subscribed"])


def current_members(records: Iterable[SegmentMember]) -> list[str]:
    """The customers in a segment: for each, the newest of its joins and leaves decides (at
    the same time, the leave)."""
    newest: dict[str, SegmentMember] = {}
    for r in records:
        seen = newest.get(r["customer_id"])
        if seen is None or (r["at_us"], not r["joined"]) > (seen["at_us"], not seen["joined"]):
            newest[r["customer_id"]] = r
    return sorted(c for c, r in newest.items() if r["joined"])


def slot_allowed(nth_previous: FrequencySlot | None, now: datetime, window: timedelta) -> bool:
    """Whether one more marketing mail fits: the slot `limit` places before the new one must
    have left the window. Slots carry non-decreasing times along their sequence, so then at
    most `limit` slots lie in any window ending now."""
    return nth_previous is None or nth_previous["at"] <= now - window


def retry_delay(attempt: int, base_seconds: float) -> timedelta:
    """Pause after the `attempt`-th failed try (1-based): base, 2 base, 4 base... at most 1 h."""
    return timedelta(seconds=min(base_seconds * 2 ** (attempt - 1), 3600.0))


def message_id(key: str) -> str:
    """A message's id follows from its cause, so the same cause can only ever make one."""
    return "msg_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: str, value: str) -> str:
    return _b64(hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()[:24])


def unsubscribe_token(secret: str, customer_id: str) -> str:
    """`<customer id>.<signature>`, URL-safe. It does not expire: an unsubscribe link in an
    old mail must keep working."""
    return f"{_b64(customer_id.encode())}.{_mac(secret, 'unsubscribe', customer_id)}"


def customer_of_token(secret: str, token: str) -> str | None:
    """The customer id a token was signed for, or None if it is not one of ours."""
    head, _, sig = token.partition(".")
    try:
        customer_id = _unb64(head).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not customer_id or not hmac.compare_digest(sig, _mac(secret, "unsubscribe", customer_id)):
        return None
    return customer_id


def customer_vars(
    contact: ContactDoc | None, email: str, first: str | None, last: str | None
) -> dict[str, Any]:
    first = contact["first_name"] if contact else first
    last = contact["last_name"] if contact else last
    return {
        "first_name": first or "",
        "last_name": last or "",
        "full_name": " ".join(p for p in (first, last) if p),
        "email": email,
        "categories": list(contact["categories"]) if contact else [],
    }


def order_vars(order: Any) -> dict[str, Any]:
    """The `order` variable from an order.placed payload."""
    return {
        "order_id": order.order_id,
        "total": money(order.total, order.currency),
        "currency": order.currency,
        "placed_at": order.placed_at.strftime("%Y-%m-%d %H:%M UTC"),
        "lines": [
            {
                "sku": i.sku,
                "name": i.name or i.sku,
                "category": i.category or "",
                "quantity": i.quantity,
                "unit_price": money(i.unit_price, order.currency),
            }
            for i in order.items
        ],
    }
