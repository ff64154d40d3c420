"""Pure rules added for issues 15 and 16: buying on account down to a group's credit limit,
which groups a customer is in from unversioned membership events, per-group point
multipliers, and points that expire per earning."""

from datetime import UTC, datetime, timedelta

import pytest

from crm_ledger.domain import (
    AccountState,
    CouponTerms,
    Hold,
    InsufficientFunds,
    NeedsCreditLimit,
    Program,
    Threshold,
    programmes,
    rewards,
)
from crm_ledger.domain.credit import DELETED_VERSION, credit_line, current_groups, newest_terms
from crm_servicekit.errors import Invalid

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_a_purchase_goes_below_zero_only_down_to_the_limit():
    s = AccountState("EUR").credit(100)
    with pytest.raises(NeedsCreditLimit):
        s.debit(150, T0, None)  # the limit was not looked up yet
    assert s.debit(100, T0, None).balance == 0  # covered: no need to look it up
    after = s.debit(400, T0, 300)
    assert after.balance == -300
    with pytest.raises(InsufficientFunds) as e:
        after.debit(1, T0, 300)
    assert (e.value.available, e.value.credit_limit) == (0, 300)
    with pytest.raises(InsufficientFunds) as e:
        s.place_hold(Hold("h1", 401, T0 + timedelta(hours=1)), T0, 300)
    assert e.value.available == 400
    assert s.place_hold(Hold("h1", 400, T0 + timedelta(hours=1)), T0, 300).available == -300
    with pytest.raises(InsufficientFunds):
        s.debit(101, T0)  # no limit: as before


def change(group: str, what: str, minutes: int, n: int = 0, version: int | None = None) -> dict:
    return {
        "_id": f"e{n}:{group}",
        "group_id": group,
        "customer_id": "c1",
        "change": what,
        "version": version,
        "at": T0 + timedelta(minutes=minutes),
    }


def terms(group: str, version: int, limits: dict[str, int], days: int | None = None, deleted: bool = False):
    return {
        "_id": f"{group}:{version}",
        "group_id": group,
        "version": version,
        "name": group,
        "credit_limits": limits,
        "payment_terms_days": days,
        "deleted": deleted,
        "at": T0,
    }


def test_membership_is_the_newest_change_per_group_and_a_tie_removes():
    changes = [
        change("a", "added", 1),
        change("a", "removed", 0, 1),
        change("b", "added", 2),
        change("b", "removed", 2, 3),
    ]
    assert current_groups(changes) == ["a"]
    assert current_groups([change("a", "removed", 1), change("a", "added", 2, 1)]) == ["a"]
    # With the pair's versions, the version decides, not the time.
    versioned = [change("a", "added", 5, 0, version=1), change("a", "removed", 1, 1, version=2)]
    assert current_groups(versioned) == []
    assert current_groups([*versioned, change("a", "added", 0, 2, version=3)]) == ["a"]


def test_the_most_generous_group_gives_the_limit_and_deleted_groups_nothing():
    newest = newest_terms([terms("a", 2, {"EUR": 500}), terms("a", 1, {"EUR": 9000})])
    assert newest is not None and newest["credit_limits"] == {"EUR": 500}
    gone = newest_terms([terms("b", 1, {"EUR": 7000}), terms("b", DELETED_VERSION, {}, deleted=True)])
    line = credit_line(
        "c1",
        3,
        ["a", "b", "c", "d"],
        {"a": newest, "b": gone, "c": terms("c", 1, {"EUR": 800, "USD": 100}, 30), "d": None},
    )
    assert line == {
        "id": "c1",
        "version": 3,
        "group_ids": ["a", "c", "d"],
        "limits": {"EUR": 800, "USD": 100},
        "payment_terms_days": 30,
    }


def test_group_multipliers_take_the_best_and_are_validated():
    p = Program(points_per_unit=1, group_multipliers=(("vip", 200), ("wholesale", 0)))
    assert p.multiplied(45, ["wholesale"]) == 0
    assert p.multiplied(45, ["vip", "wholesale"]) == 90
    assert p.multiplied(45, ["other"]) == 45
    assert Program.from_doc(
        p.__class__(**{**p.__dict__, "effective_from": T0, "recorded_at": T0}).to_doc()
    ) == p.__class__(**{**p.__dict__, "effective_from": T0})
    with pytest.raises(Invalid):
        programmes.check(Program(points_per_unit=1, group_multipliers=(("vip", 1001),)))
    with pytest.raises(Invalid):
        programmes.check(Program(points_per_unit=1, points_expire_days=0))


def test_points_expire_per_earning_soonest_first_once():
    coupon = CouponTerms("amount", 500, "EUR", 30)
    p = Program(points_per_unit=1, thresholds=(Threshold(100, coupon),), points_expire_days=30)
    s, _ = rewards.earn(rewards.empty("c1"), p, 60, T0, "o1", lot_id="e1")
    s, _ = rewards.earn(s, p, 30, T0 + timedelta(days=10), "o2", lot_id="e2")
    assert [x["points"] for x in s["lots"]] == [60, 30] and s["points_deadline"] == T0 + timedelta(days=30)
    # Reaching 100 spends the cycle's points: the soonest-expiring first.
    s, issued = rewards.earn(s, p, 20, T0 + timedelta(days=11), "o3", lot_id="e3")
    assert len(issued) == 1 and s["points"] == 10
    assert [(x["id"], x["points"]) for x in s["lots"]] == [("e3", 10)]
    assert rewards.expire(s, T0 + timedelta(days=40)) == (None, [])
    s2, due = rewards.expire(s, T0 + timedelta(days=41))
    assert s2 is not None and [x["id"] for x in due] == ["e3"]
    assert (s2["points"], s2["expired_total"], s2["lots"], s2["points_deadline"]) == (0, 10, [], None)
    assert s2["movements"][-1]["kind"] == "expired" and s2["movements"][-1]["points"] == -10
    assert rewards.expire(s2, T0 + timedelta(days=90)) == (None, [])
    # Without expiry, no lots at all.
    plain, _ = rewards.earn(rewards.empty("c2"), Program(points_per_unit=1), 5, T0, "o1")
    assert "lots" not in plain
