"""Pure rules of the ledger (no I/O): no overdraft, holds, spending order of expiring credit,
reward points and coupons."""

from datetime import UTC, datetime, timedelta

import pytest

from crm_ledger.domain import (
    AccountState,
    CouponNotRedeemable,
    Hold,
    HoldNotActive,
    InsufficientFunds,
    NothingToDo,
    rewards,
)

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


PROGRAM = rewards.Program(
    points_per_unit=1,
    target=100,
    coupon_kind="amount",
    coupon_value=500,
    coupon_currency="EUR",
    coupon_days=30,
)


def test_points_per_major_unit_by_currency_exponent():
    assert PROGRAM.points_for(12999, "EUR") == 129
    assert PROGRAM.points_for(12999, "JPY") == 12999
    assert PROGRAM.points_for(12999, "KWD") == 12
    assert rewards.Program(**{**PROGRAM.__dict__, "currency": "USD"}).points_for(10000, "EUR") == 0


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
    new, used = rewards.redeem(state, coupon["code"], "order:o9", T0)
    assert new is not None and used["redeemed_at"] == T0
    again, same = rewards.redeem(new, coupon["code"], "order:o9", T0 + timedelta(seconds=5))
    assert again is None and same["redeemed_at"] == T0
    with pytest.raises(CouponNotRedeemable) as e:
        rewards.redeem(new, coupon["code"], "order:other", T0)
    assert e.value.slug == "coupon-used"
    with pytest.raises(CouponNotRedeemable) as e:
        rewards.redeem(state, coupon["code"], "order:o9", T0 + timedelta(days=31))
    assert e.value.slug == "coupon-expired"


def test_expired_credit_cannot_be_spent_before_its_expiry_entry():
    s = AccountState("EUR").credit(100).credit(300, "lot", T0)
    with pytest.raises(InsufficientFunds) as e:
        s.debit(101, now=T0)
    assert e.value.available == 100
    after = s.debit(100, now=T0)
    assert after.balance == 300 and after.lots == s.lots  # the lot waits for its expiry entry
    assert s.debit(350, now=T0 - timedelta(seconds=1)).balance == 50
