"""How a profile (documents.Profile, this service's read model of one customer) follows the
events: each function returns the new profile for one event, or None when it changes nothing.
Money is in minor units of the base currency."""

from datetime import UTC, date, datetime, time
from typing import TypedDict

from crm_contracts.outbound import CustomerState, LedgerEntryRecorded
from crm_contracts.types import email_key
from crm_segments.domain.documents import CreditHeld, GroupRef, Profile
from crm_segments.domain.money import BaseMoney
from crm_segments.domain.rules.compile import month_day
from crm_segments.domain.rules.shopify import city_code
from crm_servicekit.clock import to_ms


def _ms(t: datetime | None) -> datetime | None:
    """Profiles are cut to milliseconds so the predicate sees what MongoDB stores."""
    return None if t is None else to_ms(t)


def _midnight(d: date | None) -> datetime | None:
    return None if d is None else datetime.combine(d, time(), tzinfo=UTC)


def email_domain(email: str) -> str | None:
    """`customer_email_domain`: what follows the last "@", lower-cased."""
    _, at, domain = email.strip().rpartition("@")
    return domain.lower() if at and domain else None


def empty(customer_id: str) -> Profile:
    """A profile before (or after) the customer exists: never a member of any segment."""
    return {
        "_id": customer_id,
        "active": False,
        "deleted": False,
        "customer_version": 0,
        "email": None,
        "email_key": None,
        "email_domain": None,
        "email_subscribed": None,
        "has_account": None,
        "status": None,
        "gender": None,
        "birthday": None,
        "birthday_md": None,
        "country": None,
        "city": None,
        "city_code": None,
        "created_at": None,
        "abandoned_checkout_date": None,
        "customer_tags": [],
        "number_of_orders": 0,
        "counted_orders": 0,
        "first_order_date": None,
        "last_order_date": None,
        "amount_spent": 0,
        "average_order_value": None,
        "categories_purchased": [],
        "products_purchased": [],
        "groups": [],
        "group_ids": [],
        "customer_groups": [],
        "credit": {},
        "store_credit_balance": 0,
    }


def apply_customer(p: Profile, state: CustomerState, money: BaseMoney) -> Profile | None:
    """The profile with the customer's new state, or None if it is not newer (or erased)."""
    if p["deleted"] or state.version <= p["customer_version"]:
        return None
    stats = state.stats
    spent, counted = 0, 0
    for pc in stats.per_currency:
        value = money.to_base(pc.total_spent, pc.currency)
        if value is not None:
            spent, counted = spent + value, counted + pc.orders
    return {
        **p,
        "active": True,
        "customer_version": state.version,
        "email": state.email,
        "email_key": email_key(state.email),
        "email_domain": email_domain(state.email),
        "email_subscribed": state.email_subscribed,
        "has_account": state.has_account,
        "status": state.status,
        "gender": state.gender,
        "birthday": _midnight(state.birthday),
        "birthday_md": month_day(state.birthday) if state.birthday else None,
        "country": state.country.upper() if state.country else None,
        "city": state.city,
        "city_code": city_code(state.city) if state.city else None,
        "created_at": _ms(state.created_at),
        "customer_tags": sorted(set(state.tags)),
        "number_of_orders": stats.number_of_orders,
        "counted_orders": counted,
        "first_order_date": _ms(stats.first_order_at),
        "last_order_date": _ms(stats.last_order_at),
        "amount_spent": spent,
        "average_order_value": spent // counted if counted else None,
        "categories_purchased": sorted(set(stats.categories_purchased)),
        "products_purchased": sorted(set(stats.products_purchased)),
    }


def upgrade(p: Profile) -> Profile | None:
    """A profile stored before Shopify's filters: the fields they read, derived from what it
    holds (status, gender and birthday wait for the customer's next event). None if current."""
    if "email_key" in p:
        return None
    email, city = p.get("email"), p.get("city")
    return {
        **empty(p["_id"]),
        **p,
        "email_key": email_key(email) if email else None,
        "email_domain": email_domain(email) if email else None,
        "city_code": city_code(city) if city else None,
    }


def abandon_checkout(p: Profile, abandoned_at: datetime) -> Profile | None:
    """checkout.abandoned: the latest abandoned checkout's time (events may arrive reordered)."""
    at = to_ms(abandoned_at)
    held = p.get("abandoned_checkout_date")
    if p["deleted"] or (held is not None and held >= at):
        return None
    return {**p, "abandoned_checkout_date": at}


def erase(p: Profile) -> Profile | None:
    """customer.deleted: no personal data is kept, only a tombstone that stops late events.
    None if it is a tombstone already."""
    if p["deleted"]:
        return None
    return {**empty(p["_id"]), "deleted": True, "customer_version": p["customer_version"]}


