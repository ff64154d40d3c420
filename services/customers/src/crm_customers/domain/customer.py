"""The customer, with no I/O: a new customer document, the keys search uses, edits, consent,
location, and what the API and the events show of it."""

from datetime import datetime
from typing import cast
from uuid import uuid4

import phonenumbers
from typing_extensions import Unpack

from crm_contracts.outbound import CustomerState
from crm_contracts.types import email_key
from crm_customers.domain.documents import (
    ContactPreference,
    Customer,
    CustomerStats,
    CustomerView,
    OrderAddress,
    Profile,
    ProfileChanges,
    SearchKeys,
)
from crm_servicekit.errors import Conflict, DomainError, Forbidden, Invalid

# ISO 3166-1 alpha-2 codes: the regions libphonenumber knows, plus the few without phones.
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS) | {"AQ", "BV", "HM", "TF", "GS", "UM"}

MAX_METADATA_KEYS = 50

# Fields of the document that exist for queries only; never shown, never in events.
_INTERNAL = (
    "_id", "email_key", "first_key", "last_key", "name_key", "name_sort", "spent", "spent_base",
    "join_group_ids", "derived_from",
)  # fmt: skip


def email_taken(email: str) -> Conflict:
    return Conflict(
        "email-taken",
        "E-mail already in use",
        f"a registered customer with e-mail {email!r} exists",
        errors=[{"field": "email", "message": "already in use"}],
    )


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


def no_orders() -> CustomerStats:
    """The statistics of a customer with no order that counts."""
    return {
        "number_of_orders": 0,
        "first_order_at": None,
        "last_order_at": None,
        "per_currency": [],
        "categories_purchased": [],
        "products_purchased": [],
    }


def search_keys(email: str, first_name: str | None, last_name: str | None) -> SearchKeys:
    """Lower-cased keys that prefix search ranges over (`{"$gte": p, "$lt": p + "\\uffff"}`),
    each a plain string field with its own index: an anchored range is an index scan on
    MongoDB, an unanchored regex is not. Scalars, not one array: a range on an array field
    matches when different elements satisfy each bound (and FerretDB's $elemMatch does too)."""
    first = (first_name or "").strip().lower()
    last = (last_name or "").strip().lower()
    full = f"{first} {last}".strip()
    key = email_key(email)
    return {
        "email_key": key,
        "first_key": first or None,
        "last_key": last or None,
        "name_key": full or None,
        # Sorting by name: full name, then e-mail so that nameless guests sort among them. The
        # separator sorts before any printable character; not U+0000, which jsonb cannot hold.
        "name_sort": f"{full}\x01{key}" if full else f"\uffff{key}",
    }


def keys_of(doc: Customer) -> SearchKeys:
    return search_keys(doc["email"], doc["first_name"], doc["last_name"])


def new_customer(
    customer_id: str, *, email: str, now: datetime, has_account: bool, **fields: Unpack[Profile]
) -> Customer:
    doc: Customer = {
        "_id": customer_id,
        "id": customer_id,
        "version": 1,
        "email": email,
        "first_name": None,
        "last_name": None,
        "phone": None,
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
        "sales_agent_id": None,
        "country": None,
        "city": None,
        "stats": no_orders(),
        "spent": {},
        "spent_base": 0,
        "created_at": now,
        "updated_at": now,
        **search_keys(email, None, None),
    }
    doc.update(fields)
    doc.update(keys_of(doc))
    return doc


def touch(doc: Customer, now: datetime) -> Customer:
    """The next version of a changed document: keys recomputed, version and time moved on."""
    out: Customer = {**doc, **keys_of(doc)}
    out["version"] = doc["version"] + 1
    out["updated_at"] = max(now, doc["updated_at"])
    return out


def same_state(a: Customer, b: Customer) -> bool:
    """Whether a change would change nothing (version and time aside)."""
    skip = {"version", "updated_at"}
    return {k: v for k, v in a.items() if k not in skip} == {k: v for k, v in b.items() if k not in skip}


def consent(subscribed: bool, at: datetime, source: str) -> Profile:
    """The consent fields of a customer who stated `subscribed` at `at`."""
    return {
        "email_subscribed": subscribed,
        "marketing_consent": {
            "state": "subscribed" if subscribed else "unsubscribed",
            "at": at,
            "source": source,
        },
    }


def set_consent(doc: Customer, subscribed: bool, at: datetime, source: str) -> Customer:
    """Marketing consent; an older statement than the one recorded changes nothing."""
    current = doc["marketing_consent"]
    if current["at"] is not None and current["at"] > at:
        return doc
    return {**doc, **consent(subscribed, at, source)}


def set_contact_preferences(doc: Customer, preferences: list[ContactPreference], at: datetime) -> Customer:
    """What the preference centre stated at `at`; an older statement changes nothing."""
    stated = [p["at"] for p in doc.get("contact_preferences", []) if p["at"] is not None]
    if stated and max(stated) > at:
        return doc
    ordered = sorted(preferences, key=lambda p: (p["topic"], p["channel"]))
    return {**doc, "contact_preferences": ordered}


