"""Customers: pure rules with in-memory data (no broker, no database)."""

from datetime import UTC, datetime, timedelta

import pytest

from crm_contracts.types import email_key
from crm_customers.domain import addresses, customer, search, stats
from crm_customers.schemas import CustomerCreate
from crm_customers.store import SEARCH_INDEXES

T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)


def order(key: str, total: int, *, currency: str = "EUR", days: int = 0, items=None, ship=None) -> dict:
    return {
        "_id": key,
        "order_id": key,
        "source": "/s",
        "placed_at": T0 + timedelta(days=days),
        "currency": currency,
        "total": total,
        "shipping_address": ship,
        "items": items or [{"sku": f"SKU-{key}", "category": "shoes", "quantity": 1, "unit_price": total}],
    }


def test_statistics_ignore_cancelled_orders_and_subtract_refunds():
    views = [
        stats.apply_adjustments(order("a", 1000, days=0), []),
        stats.apply_adjustments(
            order("b", 3000, days=1), [{"kind": "refunded", "amount": 500, "currency": "EUR"}]
        ),
        stats.apply_adjustments(order("c", 9000, days=2), [{"kind": "cancelled", "at": T0}]),
        stats.apply_adjustments(order("d", 700, currency="USD", days=3), []),
    ]
    s = stats.compute(views)
    assert s["number_of_orders"] == 3
    assert s["first_order_at"] == T0 and s["last_order_at"] == T0 + timedelta(days=3)
    assert s["per_currency"] == [
        {"currency": "EUR", "orders": 2, "total_spent": 3500, "average_order": 1750},
        {"currency": "USD", "orders": 1, "total_spent": 700, "average_order": 700},
    ]
    assert "SKU-c" not in s["products_purchased"]
    assert [v.status for v in views] == ["placed", "partially_refunded", "cancelled", "placed"]


def test_statistics_do_not_depend_on_the_order_orders_come_in():
    orders = [order(k, 100 * (i + 1), days=i) for i, k in enumerate("abcd")]
    forward = stats.compute([stats.apply_adjustments(o, []) for o in orders])
    backward = stats.compute([stats.apply_adjustments(o, []) for o in reversed(orders)])
    assert forward == backward


def test_favourite_categories_come_first():
    views = [
        stats.apply_adjustments(
            order(
                "a",
                100,
                items=[
                    {"sku": "1", "category": "socks", "quantity": 1, "unit_price": 1},
                    {"sku": "2", "category": "shoes", "quantity": 3, "unit_price": 1},
                ],
            ),
            [],
        )
    ]
    assert stats.compute(views)["categories_purchased"] == ["shoes", "socks"]


def test_one_default_address_per_type():
    a1 = {"id": "1", "type": "shipping", "is_default": False, "line1": "A", "city": "X", "country_code": "PT"}
    a2 = {"id": "2", "type": "shipping", "is_default": True, "line1": "B", "city": "Y", "country_code": "PT"}
    b1 = {"id": "3", "type": "billing", "is_default": False, "line1": "C", "city": "Z", "country_code": "ES"}
    out = addresses.add(addresses.add(addresses.add([], a1), a2), b1)
    assert [(a["id"], a["is_default"]) for a in out] == [("1", False), ("2", True), ("3", True)]
    out = addresses.remove(out, "2")
    assert [(a["id"], a["is_default"]) for a in out] == [("1", True), ("3", True)]
    out = addresses.edit(out, "1", {"city": "Porto"})
    assert addresses.find(out, "1")["city"] == "Porto"


def test_an_order_address_is_learned_once():
    ship = {"line1": "Rua A 1", "city": "Lisboa", "country_code": "PT", "first_name": "Ana"}
    out = addresses.learn_from_order([], "s|1", ship, T0)
    again = addresses.learn_from_order(out, "s|2", {**ship, "line1": "rua a 1 "}, T0)
    assert len(again) == 1 and again[0]["is_default"] and again[0]["type"] == "shipping"


def test_phone_numbers_are_stored_in_e164():
    assert customer.normalize_phone("+351 912 345 678") == "+351912345678"
    with pytest.raises(ValueError):
        customer.normalize_phone("912345678")  # no country: ambiguous
    with pytest.raises(ValueError):
        customer.normalize_phone("+351 12")
    assert customer.phone_or_none("garbage") is None


