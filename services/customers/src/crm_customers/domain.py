"""Customer rules with no I/O: what a customer document holds, the keys search uses, and the
state the events carry."""

from datetime import datetime
from typing import Any
from uuid import uuid4

import phonenumbers

from crm_contracts.outbound import CustomerState

# ISO 3166-1 alpha-2 codes: the regions libphonenumber knows, plus the few without phones.
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS) | {"AQ", "BV", "HM", "TF", "GS", "UM"}

# Fields of the document that exist for queries only; never shown, never in events.
_INTERNAL = ("_id", "email_key", "first_key", "last_key", "name_key", "name_sort", "spent", "spent_base")


def normalize_email(email: str) -> str:
    """E-mails are unique case-insensitively; the stored key is the lower-cased address."""
    return email.strip().lower()


def normalize_phone(raw: str) -> str:
    """E.164 form of an international number; ValueError if it is not a valid one."""
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number in international form, e.g. +351912345678") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_or_none(raw: str | None) -> str | None:
    """For data from storefronts: a bad phone is dropped rather than failing the order."""
    if not raw:
        return None
    try:
        return normalize_phone(raw)
    except ValueError:
        return None


def new_customer_id() -> str:
    return f"cus_{uuid4().hex}"


def clean_tags(tags: list[str]) -> list[str]:
    out: list[str] = []
    for t in (t.strip() for t in tags):
        if t and t not in out:
            out.append(t)
    return out


def search_keys(doc: dict[str, Any]) -> dict[str, Any]:
    """Lower-cased keys that prefix search ranges over (`{"$gte": p, "$lt": p + "\\uffff"}`),
    each a plain string field with its own index: an anchored range is an index scan on
    MongoDB, an unanchored regex is not. Scalars, not one array: a range on an array field
    matches when different elements satisfy each bound (and FerretDB's $elemMatch does too)."""
    first = (doc.get("first_name") or "").strip().lower()
    last = (doc.get("last_name") or "").strip().lower()
    full = f"{first} {last}".strip()
    return {
        "email_key": normalize_email(doc["email"]),
        "first_key": first or None,
        "last_key": last or None,
        "name_key": full or None,
        # Sorting by name: full name, then e-mail so that nameless guests sort among them. The
        # separator sorts before any printable character; not U+0000, which jsonb cannot hold.
        "name_sort": f"{full}\x01{normalize_email(doc['email'])}"
        if full
        else f"\uffff{normalize_email(doc['email'])}",
    }


def new_customer(
    customer_id: str,
    *,
    email: str,
    now: datetime,
    has_account: bool,
    first_name: str | None = None,
    last_name: str | None = None,
    phone: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": customer_id,
        "id": customer_id,
        "version": 1,
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "phone": phone,
        "company": None,
        "gender": None,
        "birthday": None,
        "has_account": has_account,
        "registered_at": now if has_account else None,
        "status": "enabled",
        "tags": [],
        "email_subscribed": False,
        "marketing_consent": {"state": "not_set", "at": None, "source": None},
        "metadata": {},
        "addresses": [],
        "group_ids": [],
        "country": None,
        "city": None,
        "stats": {},
        "spent": {},
        "spent_base": 0,
        "created_at": now,
        "updated_at": now,
    }
    doc.update(fields)
    doc.update(search_keys(doc))
    return doc


def touch(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The next version of a changed document: keys recomputed, version and time moved on."""
    out = {**doc, **search_keys(doc)}
    out["version"] = doc["version"] + 1
    out["updated_at"] = max(now, doc["updated_at"])
    return out


def same_state(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether a change would change nothing (version and time aside)."""
    skip = {"version", "updated_at"}
    return {k: v for k, v in a.items() if k not in skip} == {k: v for k, v in b.items() if k not in skip}


def set_consent(doc: dict[str, Any], subscribed: bool, at: datetime, source: str) -> dict[str, Any]:
    """Marketing consent; an older statement than the one recorded changes nothing."""
    current = doc.get("marketing_consent") or {}
    if current.get("at") is not None and current["at"] > at:
        return doc
    return {
        **doc,
        "email_subscribed": subscribed,
        "marketing_consent": {
            "state": "subscribed" if subscribed else "unsubscribed",
            "at": at,
            "source": source,
        },
    }


def location(
    doc: dict[str, Any], latest_order_address: dict[str, Any] | None
) -> tuple[str | None, str | None]:
    """Country and city: the default shipping address, else the latest order's shipping address."""
    for a in doc.get("addresses", []):
        if a.get("type") == "shipping" and a.get("is_default"):
            return a.get("country_code"), a.get("city")
    if latest_order_address:
        return latest_order_address.get("country_code"), latest_order_address.get("city")
    return None, None


def public_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The customer as the API shows it (no query keys)."""
    return {k: v for k, v in doc.items() if k not in _INTERNAL}


def event_state(doc: dict[str, Any]) -> dict[str, Any]:
    """`data` of customer.created / updated / registered (crm_contracts CustomerState)."""
    return CustomerState.model_validate(public_view(doc)).model_dump(mode="json")
