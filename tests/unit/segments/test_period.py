"""Analytics per period (domain/period.py) on hand-made facts: the rules the integration test
checks at scale, here one at a time."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm_segments.domain.money import BaseMoney
from crm_segments.domain.period import Period, PeriodFigures, acquisition_cost, cohorts_csv
from crm_servicekit.errors import Invalid

F = datetime(2026, 3, 1, tzinfo=UTC)
T = datetime(2026, 5, 1, tzinfo=UTC)
EUR = BaseMoney("EUR", {"USD": "0.5"})  # type: ignore[dict-item]


def placed(order_id, at, total, customer_id="cus_1", email="a@x.io", currency="EUR", items=()):
    return {
        "_id": order_id,
        "kind": "placed",
        "order_id": order_id,
        "customer_id": customer_id,
        "email_key": email,
        "at": at,
        "currency": currency,
        "amount": total,
        "items": list(items),
        "recorded_at": at,
    }


def figures(profiles, adjustments, orders, *, scoped=False, tz=UTC) -> PeriodFigures:
    f = PeriodFigures(Period.of(F, T), EUR, tz, scoped=scoped, churn_days=30)
    for p in profiles:
        f.add_profile(p)
    for a in adjustments:
        f.add_adjustment(a)
    for o in sorted(orders, key=lambda o: o["at"]):
        f.add_order(o)
    return f


def test_a_period_must_end_after_it_starts():
    with pytest.raises(Invalid):
        Period.of(T, F)
    with pytest.raises(Invalid):
        Period.of(F, F)


def test_spend_straddling_a_bound_counts_pro_rata_of_its_time():
    p = Period.of(F, T)
    assert p.share(F - timedelta(days=10), F + timedelta(days=10), 1000) == 500
    assert p.share(T, T + timedelta(days=1), 1000) == 0
    assert p.share(F, T, 777) == 777


def test_refunds_lower_revenue_and_cancellations_take_the_order_out():
    march = F + timedelta(days=3)
    f = figures(
        [{"_id": "cus_1", "email_key": "a@x.io", "country": "PT", "city": "Porto"}],
        [
            {"kind": "refunded", "order_id": "o1", "currency": "EUR", "amount": 300},
            {"kind": "refunded", "order_id": "o2", "currency": "EUR", "amount": 9999},
            {"kind": "cancelled", "order_id": "o3"},
        ],
        [placed("o1", march, 1000), placed("o2", march + timedelta(hours=1), 500), placed("o3", march, 700)],
    )
    s = f.summary()
    assert s["orders"] == 2 and s["revenue"] == {"amount": 700, "currency": "EUR"}  # 1000-300, never below 0
    assert s["new_customers"] == 1 and s["repeat_purchase_rate"] == 1.0


def test_an_order_naming_no_customer_is_theirs_by_e_mail_and_out_of_scope_otherwise():
    march = F + timedelta(days=3)
    profiles = [{"_id": "cus_1", "email_key": "a@x.io", "country": "PT"}]
    orders = [placed("o1", march, 1000, customer_id=None), placed("o2", march, 400, None, "z@x.io")]
    everyone = figures(profiles, [], orders)
    assert everyone.summary()["buyers"] == 2  # the unknown e-mail counts over all customers
    geo = everyone.geography()["countries"]
    assert {c["country"]: (c["customers"], c["buyers"]) for c in geo} == {"PT": (1, 1), None: (0, 1)}
    scoped = figures(profiles, [], orders, scoped=True)
    assert scoped.summary()["buyers"] == 1 and scoped.summary()["revenue"]["amount"] == 1000


def test_a_first_order_before_the_period_makes_a_returning_customer():
    f = figures(
        [{"_id": "cus_1", "email_key": "a@x.io", "first_order_date": F - timedelta(days=40)}],
        [],
        [placed("o1", F + timedelta(days=1), 1000)],
    )
    s = f.summary()
    assert (s["new_customers"], s["returning_customers"], s["repeat_purchase_rate"]) == (0, 1, 1.0)
    assert f.timing()["average_days_between_orders"] == pytest.approx(41)


def test_weekday_and_hour_are_the_store_s_and_money_in_an_uncounted_currency_adds_an_order_only():
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # a Sunday in UTC
    tz = ZoneInfo("Asia/Tokyo")  # Monday 08:30 there
    f = figures([], [], [placed("o1", late, 1000, currency="GBP")], tz=tz)
    t = f.timing()
    assert [d["orders"] for d in t["by_weekday"]][0] == 1 and [h["orders"] for h in t["by_hour"]][8] == 1
    s = f.summary()
    assert (
        s["orders"] == 1
        and s["revenue"] == {"amount": 0, "currency": "EUR"}
        and s["average_order_value"] is None
    )


def test_cohorts_and_their_csv():
    f = figures(
        [{"_id": "cus_1", "email_key": "a@x.io"}, {"_id": "cus_2", "email_key": "b@x.io"}],
        [],
        [
            placed("o1", F + timedelta(days=1), 100),
            placed("o2", F + timedelta(days=35), 100),
            placed("o3", F + timedelta(days=2), 100, "cus_2", "b@x.io"),
        ],
    )
    rows = f.cohorts()
    assert [(r["month"], r["customers"], [x["customers"] for x in r["retention"]]) for r in rows] == [
        ("2026-03", 2, [1]),
        ("2026-04", 0, []),
    ]
    assert cohorts_csv(rows) == "cohort,customers,m1\n2026-03,2,0.5000\n2026-04,0,\n"


def test_cac_per_currency_divides_spend_by_new_customers():
    spend = [
        {"channel": "ads", "starts_at": F, "ends_at": T, "amount": 1000, "currency": "EUR"},
        {"channel": "tv", "starts_at": F, "ends_at": T, "amount": 30, "currency": "USD"},
    ]
    got = acquisition_cost(Period.of(F, T), spend, 3)  # type: ignore[arg-type]
    assert got["per_currency"] == [
        {"currency": "EUR", "spend": 1000, "cac": {"amount": 333, "currency": "EUR"}},
        {"currency": "USD", "spend": 30, "cac": {"amount": 10, "currency": "USD"}},
    ]
    assert acquisition_cost(Period.of(F, T), spend, 0)["per_currency"][0]["cac"] is None  # type: ignore[arg-type,index]


def test_periods_stay_within_what_every_time_zone_shows_and_cohorts_within_twenty_years():
    with pytest.raises(Invalid):
        Period.of(datetime(1, 1, 1, tzinfo=UTC), T)
    with pytest.raises(Invalid):
        Period.of(F, datetime(9999, 1, 1, tzinfo=UTC))
    wide = PeriodFigures(Period.of(datetime(1990, 1, 1, tzinfo=UTC), T), EUR, UTC, scoped=False)
    with pytest.raises(Invalid):
        wide.cohorts()
