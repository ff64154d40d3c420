"""Shopify's segment filters in our query language: translations, named dates in the store's time
zone, anniversaries, RFM groups, and the refusals of what we have no data for."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_segments.domain import analytics
from crm_segments.domain.rules import RuleError, compile_rule, parse
from crm_segments.domain.rules.rfm import GROUPS, RfmBands, group_of
from crm_segments.domain.rules.syntax import has_relative_dates, render
from crm_segments.domain.segments import parse_rule
from crm_servicekit.errors import Invalid

NOW = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)  # 23 November, 00:30 in Kiritimati (UTC+14)
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")


def matches(rule: str, profile: dict, tz=UTC, now=NOW, rfm=None) -> bool:
    return compile_rule(parse(rule), now, tz=tz, rfm=rfm).predicate(profile)


def test_today_is_the_store_day_not_the_utc_day():
    just_now = {"created_at": NOW - timedelta(minutes=40)}  # 22 Nov in Kiritimati, 22 Nov UTC
    assert matches("customer_added_date = today", just_now)
    assert not matches("customer_added_date = today", just_now, tz=KIRITIMATI)
    assert matches("customer_added_date = yesterday", just_now, tz=KIRITIMATI)
    # The day starts at local midnight: 10:00 UTC on 22 November is 00:00 on the 23rd there.
    assert matches(
        "customer_added_date >= today", {"created_at": datetime(2026, 11, 22, 10, tzinfo=UTC)}, KIRITIMATI
    )
    assert not matches(
        "customer_added_date >= today",
        {"created_at": datetime(2026, 11, 22, 9, 59, 59, 999000, tzinfo=UTC)},
        KIRITIMATI,
    )


def test_named_dates_count_back_whole_days_and_months():
    def day(d: date) -> dict:
        return {"last_order_date": datetime(d.year, d.month, d.day, 0, 0, tzinfo=UTC)}

    assert matches("last_order_date >= 30_days_ago", day(date(2026, 10, 23)))
    assert not matches("last_order_date >= 30_days_ago", day(date(2026, 10, 22)))
    assert matches("last_order_date >= 12_months_ago", day(date(2025, 11, 22)))
    assert not matches("last_order_date >= 12_months_ago", day(date(2025, 11, 21)))
    assert matches("last_order_date >= 7_days_ago", day(date(2026, 11, 15)))
    assert matches("last_order_date < +7d", day(date(2026, 11, 29)))  # forward offsets are instants


def birthday(d: date) -> dict:
    return {"birthday": datetime(d.year, d.month, d.day, tzinfo=UTC), "birthday_md": d.month * 100 + d.day}


@pytest.mark.parametrize(
    ("born", "window", "now", "expected"),
    [
        (date(1990, 12, 24), "BETWEEN today AND +7d", NOW, False),
        (date(1990, 11, 29), "BETWEEN today AND +7d", NOW, True),
        (date(1990, 11, 30), "BETWEEN today AND +7d", NOW, False),
        (
            date(1990, 1, 3),
            "BETWEEN today AND +30d",
            datetime(2026, 12, 20, tzinfo=UTC),
            True,
        ),  # over new year
        (date(1990, 1, 20), "BETWEEN today AND +30d", datetime(2026, 12, 20, tzinfo=UTC), False),
        (date(2000, 2, 29), "= today", datetime(2027, 2, 28, 12, tzinfo=UTC), True),  # common year
        (date(2000, 2, 29), "= today", datetime(2028, 2, 28, 12, tzinfo=UTC), False),  # leap year
        (date(2000, 2, 29), "= today", datetime(2028, 2, 29, 12, tzinfo=UTC), True),
        (date(1985, 3, 15), "= 2020-03-15", NOW, True),  # the year does not count
        (date(1985, 3, 15), "BETWEEN -1y AND today", NOW, True),  # a whole year: every birthday
    ],
)
def test_anniversary_compares_day_and_month(born, window, now, expected):
    rule = f"anniversary(date: 'metafields.facts.birth_date') {window}"
    assert matches(rule, birthday(born), now=now) is expected
    assert not matches(rule, {"birthday": None, "birthday_md": None}, now=now)


@pytest.mark.parametrize(
    ("born", "now", "expected"),
    [
        (date(1990, 11, 1), NOW, True),
        (date(1990, 11, 30), NOW, True),
        (date(1990, 12, 1), NOW, False),
        (date(1990, 10, 31), NOW, False),
        (date(2000, 2, 29), datetime(2027, 2, 10, tzinfo=UTC), True),  # celebrated on the 28th
        (date(1990, 12, 31), datetime(2026, 12, 31, 23, tzinfo=UTC), True),
        (date(1990, 1, 1), datetime(2026, 12, 31, 23, tzinfo=UTC), False),
    ],
)
def test_birthday_this_month_follows_the_calendar(born, now, expected):
    rule = "anniversary(date: 'birthday') BETWEEN start_of_month AND end_of_month"
    assert matches(rule, birthday(born), now=now) is expected


def test_this_month_is_the_store_month_and_the_rule_reads_back_as_written():
    rule = "anniversary(date: 'birthday') BETWEEN start_of_month AND end_of_month"
    # 31 October 23:30 UTC is already 1 November in Kiritimati
    now = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    assert matches(rule, birthday(date(1990, 11, 5)), now=now, tz=KIRITIMATI)
    assert not matches(rule, birthday(date(1990, 11, 5)), now=now)
    assert render(parse(rule)) == rule
    assert has_relative_dates(parse(rule))  # re-checked as the days pass


def test_birthday_is_a_calendar_date_whatever_the_time_zone():
    p = birthday(date(1990, 11, 23))
    assert matches("birthday = 1990-11-23", p, tz=KIRITIMATI)
    assert matches("anniversary(date: 'birthday') = today", p, tz=KIRITIMATI)  # 23 Nov there
    assert not matches("anniversary(date: 'birthday') = today", p)  # still 22 Nov in UTC


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("anniversary() = today", "needs the parameter date"),
        ("anniversary(date: 'created_at') = today", "knows 'birthday'"),
        ("anniversary(date: 'birthday') > today", "takes = or BETWEEN"),
        ("products_purchased(colour: 'red') = true", "no parameter 'colour'"),
        ("products_purchased(id: 1, id: 2) = true", "given twice"),
        ("products_purchased() = true", "needs the parameter id"),
        ("products_purchased(id: 1) > 3", "= true or = false"),
        ("orders_placed(count_at_least: -1) = true", "whole number"),
        ("frobnicate(x: 1) = true", "unknown function 'frobnicate'"),
        ("rfm_group = 'whales'", "one of champions"),
        ("customer_countries = 'US'", "CONTAINS"),
        ("customer_cities CONTAINS 'NewYork'", "countryCode-regionCode-cityCode"),
        ("city_code = 'lisboa'", "unknown attribute"),
    ],
)
def test_bad_parameters_and_values_are_named(rule, words):
    with pytest.raises(RuleError) as e:
        parse(rule)
    assert words in e.value.message


def test_a_refusal_names_the_attribute_in_the_problem():
    with pytest.raises(Invalid) as e:
        parse_rule("amount_spent > 10 AND\n  sms_subscription_status = 'SUBSCRIBED'")
    error = e.value.extra["errors"][0]
    assert e.value.extra["attribute"] == error["attribute"] == "sms_subscription_status"
    assert error["line"] == 2 and error["column"] == 3
    assert "no SMS marketing consent" in error["message"]


def test_translations_mean_what_shopify_documents():
    us = {"country": "US", "city_code": "newyorkcity", "has_account": True, "status": "enabled"}
    nowhere = {"country": None, "has_account": False}
    assert matches("customer_countries CONTAINS 'us'", us)
    assert matches("customer_countries NOT CONTAINS 'US'", nowhere)  # a list without it
    assert matches("customer_cities CONTAINS 'US-NY-NewYorkCity'", us)
    assert matches("customer_cities CONTAINS 'US-New York City'", us)
    assert not matches("customer_cities CONTAINS 'CA-ON-NewYorkCity'", us)
    assert matches("customer_account_status = 'ENABLED'", us)
    assert matches("customer_account_status = 'DISABLED'", {**us, "status": "inactive"})
    assert matches("customer_account_status != 'ENABLED'", nowhere)
    assert matches("customer_account_status = 'ENABLED'", {**us, "status": None})  # before status was kept
    assert matches("customer_email_domain = 'Gmail.com'", {"email_domain": "gmail.com"})
    assert matches("email_subscription_status = 'NOT_SUBSCRIBED'", {"email_subscribed": False})
    assert matches("orders_placed(count_at_least: 2, count_at_most: 3) = true", {"number_of_orders": 3})
    assert not matches("orders_placed(count_at_least: 2, count_at_most: 3) = true", {"number_of_orders": 4})
    assert matches(
        "orders_placed(date: < 2026-01-01) = true", {"first_order_date": datetime(2025, 5, 1, tzinfo=UTC)}
    )
    assert matches("orders_placed() = false", {"number_of_orders": 0})
    assert matches("products_purchased(id: (7, 'SKU-2')) = true", {"products_purchased": ["7"]})
    assert matches("store_credit_accounts(balance: >= 10) = true", {"store_credit_balance": 1000})


def test_every_grid_cell_has_one_group():
    seen = {group_of(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)}
    assert seen == set(GROUPS) - {"prospects"}


values = st.lists(st.integers(0, 20), min_size=0, max_size=30)


@settings(deadline=None)  # a property, not a timing: a slow first example is no failure
@given(recency=values, frequency=values, monetary=values, probe=st.integers(-1, 21))
def test_rfm_bands_score_as_the_analytics_quintiles_do(recency, frequency, monetary, probe):
    quintiles = [analytics.Quintiles(Counter(v)) for v in (recency, frequency, monetary)]
    bands = RfmBands.of(*(q.counts for q in quintiles))
    for metric, q, vs in zip(
        ("last_order_date", "number_of_orders", "amount_spent"),
        quintiles,
        (recency, frequency, monetary),
        strict=True,
    ):
        if not vs:
            continue
        scorer = q.scorer()
        for v in [*vs, probe]:
            assert bands.score(metric, v) == scorer(v)


def test_rfm_group_rule_selects_by_the_scores():
    buyers = {f"c{i}": (NOW - timedelta(days=i), i + 1, 1000 * (i + 1)) for i in range(10)}
    bands = RfmBands.of(
        Counter(v[0] for v in buyers.values()),
        Counter(v[1] for v in buyers.values()),
        Counter(v[2] for v in buyers.values()),
    )
    # c0 ordered last but least often and least; c9 long ago but most often and most.
    profile = {
        cid: {"last_order_date": r, "number_of_orders": f, "amount_spent": m}
        for cid, (r, f, m) in buyers.items()
    }
    assert matches("rfm_group = 'new'", profile["c0"], rfm=bands)
    assert matches("rfm_group = 'previously_loyal'", profile["c9"], rfm=bands)
    assert matches("rfm_group = 'prospects'", {"number_of_orders": 0, "last_order_date": None}, rfm=bands)
    assert matches("rfm_group != 'champions'", profile["c0"], rfm=bands)