def new_profile(given: ProfileChanges, at: datetime) -> Profile:
    """What a creation request gives a new customer, in stored form: no nulls, tags cleaned,
    the birthday as an ISO date, the consent stated now."""
    out: Profile = {}
    if (first_name := given.get("first_name")) is not None:
        out["first_name"] = first_name
    if (last_name := given.get("last_name")) is not None:
        out["last_name"] = last_name
    if (phone := given.get("phone")) is not None:
        out["phone"] = phone
    if (company := given.get("company")) is not None:
        out["company"] = company
    if (gender := given.get("gender")) is not None:
        out["gender"] = gender
    if birthday := given.get("birthday"):
        out["birthday"] = birthday.isoformat()
    if "tags" in given:
        out["tags"] = clean_tags(given["tags"] or [])
    if (metadata := given.get("metadata")) is not None:
        out["metadata"] = {k: v for k, v in metadata.items() if v is not None}
    if (status := given.get("status")) is not None:
        out["status"] = status
    if (subscribed := given.get("email_subscribed")) is not None:
        out.update(consent(subscribed, at, "api"))
    if (agent := given.get("sales_agent_id")) is not None:
        out["sales_agent_id"] = agent
    if (code := given.get("referred_by")) is not None:
        out["referred_by"] = code
    if groups := given.get("join_group_ids"):
        out["join_group_ids"] = list(dict.fromkeys(groups))
    return out


def edit(doc: Customer, changes: ProfileChanges, at: datetime) -> Customer:
    """The customer with the fields given set; null clears an optional field, metadata is
    merged key by key (a null value removes that key). Raises Invalid past 50 metadata keys."""
    out: Customer = {**doc}
    if "metadata" in changes:
        merged = {**doc["metadata"], **(changes["metadata"] or {})}
        out["metadata"] = {k: v for k, v in merged.items() if v is not None}
        if len(out["metadata"]) > MAX_METADATA_KEYS:
            raise Invalid(
                "metadata: at most 50 keys", errors=[{"field": "metadata", "message": "at most 50 keys"}]
            )
    subscribed = changes.get("email_subscribed")
    if subscribed is not None and subscribed != doc["email_subscribed"]:
        out = set_consent(out, subscribed, at, "api")
    if "tags" in changes:
        out["tags"] = clean_tags(changes["tags"] or [])
    if "birthday" in changes:
        birthday = changes["birthday"]
        out["birthday"] = birthday.isoformat() if birthday else None
    # e-mail and status cannot be cleared (the API refuses a null for them)
    if (email := changes.get("email")) is not None:
        out["email"] = email
    if (status := changes.get("status")) is not None:
        out["status"] = status
    if "first_name" in changes:
        out["first_name"] = changes["first_name"]
    if "last_name" in changes:
        out["last_name"] = changes["last_name"]
    if "phone" in changes:
        out["phone"] = changes["phone"]
    if "company" in changes:
        out["company"] = changes["company"]
    if "gender" in changes:
        out["gender"] = changes["gender"]
    if "sales_agent_id" in changes:
        out["sales_agent_id"] = changes["sales_agent_id"]
    return out


def retag(doc: Customer, add: list[str], remove: list[str]) -> Customer:
    """The customer with tags `add` added (at the end, once) and `remove` taken away."""
    gone = set(clean_tags(remove))
    tags = [t for t in clean_tags([*doc["tags"], *add]) if t not in gone]
    return {**doc, "tags": tags}


class InvalidCredentials(DomainError):
    """A wrong e-mail and password pair; never says which of the two was wrong."""

    status = 401
    default_slug = "invalid-credentials"
    default_title = "Invalid e-mail or password"


def account_disabled() -> Forbidden:
    return Forbidden("this customer account is inactive", slug="account-disabled", title="Account disabled")


def register(doc: Customer, profile: Profile, now: datetime) -> Customer:
    """The guest turned into a registered customer, with what the registration gave; the
    groups it asked to join (and only those: not the guest's own from its creation) ride on
    its customer.registered, for the groups service to apply."""
    out: Customer = {**doc, "has_account": True, "registered_at": now}
    out.update({k: v for k, v in profile.items() if k != "join_group_ids"})  # type: ignore[typeddict-item]
    out["join_group_ids"] = list(profile.get("join_group_ids", []))
    return out


def location(doc: Customer, latest_order_address: OrderAddress | None) -> tuple[str | None, str | None]:
    """Country and city: the default shipping address, else the latest order's shipping address."""
    for a in doc["addresses"]:
        if a["type"] == "shipping" and a["is_default"]:
            return a["country_code"], a["city"]
    if latest_order_address:
        return latest_order_address["country_code"], latest_order_address["city"]
    return None, None


def public_view(doc: Customer) -> CustomerView:
    """The customer as the API shows it (no query keys)."""
    return cast(CustomerView, {k: v for k, v in doc.items() if k not in _INTERNAL})


def event_state(doc: Customer, created: bool = False) -> CustomerState:
    """`data` of customer.created / updated / registered; customer.created (and a guest's
    customer.registered) also carries the groups asked for (`join_group_ids`), for the groups
    service to apply."""
    state = CustomerState.model_validate(public_view(doc))
    if created and doc.get("join_group_ids"):
        return state.model_copy(update={"join_group_ids": list(doc.get("join_group_ids", []))})
    return state