def _with_groups(p: Profile, groups: list[GroupRef]) -> Profile:
    groups = sorted(groups, key=lambda g: g["id"])
    return {
        **p,
        "groups": groups,
        "group_ids": [g["id"] for g in groups],
        "customer_groups": sorted({g["name"] for g in groups}),
    }


def join_group(p: Profile, group_id: str, name: str, version: int | None = None) -> Profile | None:
    """group.members.added. With the pair's version (groups' events carry one), a change older
    than the one applied last is dropped: a reordered add never undoes a later removal."""
    if p["deleted"] or _stale(p, group_id, version):
        return None
    if any(g["id"] == group_id and g["name"] == name for g in p["groups"]):
        return None if version is None else _versioned(p, group_id, version)
    groups = [g for g in p["groups"] if g["id"] != group_id] + [{"id": group_id, "name": name}]
    return _versioned(_with_groups(p, groups), group_id, version)


def leave_group(p: Profile, group_id: str, version: int | None = None) -> Profile | None:
    """group.members.removed; the version is kept even when not a member, so a late, older
    add of the pair is dropped."""
    if p["deleted"] or _stale(p, group_id, version):
        return None
    if group_id not in p["group_ids"]:
        return None if version is None else _versioned(p, group_id, version)
    return _versioned(_with_groups(p, [g for g in p["groups"] if g["id"] != group_id]), group_id, version)


def _stale(p: Profile, group_id: str, version: int | None) -> bool:
    return version is not None and version <= p.get("group_versions", {}).get(group_id, 0)


def _versioned(p: Profile, group_id: str, version: int | None) -> Profile:
    """The profile with the pair's version recorded (events without versions record none)."""
    if version is None:
        return p
    return {**p, "group_versions": {**p.get("group_versions", {}), group_id: version}}


def rename_group(p: Profile, group_id: str, name: str) -> Profile | None:
    if group_id not in p["group_ids"]:
        return None
    return join_group(p, group_id, name)


def apply_ledger(p: Profile, entry: LedgerEntryRecorded, money: BaseMoney) -> Profile | None:
    """Keeps the balance of the highest sequence per currency (entries may arrive reordered)."""
    if p["deleted"]:
        return None
    held = p["credit"].get(entry.currency)
    if held is not None and held["sequence"] >= entry.sequence:
        return None
    credit: dict[str, CreditHeld] = {
        **p["credit"],
        entry.currency: {"balance": entry.balance_after, "sequence": entry.sequence},
    }
    total = sum(money.to_base(c["balance"], cur) or 0 for cur, c in credit.items())
    return {**p, "credit": credit, "store_credit_balance": total}


class ProfileView(TypedDict):
    """What a profile shows over HTTP: the attributes rules see, by customer id."""

    customer_id: str
    customer_version: int
    email: str | None
    email_domain: str | None
    email_subscribed: bool | None
    has_account: bool | None
    status: str | None
    gender: str | None
    birthday: date | None
    country: str | None
    city: str | None
    created_at: datetime | None
    abandoned_checkout_date: datetime | None
    customer_tags: list[str]
    number_of_orders: int
    first_order_date: datetime | None
    last_order_date: datetime | None
    amount_spent: int
    average_order_value: int | None
    categories_purchased: list[str]
    products_purchased: list[str]
    group_ids: list[str]
    customer_groups: list[str]
    store_credit_balance: int


def public_view(p: Profile) -> ProfileView:
    """Everything but the bookkeeping (active, deleted, groups by id, credit, counted_orders)."""
    return {
        "customer_id": p["_id"],
        "customer_version": p["customer_version"],
        "email": p["email"],
        "email_domain": p.get("email_domain"),
        "email_subscribed": p["email_subscribed"],
        "has_account": p["has_account"],
        "status": p.get("status"),
        "gender": p.get("gender"),
        "birthday": birthday.date() if (birthday := p.get("birthday")) else None,
        "country": p["country"],
        "city": p["city"],
        "created_at": p["created_at"],
        "abandoned_checkout_date": p.get("abandoned_checkout_date"),
        "customer_tags": p["customer_tags"],
        "number_of_orders": p["number_of_orders"],
        "first_order_date": p["first_order_date"],
        "last_order_date": p["last_order_date"],
        "amount_spent": p["amount_spent"],
        "average_order_value": p["average_order_value"],
        "categories_purchased": p["categories_purchased"],
        "products_purchased": p["products_purchased"],
        "group_ids": p["group_ids"],
        "customer_groups": p["customer_groups"],
        "store_credit_balance": p["store_credit_balance"],
    }
