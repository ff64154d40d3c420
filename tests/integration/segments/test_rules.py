"""Segment query language: parsing, error positions, meaning, and the property that the MongoDB
filter (run by the real FerretDB/MongoDB) and the Python predicate select the same profiles."""

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import MongoClient

from crm_segments.domain.rules import RuleError, compile_rule, parse, render, rfm
from crm_segments.domain.rules.attributes import ATTRIBUTES, Kind
from crm_segments.domain.rules.rfm import RfmBands
from crm_segments.domain.rules.syntax import (
    AbsDate,
    And,
    Anniversary,
    Between,
    Bool,
    Compare,
    Contains,
    IsNull,
    NamedDate,
    Not,
    Number,
    Or,
    RelDate,
    RfmGroup,
    Text,
)

NOW = datetime(2026, 11, 22, 10, 15, 30, 123000, tzinfo=UTC)

# --- parsing and errors -----------------------------------------------------------------------


def test_contract_example_parses_to_the_expected_tree():
    rule = parse(
        "amount_spent >= 100 AND number_of_orders >= 3 AND last_order_date > -90d\n"
        "  AND (country = 'PT' OR customer_tags CONTAINS 'vip') AND NOT customer_groups CONTAINS 'wholesale'"
    )
    assert rule == And(
        (
            Compare("amount_spent", ">=", Number(Decimal(100))),
            Compare("number_of_orders", ">=", Number(Decimal(3))),
            Compare("last_order_date", ">", RelDate(90, "d")),
            Or((Compare("country", "=", Text("PT")), Contains("customer_tags", Text("vip")))),
            Not(Contains("customer_groups", Text("wholesale"))),
        )
    )


def test_deep_parentheses_are_fine():
    assert parse("(" * 2000 + "country = 'PT'" + ")" * 2000) == Compare("country", "=", Text("PT"))


def test_keywords_are_case_insensitive_and_attributes_may_start_like_keywords():
    assert parse("has_account = TRUE and email_subscribed != false or city is not null") == Or(
        (
            And((Compare("has_account", "=", Bool(True)), Compare("email_subscribed", "!=", Bool(False)))),
            IsNull("city", negated=True),
        )
    )
    assert parse("customer_tags not contains 'a'") == Contains("customer_tags", Text("a"), negated=True)
    assert parse("created_at BETWEEN 2026-01-01 AND -1w") == Between(
        "created_at", AbsDate(date(2026, 1, 1)), RelDate(1, "w")
    )


@pytest.mark.parametrize(
    "rule, line, column, words",
    [
        ("amount_spent >= ", 1, 17, "end of rule"),
        ("amount_spent >= 100 AND", 1, 24, "end of rule"),
        ("foo = 1", 1, 1, "unknown attribute 'foo'"),
        ("country = 'PT' AND\n  amount_spent > 'x'", 2, 18, "needs a number"),
        ("country > 'PT'", 1, 9, "does not apply"),
        ("(country = 'PT'", 1, 16, "end of rule"),
        ("country = 'PT' city = 'x'", 1, 16, "unexpected 'city'"),
        ("created_at < 2026-02-30", 1, 14, "no such date"),
        ("customer_tags = 'vip'", 1, 15, "use CONTAINS"),
        ("number_of_orders CONTAINS 1", 1, 1, "lists only"),
        ("city = 'Porto' AND # x", 1, 20, "unexpected character '#'"),
        ("amount_spent > 1000000000000", 1, 16, "out of range"),
        ("   ", 1, 1, "empty"),
        ("NOT " * 2000 + "country = 'PT'", 1, 405, "nested more than 100"),
    ],
)
def test_errors_point_at_their_position(rule, line, column, words):
    with pytest.raises(RuleError) as e:
        parse(rule)
    assert (e.value.position.line, e.value.position.column) == (line, column)
    assert words in str(e.value)
    lines = rule.split("\n")
    assert e.value.position.offset == sum(len(x) + 1 for x in lines[: line - 1]) + column - 1


WORDS = list("abc_ ()'=<>!-0123456789.dw\n") + [
    " AND ",
    " OR ",
    " NOT ",
    "country",
    "number_of_orders",
    " CONTAINS ",
    " IS ",
    "NULL",
    "2026-01-31",
]


