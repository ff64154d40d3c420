"""Issue 15: the price rule for a customer in several groups (pure, no I/O): one answer whatever
the order the groups and entries come in (Medusa's issue 13034), windows, specificity, why."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from crm_groups.domain import credit_limits, default_group_id, group_offer, name_key, new_price, resolve_price
from crm_groups.settings import GroupsSettings
from crm_servicekit.errors import Invalid

T = datetime(2030, 6, 15, 12, tzinfo=UTC)


def group(gid: str, priority: int = 0, discount: int | None = None, age: int = 0) -> dict:
    return {
        "id": gid,
        "name": gid.title(),
        "priority": priority,
        "discount_percent": discount,
        "created_at": T - timedelta(days=100 - age),
    }


def price(
    pid: str, gid: str, sku=None, currency=None, amount=None, percent=None, starts=None, ends=None, age=0
):
    fields = {
        "sku": sku,
        "currency": currency,
        "amount": amount,
        "percent_off": percent,
        "starts_at": starts,
        "ends_at": ends,
    }
    entry = new_price(pid, gid, fields, T - timedelta(days=50 - age), [])
    return entry


def quote(groups, entries, sku="SKU-1", currency="EUR", at=T, list_price=1000):
    offers = [o for g in groups if (o := group_offer(g, entries, sku, currency, at, list_price))]
    return resolve_price(offers, sku, currency)


GROUPS = [
    group("retail", discount=5),
    group("vip", age=1),
    group("wholesale", age=2),
    group("staff", priority=10, age=3),
]
ENTRIES = [
    price("p1", "vip", "SKU-1", "EUR", amount=900),
    price("p2", "vip", percent=10),
    price("p3", "wholesale", "SKU-1", "EUR", amount=950),
    price(
        "p4",
        "wholesale",
        "SKU-1",
        "EUR",
        amount=800,
        starts=T - timedelta(days=1),
        ends=T + timedelta(days=1),
    ),
    price("p5", "staff", "SKU-2", "EUR", percent=50),
]


def test_several_overlapping_groups_give_one_answer_in_any_order():
    answers = {
        (r.winner.group["id"], r.winner.price, tuple(c.group["id"] for c in r.ranked), r.rule)
        for gs in itertools.permutations(GROUPS)
        for es in (ENTRIES, ENTRIES[::-1])
        if (r := quote(gs, es)).winner
    }
    assert answers == {("wholesale", 800, ("wholesale", "vip", "retail"), "lowest-price")}


def test_windows_start_inclusive_and_end_exclusive():
    assert quote(GROUPS, ENTRIES, at=T - timedelta(days=1)).winner.entry["id"] == "p4"
    after = quote(GROUPS, ENTRIES, at=T + timedelta(days=1))
    assert (after.winner.entry["id"], after.winner.price) == ("p1", 900)
    # retail (5% of 1000) and wholesale's base price tie at 950: the older group first.
    assert [c.group["id"] for c in after.ranked] == ["vip", "retail", "wholesale"]


def test_within_a_group_the_most_specific_entry_applies():
    g = [group("vip", discount=30)]
    entries = [price("all", "vip", percent=20), price("sku", "vip", "SKU-1", percent=10)]
    assert quote(g, entries).winner.basis == "sku-percent"  # even though 20% off all is more
    assert quote(g, entries, sku="SKU-9").winner.basis == "all-skus-percent"
    assert quote(g, [], sku="SKU-9").winner.basis == "group-discount"
    fixed = [*entries, price("fix", "vip", "SKU-1", "EUR", amount=990)]
    assert (quote(g, fixed).winner.basis, quote(g, fixed).winner.price) == ("sku-price", 990)
    assert quote(g, fixed, currency="USD").winner.basis == "sku-percent"  # the price is in EUR


def test_priority_beats_price_and_percentages_need_a_list_price_to_compare():
    r = quote(GROUPS, ENTRIES, sku="SKU-2", list_price=2000)
    assert (r.winner.group["id"], r.winner.price, r.rule) == ("staff", 1000, "priority")
    assert "priority 10 is higher than 0" in r.reason
    # No list price: a fixed price is known, a percentage is not; at equal priority the fixed one.
    r = quote(GROUPS[:3], ENTRIES, list_price=None, at=T + timedelta(days=2))
    assert (r.winner.price, r.winner.group["id"]) == (900, "vip")
    r = quote([group("a", discount=10), group("b", discount=25, age=1)], [], list_price=None)
    assert (r.winner.group["id"], r.winner.price, r.winner.percent_off, r.rule) == (
        "b",
        None,
        25,
        "biggest-percent",
    )


def test_no_offer_and_a_single_offer_say_so():
    assert quote([group("plain")], [], sku="SKU-1").rule == "none"
    r = quote([group("vip")], [price("p", "vip", "SKU-1", "EUR", amount=1)])
    assert (r.rule, r.reason) == ("only-candidate", "'Vip' (1 EUR) is the only group offer")


def test_percentages_round_the_discount_down():
    r = quote([group("g", discount=10)], [], list_price=999)
    assert r.winner.price == 900  # 99.9 off is 99 off


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"amount": 1, "percent_off": 1, "sku": "S", "currency": "EUR"}, "amount"),
        ({}, "amount"),
        ({"amount": 1, "currency": "EUR"}, "sku"),
        ({"amount": 1, "sku": "S"}, "currency"),
        ({"percent_off": 1, "starts_at": T, "ends_at": T}, "ends_at"),
    ],
)
def test_bad_entries_are_invalid_naming_the_field(fields, field):
    full = {
        "sku": None,
        "currency": None,
        "amount": None,
        "percent_off": None,
        "starts_at": None,
        "ends_at": None,
    }
    with pytest.raises(Invalid) as e:
        new_price("p", "g", {**full, **fields}, T, [])
    assert field in [x["field"] for x in e.value.extra["errors"]]


def test_credit_limits_are_one_per_currency():
    assert credit_limits([{"currency": "USD", "amount": 1}, {"currency": "EUR", "amount": 2}]) == [
        {"currency": "EUR", "amount": 2},
        {"currency": "USD", "amount": 1},
    ]
    with pytest.raises(Invalid) as e:
        credit_limits([{"currency": "EUR", "amount": 1}, {"currency": "EUR", "amount": 2}])
    assert e.value.extra["errors"] == [
        {"field": "credit_limits", "message": "one limit per currency; repeated: EUR"}
    ]


def test_default_groups_are_configured_by_name_with_the_same_id_everywhere():
    base = {"MONGODB_URL": "mongodb://unused", "RABBITMQ_URL": "amqp://unused", "CRM_API_TOKENS": "t" * 26}
    assert GroupsSettings(**base).default_group_names == ["Standard", "Business"]
    assert GroupsSettings(
        **base, CRM_GROUPS_DEFAULT_GROUPS=" Retail ,, Whole  sale "
    ).default_group_names == [
        "Retail",
        "Whole sale",
    ]
    assert GroupsSettings(**base, CRM_GROUPS_DEFAULT_GROUPS="").default_group_names == []
    assert default_group_id(name_key("Standard")) == default_group_id(name_key(" STANDARD"))
    assert default_group_id("standard") != default_group_id("business")
    assert ":" not in default_group_id("standard")


def test_analytics_add_up_per_currency_and_count_buyers_once():
    from crm_groups.domain import group_analytics

    a = group_analytics(
        4,
        [
            [
                {"currency": "EUR", "orders": 2, "total_spent": 5000},
                {"currency": "USD", "orders": 1, "total_spent": 10},
            ],
            [{"currency": "EUR", "orders": 1, "total_spent": 3001}],
            [{"currency": "EUR", "orders": 0, "total_spent": 0}],  # everything cancelled
        ],
    )
    assert (a["members"], a["buyers"], a["orders"]) == (4, 2, 4)
    assert a["per_currency"] == [
        {"currency": "EUR", "buyers": 2, "orders": 3, "total_spent": 8001, "average_order": 2667},
        {"currency": "USD", "buyers": 1, "orders": 1, "total_spent": 10, "average_order": 10},
    ]
