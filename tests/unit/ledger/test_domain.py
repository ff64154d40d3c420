"""Pure rules of the ledger (no I/O): no overdraft, holds, spending order of expiring credit,
reward points and coupons."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm_ledger.domain import (
    AccountState,
    CouponNotRedeemable,
    CouponTerms,
    Hold,
    HoldNotActive,
    InsufficientFunds,
    NothingToDo,
    OrderPoints,
    Program,
    Threshold,
    programmes,
    rewards,
)
from crm_servicekit.errors import Invalid, NotFound

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_debit_never_beyond_available_and_changes_nothing():
    s = AccountState("EUR").credit(1000)
    with pytest.raises(InsufficientFunds) as e:
        s.debit(1001)
    assert e.value.available == 1000 and s.balance == 1000
    assert s.debit(1000).balance == 0


def test_hold_reduces_available_not_balance_and_blocks_a_debit():
    s = AccountState("EUR").credit(1000).place_hold(Hold("h1", 800, T0))
    assert (s.balance, s.held, s.available) == (1000, 800, 200)
    with pytest.raises(InsufficientFunds) as e:
        s.debit(300)
    assert e.value.available == 200
    with pytest.raises(InsufficientFunds):
        s.place_hold(Hold("h2", 201, T0))
    released = s.release_hold("h1")
    assert released.available == 1000 and released.debit(300).balance == 700
    with pytest.raises(HoldNotActive):
        released.release_hold("h1")


def test_debits_spend_soonest_expiring_credit_first_and_never_expiring_last():
    s = (
        AccountState("EUR")
        .credit(500)  # never expires
        .credit(300, "late", T0 + timedelta(days=30))
        .credit(200, "soon", T0 + timedelta(days=1))
    )
    s = s.debit(250)
    assert [(x.id, x.remaining) for x in s.lots] == [("late", 250)]  # "soon" is spent first
    assert s.balance == 750
    s = s.debit(400)  # 250 from "late", then 150 from the credit that never expires
    assert s.lots == () and s.balance == 350


def test_expiry_removes_only_what_is_left_of_the_lot():
    s = AccountState("EUR").credit(500).credit(300, "lot", T0).debit(100)
    assert s.due(T0) == ([s.lots[0]], [])
    amount, after = s.expire("lot")
    assert amount == 200 and after.balance == 500 and after.lots == ()
    with pytest.raises(NothingToDo):
        after.expire("lot")


def test_state_round_trips_through_its_storage_form():
    s = (
        AccountState("EUR", sequence=7)
        .credit(900, "lot", T0)
        .place_hold(Hold("h", 100, T0 + timedelta(hours=1), "o1"))
    )
    record = {"sequence": 7, "state": s.to_doc()}
    assert AccountState.after(record, "EUR") == s  # only what it reads
    assert s.next_deadline == T0


PROGRAM = Program(
    points_per_unit=1,
    thresholds=(Threshold(100, CouponTerms("amount", 500, "EUR", 30)),),
)


def test_points_per_major_unit_by_currency_exponent():
    assert PROGRAM.points_for(12999, "EUR") == 129
    assert PROGRAM.points_for(12999, "JPY") == 12999
    assert PROGRAM.points_for(12999, "KWD") == 12
    assert replace(PROGRAM, currency="USD").points_for(10000, "EUR") == 0


def test_coupon_exactly_when_points_reach_target_and_leftover_carries_over():
    state = rewards.empty("cus_1")
    state, issued = rewards.earn(state, PROGRAM, 99, T0, "o1")
    assert issued == [] and state["points"] == 99
    state, issued = rewards.earn(state, PROGRAM, 1, T0, "o2")
    assert len(issued) == 1 and state["points"] == 0
    state, issued = rewards.earn(state, PROGRAM, 250, T0, "o3")
    assert len(issued) == 2 and state["points"] == 50
    codes = [c["code"] for c in state["coupons"]]
    assert codes == [rewards.coupon_code("cus_1", n) for n in (1, 2, 3)] and len(set(codes)) == 3


def test_coupon_single_use_idempotent_per_redemption_and_refused_when_expired():
    state, (coupon,) = rewards.earn(rewards.empty("cus_1"), PROGRAM, 100, T0, None)
    new, used = rewards.redeem(state, coupon["code"], "cus_1", "order:o9", T0)
    assert new is not None and used["redeemed_at"] == T0
    again, same = rewards.redeem(new, coupon["code"], "cus_1", "order:o9", T0 + timedelta(seconds=5))
    assert again is None and same["redeemed_at"] == T0
    with pytest.raises(CouponNotRedeemable) as e:
        rewards.redeem(new, coupon["code"], "cus_1", "order:other", T0)
    assert e.value.slug == "coupon-used"
    with pytest.raises(CouponNotRedeemable) as e:
        rewards.redeem(state, coupon["code"], "cus_1", "order:o9", T0 + timedelta(days=31))
    assert e.value.slug == "coupon-expired"


def test_expired_credit_cannot_be_spent_before_its_expiry_entry():
    s = AccountState("EUR").credit(100).credit(300, "lot", T0)
    with pytest.raises(InsufficientFunds) as e:
        s.debit(101, now=T0)
    assert e.value.available == 100
    after = s.debit(100, now=T0)
    assert after.balance == 300 and after.lots == s.lots  # the lot waits for its expiry entry
    assert s.debit(350, now=T0 - timedelta(seconds=1)).balance == 50


def test_someone_elses_coupon_is_not_found():
    state, (coupon,) = rewards.earn(rewards.empty("cus_1"), PROGRAM, 100, T0, None)
    with pytest.raises(NotFound):
        rewards.redeem(state, coupon["code"], "cus_2", "order:o9", T0)


def earned(points: int, total: int, order_id: str = "o1") -> OrderPoints:
    return {
        "_id": f"cus_1:{order_id}",
        "customer_id": "cus_1",
        "order_id": order_id,
        "points": points,
        "total": total,
        "currency": "EUR",
        "at": T0,
    }


def test_partial_refunds_take_back_points_in_proportion_and_add_up_to_a_full_refund():
    state, _ = rewards.earn(rewards.empty("cus_1"), PROGRAM, 99, T0, "o1")  # 99 of target 100
    order = earned(99, 9900)
    state, first = rewards.reverse(state, order, 3300, "EUR", T0)  # a third
    assert first is not None and (first.requested, first.points, first.points_after) == (33, 33, 66)
    assert first.reason == "order o1 refunded 3300 EUR (3300 of 9900 in all): 33 of its 99 points taken back"
    state, second = rewards.reverse(state, order, 50, "EUR", T0)  # 3350 in all: 33.5 -> 33
    assert second is None and state["points"] == 66
    state, rest = rewards.reverse(state, order, 6550, "EUR", T0)
    assert rest is not None and rest.points == 66 and state["points"] == 0
    state, more = rewards.reverse(state, order, 100, "EUR", T0)  # beyond the total: nothing more
    assert more is None and state["reversed_total"] == 99
    assert [m["kind"] for m in state["movements"]] == ["earned", "reversed", "reversed"]


def test_points_never_go_below_zero_and_the_entry_says_why():
    state, (coupon,) = rewards.earn(rewards.empty("cus_1"), PROGRAM, 120, T0, "o1")  # 20 left
    state, _ = rewards.redeem(state, coupon["code"], "cus_1", "order:o9", T0)  # used: stays spent
    assert state is not None
    state, r = rewards.reverse(state, earned(120, 12000), None, None, T0)  # cancelled
    assert r is not None and (r.cause, r.requested, r.points, r.points_after) == ("cancellation", 120, 20, 0)
    assert state["points"] == 0 and state["movements"][-1]["points"] == -20 and r.revoked == ()
    assert "100 more were due but the balance was 20" in r.reason
    state, again = rewards.reverse(state, earned(120, 12000), 500, "EUR", T0)  # refund after cancel
    assert again is None and state["points"] == 0
    later, _ = rewards.earn(state, PROGRAM, 10, T0, "o2")
    assert later["points"] == 10  # no debt carried: the shortfall is not taken from later orders


def test_a_refund_revokes_the_unused_coupon_its_points_paid_for_and_the_coupon_cannot_be_used():
    state, (coupon,) = rewards.earn(rewards.empty("cus_1"), PROGRAM, 120, T0, "o1")  # 20 left
    state, r = rewards.reverse(state, earned(120, 12000), 12000, "EUR", T0 + timedelta(hours=1))
    assert r is not None and (r.requested, r.points, r.points_after) == (120, 120, 0)
    assert r.revoked == (coupon["code"],) and f"unused coupon {coupon['code']} revoked" in r.reason
    (revoked,) = state["coupons"]
    assert rewards.coupon_status(revoked, T0 + timedelta(hours=2)) == "revoked"
    with pytest.raises(CouponNotRedeemable) as e:
        rewards.redeem(state, coupon["code"], "cus_1", "order:o9", T0 + timedelta(hours=2))
    assert e.value.slug == "coupon-revoked"
    # Earned again by a later order, the coupon is issued again (a new code): nothing is lost.
    state, (again,) = rewards.earn(state, PROGRAM, 100, T0, "o2")
    assert again["code"] != coupon["code"] and state["points"] == 0


def test_only_what_the_balance_lacks_is_revoked_newest_coupon_first():
    state, (first,) = rewards.earn(rewards.empty("cus_1"), PROGRAM, 100, T0, "o1")
    state, (second,) = rewards.earn(state, PROGRAM, 130, T0, "o2")  # 30 left
    state, r = rewards.reverse(state, earned(60, 6000, "o3"), None, None, T0)  # needs 60: 30 short
    assert r is not None and r.revoked == (second["code"],) and state["points"] == 70
    assert [rewards.coupon_status(c, T0) for c in state["coupons"]] == ["active", "revoked"]


def test_the_outcome_of_orders_and_refunds_does_not_depend_on_the_order_they_arrive_in():
    """Events are not ordered: every order of the same orders and refunds (a refund after
    its own order: one that comes first waits for it) leaves the same balance and the same
    usable coupons, as long as none was used meanwhile. (How many were issued and revoked on
    the way is history, and differs.)"""
    from itertools import permutations

    orders = {"o1": 120, "o2": 150, "o3": 40}
    events = [("earn", "o1"), ("earn", "o2"), ("earn", "o3"), ("refund", "o1"), ("cancel", "o3")]
    outcomes = set()
    for seq in permutations(events):
        if seq.index(("refund", "o1")) < seq.index(("earn", "o1")):
            continue
        if seq.index(("cancel", "o3")) < seq.index(("earn", "o3")):
            continue
        state = rewards.empty("cus_1")
        for kind, order_id in seq:
            points = orders[order_id]
            if kind == "earn":
                state, _ = rewards.earn(state, PROGRAM, points, T0, order_id)
            else:
                refunded = points * 100 if kind == "refund" else None
                state, _ = rewards.reverse(state, earned(points, points * 100, order_id), refunded, "EUR", T0)
        usable = [c for c in state["coupons"] if rewards.coupon_status(c, T0) == "active"]
        outcomes.add((state["points"], len(usable)))
    assert outcomes == {(50, 1)}, outcomes  # 310 earned, 160 taken back: one coupon of 100, 50 left


def test_rounding_and_minimum_order_of_a_programme():
    p = replace(PROGRAM, points_per_unit=3, minimum_order=1000)
    assert p.points_for(999, "EUR") == 0  # below the minimum
    assert p.points_for(1050, "EUR") == 31  # 31.5 rounded down
    assert replace(p, rounding="nearest").points_for(1050, "EUR") == 32  # half up
    assert replace(p, rounding="nearest").points_for(1040, "EUR") == 31
    assert replace(p, rounding="up").points_for(1001, "EUR") == 31  # 30.03 -> 31
    assert replace(p, rounding="up").points_for(1000, "EUR") == 30


LADDER = Program(
    points_per_unit=1,
    thresholds=(
        Threshold(50, CouponTerms("percentage", 5, None, 10)),
        Threshold(100, CouponTerms("amount", 1000, "EUR", 30)),
    ),
)


def test_each_threshold_issues_its_coupon_once_per_cycle_and_a_refund_does_not_reissue():
    state, issued = rewards.earn(rewards.empty("cus_1"), LADDER, 60, T0, "o1")
    assert [(c["kind"], c["value"]) for c in issued] == [("percentage", 5)] and state["points"] == 60
    state, _ = rewards.reverse(state, earned(60, 6000), 3000, "EUR", T0)  # 30 back: 30 left
    state, issued = rewards.earn(state, LADDER, 25, T0, "o2")  # 55 again: not a second 5 %
    assert issued == [] and state["points"] == 55
    state, issued = rewards.earn(state, LADDER, 160, T0, "o3")  # 215: 100 (spent), 50, 100 (spent), 15
    assert [c["value"] for c in issued] == [1000, 5, 1000] and state["points"] == 15
    assert len({c["code"] for c in state["coupons"]}) == 4


def test_the_programme_in_effect_is_the_newest_version_then_of_the_one_started_last():
    t = datetime(2026, 7, 15, tzinfo=UTC)
    base = PROGRAM  # version 0, always
    v1 = replace(base, version=1, points_per_unit=2, effective_from=t)
    summer = replace(
        PROGRAM,
        id="prg_summer",
        version=1,
        points_per_unit=5,
        effective_from=t - timedelta(days=60),
        starts_at=datetime(2026, 7, 1, tzinfo=UTC),
        ends_at=datetime(2026, 9, 1, tzinfo=UTC),
    )
    versions = [base, v1, summer]
    assert programmes.in_effect(versions, datetime(2026, 6, 1, tzinfo=UTC)) == base
    assert programmes.in_effect(versions, t) == summer  # started last, still running
    assert programmes.in_effect(versions, datetime(2026, 9, 1, tzinfo=UTC)) == v1  # summer over
    assert programmes.in_effect([replace(base, ends_at=T0)], T0) is None


def test_a_programme_that_cannot_work_is_invalid_with_the_fields_to_blame():
    bad = replace(
        PROGRAM,
        thresholds=(
            Threshold(100, CouponTerms("amount", 5, None, 3)),
            Threshold(100, CouponTerms("percentage", 150, None, 3)),
        ),
    )
    with pytest.raises(Invalid) as e:
        programmes.check(bad)
    assert [x["field"] for x in e.value.extra["errors"]] == ["thresholds", "thresholds", "thresholds"]


def test_loyalty_kpis_of_a_period_from_the_facts():
    from crm_ledger.domain.kpis import loyalty_kpis

    d = lambda day: datetime(2026, 11, day, tzinfo=UTC)  # noqa: E731
    kpis = loyalty_kpis(
        d(10),
        d(20),
        customers=[("a", None), ("b", d(1)), ("c", d(12)), ("d", d(25)), ("e", d(2))],
        erased={"e"},
        earnings=[("a", 50, d(5)), ("b", 30, d(11)), ("b", 20, d(19)), ("c", 10, d(21)), ("e", 5, d(12))],
        reversals=[(7, d(15)), (3, d(20))],
        coupons=[(d(11), d(12), 100), (d(15), None, 0), (d(9), d(11), 100), (d(20), None, 0)],
        conversions=[d(10), d(19), d(20)],
    )
    assert kpis.to_dict() == {
        "customers": 3,  # a, b, c (d heard of after the period, e erased)
        "members": 2,  # a (before), b (in the period); c earned only after it
        "enrolment_rate": round(2 / 3, 4),
        "new_members": 1,
        "points_issued": 55,  # b: 30 + 20, and e: 5 (issued then, erased since)
        "points_reversed": 7,
        "points_redeemed": 100,
        "points_expired": 0,
        "coupons_issued": 2,
        "coupons_redeemed": 1,
        "redemption_rate": 0.5,
        "referral_conversions": 2,
    }