@given(st.lists(st.sampled_from(WORDS), max_size=30).map("".join) | st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_any_text_parses_or_fails_with_a_position(text):
    try:
        parse(text)
    except RuleError as e:
        assert 0 <= e.position.offset <= len(text)
        assert e.position.line >= 1 and e.position.column >= 1


# --- meaning ----------------------------------------------------------------------------------


def _matches(rule: str, profile: dict) -> bool:
    return compile_rule(parse(rule), NOW).predicate(profile)


def test_absolute_dates_are_whole_days_and_relative_dates_instants():
    p = {"last_order_date": datetime(2026, 1, 31, 23, 59, tzinfo=UTC)}
    assert _matches("last_order_date = 2026-01-31", p)
    assert _matches("last_order_date <= 2026-01-31", p)
    assert not _matches("last_order_date > 2026-01-31", p)
    assert _matches("last_order_date BETWEEN 2026-01-31 AND 2026-01-31", p)
    recent = {"last_order_date": NOW - timedelta(days=30) + timedelta(milliseconds=1)}
    assert _matches("last_order_date > -30d", recent)
    assert not _matches("last_order_date > -30d", {"last_order_date": NOW - timedelta(days=30)})
    assert _matches("last_order_date > -1m", recent) and not _matches(
        "last_order_date > -1m", {"last_order_date": NOW - timedelta(days=32)}
    )


def test_comparisons_with_absent_values_are_false_but_not_negates():
    nobody = {"country": None, "customer_tags": []}
    assert not _matches("country = 'PT'", nobody)
    assert not _matches("country != 'PT'", nobody)
    assert _matches("NOT country = 'PT'", nobody)
    assert _matches("country IS NULL", nobody)
    assert _matches("customer_tags NOT CONTAINS 'vip'", nobody)


def test_money_is_in_major_units_of_the_base_currency():
    p = {"amount_spent": 10000}  # minor units
    assert _matches("amount_spent >= 100", p)
    assert not _matches("amount_spent > 100", p)
    assert _matches("amount_spent > 99.99", p)
    assert compile_rule(parse("amount_spent >= 100"), NOW, money_scale=1).predicate({"amount_spent": 100})


# --- property: MongoDB filter == Python predicate ---------------------------------------------

MONEY_LITERALS = [Decimal(x) for x in ("0", "10", "50.5", "99.99", "100", "100.005", "250", "-5")]
MONEY_VALUES = [0, 1000, 5050, 9999, 10000, 10001, 25000]
TAGS = ["vip", "new", "b2b", "VIP"]
DAY = timedelta(days=1)


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


abs_dates = st.integers(-400, 3).map(lambda k: AbsDate(NOW.date() + timedelta(days=k)))
rel_dates = st.builds(
    RelDate, st.sampled_from([0, 1, 2, 7, 30, 90, 365]), st.sampled_from("dwmy"), st.booleans()
)
named_dates = st.builds(NamedDate, st.sampled_from([0, 1, 7, 30, 90, 12]), st.sampled_from("dwmy"))
any_date = abs_dates | rel_dates | named_dates
ZONES = [UTC, ZoneInfo("Europe/Lisbon"), ZoneInfo("America/New_York"), ZoneInfo("Pacific/Kiritimati")]


def value_for(attr: str) -> st.SearchStrategy:
    kind = ATTRIBUTES[attr]
    if kind is Kind.MONEY:
        return st.sampled_from(MONEY_LITERALS).map(Number)
    if kind is Kind.NUMBER:
        return st.sampled_from(["0", "1", "2", "2.5", "3", "-1"]).map(lambda x: Number(Decimal(x)))
    if kind in (Kind.DATE, Kind.DAY):
        return any_date
    if kind is Kind.BOOL:
        return st.booleans().map(Bool)
    if attr == "country":
        return st.sampled_from(["PT", "ES", "pt"]).map(Text)
    if attr == "city":
        return st.sampled_from(["Lisboa", "Porto", "lisboa", "O'Neil"]).map(Text)
    if attr == "email":
        return st.sampled_from(["a@x.io", "b@x.io"]).map(Text)
    return st.sampled_from(TAGS).map(Text)


ORDERED = [a for a, k in ATTRIBUTES.items() if k in (Kind.MONEY, Kind.NUMBER, Kind.DATE, Kind.DAY)]
SCALAR = [a for a, k in ATTRIBUTES.items() if k is not Kind.LIST]
LISTS = [a for a, k in ATTRIBUTES.items() if k is Kind.LIST]


@st.composite
def leaf(draw):
    choice = draw(st.sampled_from(["cmp", "eq", "between", "contains", "null", "anniversary", "rfm"]))
    if choice == "anniversary":
        return Anniversary(draw(any_date), draw(any_date))
    if choice == "rfm":
        return RfmGroup(draw(st.sampled_from(rfm.GROUPS)))
    if choice == "cmp":
        a = draw(st.sampled_from(ORDERED))
        return Compare(a, draw(st.sampled_from(["<", "<=", ">", ">=", "=", "!="])), draw(value_for(a)))
    if choice == "eq":
        a = draw(st.sampled_from(SCALAR))
        return Compare(a, draw(st.sampled_from(["=", "!="])), draw(value_for(a)))
    if choice == "between":
        a = draw(st.sampled_from(ORDERED))
        return Between(a, draw(value_for(a)), draw(value_for(a)))
    if choice == "contains":
        a = draw(st.sampled_from(LISTS))
        return Contains(a, draw(value_for(a)), draw(st.booleans()))
    return IsNull(draw(st.sampled_from(SCALAR)), draw(st.booleans()))


rules = st.recursive(
    leaf(),
    lambda inner: (
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs)))
        | st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs)))
        | inner.map(Not)
    ),
    max_leaves=8,
)

