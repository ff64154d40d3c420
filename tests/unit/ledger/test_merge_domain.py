"""customer.merged in the pure reward rules: the merged customer's points, expiring lots and
unredeemed coupons go to the kept customer, once; its history stays."""

from datetime import UTC, datetime, timedelta

import pytest

from crm_ledger.domain import CouponTerms, Program, Threshold, rewards
from crm_servicekit.errors import NotFound

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
PROGRAM = Program(
    points_per_unit=1,
    thresholds=(Threshold(100, CouponTerms("amount", 500, "EUR", 30)),),
    points_expire_days=10,
)


def test_merge_moves_points_lots_and_unredeemed_coupons_once():
    merged, (used, unused) = rewards.earn(rewards.empty("cus_m"), PROGRAM, 250, T0, "o1", lot_id="e1")
    merged, _ = rewards.redeem(merged, used["code"], "cus_m", "order:o2", T0)
    assert merged is not None
    kept, _ = rewards.earn(rewards.empty("cus_k"), PROGRAM, 30, T0 + timedelta(days=5), "o3", lot_id="e3")

    out, moved = rewards.merge_out(merged, "cus_k")
    assert out is not None and out["points"] == 0 and out["lots"] == [] and out["points_deadline"] is None
    assert moved["points"] == 50 and [c["code"] for c in moved["coupons"]] == [unused["code"]]
    assert moved["coupons"][0]["customer_id"] == "cus_k"
    # History stays with the merged customer; what moved is marked (not counted twice).
    assert [c.get("moved_to") for c in out["coupons"]] == [None, "cus_k"]
    # Handed over before: nothing more, and the same record of what moved.
    again, same = rewards.merge_out(out, "cus_k")
    assert again is None and same == moved

    new = rewards.merge_in(kept, moved)
    assert new["points"] == 80 and new["version"] == kept["version"] + 1
    assert [lot["id"] for lot in new["lots"]] == ["e1", "e3"]  # soonest expiring first
    assert new["points_deadline"] == T0 + timedelta(days=10)
    assert new["earned_total"] == kept["earned_total"]  # earnings stay the merged customer's
    coupon = rewards.redeem(new, unused["code"], "cus_k", "order:o9", T0)[1]
    assert coupon["redemption"] == "order:o9"
    with pytest.raises(NotFound):
        rewards.redeem(new, unused["code"], "cus_m", "order:o9", T0)