def test_emails_are_validated_and_keyed_case_insensitively():
    assert email_key(" Ana@Example.COM ") == "ana@example.com"
    with pytest.raises(ValueError):
        CustomerCreate(email="not-an-email")


def test_consent_ignores_an_older_statement():
    new = customer.new_customer("cus_1", email="a@x.com", now=T0, has_account=False)
    doc = customer.set_consent(new, True, T0, "/s")
    assert customer.set_consent(doc, False, T0 - timedelta(days=1), "/s")["email_subscribed"] is True
    assert customer.set_consent(doc, False, T0 + timedelta(days=1), "/s")["email_subscribed"] is False


# Search must not scan the collection at a million customers on MongoDB (FerretDB 1.x pushes only
# equality down, whatever the indexes: tests/system/test_query_plans.py checks that part), so this checks
# what MongoDB needs: each clause of every query the API can build is answered by an index on that field (a prefix range, an equality,
# or the sort order), and the prefix search is an anchored range, never a regex.


def _leading_fields() -> set[str]:
    return {next(iter(ix.document["key"])) for ix in SEARCH_INDEXES}


def _clause_fields(filt: dict) -> list[set[str]]:
    """For each conjunct of the filter: the fields any of which may drive an index scan."""
    conjuncts = filt.get("$and", [filt] if filt else [])
    out = []
    for c in conjuncts:
        if "$or" in c:
            out.append({k for alt in c["$or"] for k in alt})
        else:
            out.append(set(c))
    return out


@pytest.mark.parametrize("q", [None, "ana", "ana@ex"])
@pytest.mark.parametrize(
    "filters", [{}, {"group_id": "g1"}, {"tag": "vip"}, {"has_account": True}, {"status": "enabled"}]
)
@pytest.mark.parametrize(
    "sort", ["name", "-name", "created_at", "-created_at", "total_spent", "-total_spent"]
)
def test_every_search_is_answered_by_an_index(q, filters, sort):
    query = search.build(q=q, sort=sort, **filters)
    leading = _leading_fields()
    sort_field = query.sort[0][0]
    # Either the sort order itself is an index (walk it, stop at `limit`) ...
    assert sort_field in leading
    # ... or a filter clause is: with q, every alternative of the $or has its own index.
    for fields in _clause_fields(query.filter):
        if len(fields) > 1 and fields <= set(search.PREFIX_FIELDS):
            assert fields <= leading
    if q:
        ranges = [alt for c in query.filter.get("$and", [query.filter]) for alt in c.get("$or", [])]
        for alt in ranges:
            ((field, cond),) = alt.items()
            assert cond == {"$gte": q, "$lt": q + "\uffff"}, "prefix search must be an anchored range"
    if filters:
        (field,) = [search.SORT_FIELDS.get(k, k) for k in filters]
        field = {"group_id": "group_ids", "tag": "tags"}.get(field, field)
        compound = [list(ix.document["key"]) for ix in SEARCH_INDEXES]
        if sort_field in ("name_sort", "created_at"):
            assert [field, sort_field, "_id"] in compound


def test_search_by_email_uses_only_the_email_key():
    query = search.build(q="Ana@Ex")
    assert query.filter == {"$or": [{"email_key": {"$gte": "ana@ex", "$lt": "ana@ex\uffff"}}]}


def test_name_sort_puts_nameless_guests_last():
    named = customer.search_keys("z@x.com", "Zoe", None)
    nameless = customer.search_keys("a@x.com", None, None)
    assert named["name_sort"] < nameless["name_sort"]


def test_an_older_preference_centre_statement_changes_nothing():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    doc = customer.new_customer("cus_1", email="a@example.com", now=now, has_account=False)

    def stated(at: datetime, granted: bool) -> list:
        return [
            {"topic": "offers", "channel": "sms", "granted": granted, "at": at, "source": "preference-centre"}
        ]

    newer = customer.set_contact_preferences(doc, stated(now, False), now)
    assert newer["contact_preferences"][0]["granted"] is False
    older = now - timedelta(days=1)
    assert customer.set_contact_preferences(newer, stated(older, True), older) is newer  # a late event
    later = now + timedelta(hours=1)
    assert customer.set_contact_preferences(newer, stated(later, True), later)["contact_preferences"][0][
        "granted"
    ]