# Instants around the boundaries the rules draw: midnights, NOW - N units, one ms either side.
instants = st.one_of(
    st.builds(
        lambda k, ms: _midnight(NOW.date() + timedelta(days=k)) + timedelta(milliseconds=ms),
        st.integers(-400, 3),
        st.sampled_from([-1, 0, 1, 43_200_000]),
    ),
    st.builds(
        lambda d, ms: NOW - timedelta(days=d) + timedelta(milliseconds=ms),
        st.sampled_from([0, 1, 2, 7, 14, 30, 31, 90, 91, 92, 180, 181, 182, 184, 365, 366]),
        st.sampled_from([-1, 0, 1]),
    ),
)
maybe = lambda s: st.none() | s  # noqa: E731
birthdays = st.dates(date(1950, 1, 1), date(2010, 12, 31)) | st.sampled_from(
    [date(2000, 2, 29), date(1999, 2, 28), date(1990, 3, 1), date(1980, 12, 31), date(1985, 1, 1)]
)
# RFM bands as if scored over a store whose buyers have these values.
BANDS = RfmBands.of(
    Counter({NOW - timedelta(days=d): 1 for d in (0, 1, 2, 7, 30, 31, 90, 180, 365)}),
    Counter({1: 4, 2: 3, 3: 1, 4: 1}),
    Counter({v: 1 for v in MONEY_VALUES}),
)


@st.composite
def profile(draw):
    birthday = draw(maybe(birthdays))
    return {
        "birthday": _midnight(birthday) if birthday else None,
        "birthday_md": birthday.month * 100 + birthday.day if birthday else None,
        "status": draw(maybe(st.sampled_from(["enabled", "inactive"]))),
        "gender": draw(maybe(st.sampled_from(["female", "male", "other"]))),
        "abandoned_checkout_date": draw(maybe(instants)),
        "active": True,
        "amount_spent": draw(st.sampled_from(MONEY_VALUES)),
        "average_order_value": draw(maybe(st.sampled_from(MONEY_VALUES))),
        "store_credit_balance": draw(st.sampled_from(MONEY_VALUES)),
        "number_of_orders": draw(st.integers(0, 4)),
        "first_order_date": draw(maybe(instants)),
        "last_order_date": draw(maybe(instants)),
        "created_at": draw(instants),
        "country": draw(maybe(st.sampled_from(["PT", "ES"]))),
        "city": draw(maybe(st.sampled_from(["Lisboa", "Porto", "O'Neil"]))),
        **draw(
            st.sampled_from(
                [{"email": "a@x.io", "email_domain": "x.io"}, {"email": "b@Y.io", "email_domain": "y.io"}]
            )
        ),
        "customer_tags": draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=3)),
        "customer_groups": draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=2)),
        "categories_purchased": draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=2)),
        "products_purchased": draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=2)),
        "has_account": draw(maybe(st.booleans())),
        "email_subscribed": draw(maybe(st.booleans())),
    }


@pytest.fixture(scope="module")
def profiles_collection(infra):
    client = MongoClient(infra["mongodb"], tz_aware=True)
    name = f"t_rules_{uuid.uuid4().hex[:8]}"
    yield client[name]["profiles"]
    client.drop_database(name)
    client.close()


@given(rule=rules, people=st.lists(profile(), min_size=1, max_size=6), tz=st.sampled_from(ZONES))
@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
def test_mongo_filter_and_predicate_select_the_same_profiles(profiles_collection, rule, people, tz):
    text = render(rule)
    assert parse(text) == rule  # the text round-trips to the same tree
    compiled = compile_rule(parse(text), NOW, tz=tz, rfm=BANDS)
    profiles_collection.delete_many({})
    profiles_collection.insert_many([{"_id": i, **p} for i, p in enumerate(people)])
    by_mongo = {d["_id"] for d in profiles_collection.find(compiled.filter, {"_id": 1})}
    stored = {d["_id"]: d for d in profiles_collection.find({})}
    by_python = {i for i, p in enumerate(people) if compiled.predicate(p)}
    assert by_mongo == by_python, text
    # what was read back from the database is judged the same way as what was written
    assert {i for i, d in stored.items() if compiled.predicate(d)} == by_python
