"""Pure rules of the segments service, in memory: profiles from events, money, RFM quintiles and
the merge that finds the members a batch must change."""

from datetime import UTC, datetime
from decimal import Decimal

from crm_contracts.outbound import CustomerState, LedgerEntryRecorded
from crm_segments.domain import profiles
from crm_segments.domain.analytics import Quintiles
from crm_segments.domain.membership import differences
from crm_segments.domain.money import BaseMoney

T = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)
MONEY = BaseMoney("EUR", {"USD": Decimal("0.5"), "JPY": Decimal("0.0062")})


def state(version: int, **stats) -> CustomerState:
    return CustomerState.model_validate(
        {
            "id": "cus_1",
            "version": version,
            "email": "a@x.io",
            "has_account": True,
            "tags": ["vip", "vip"],
            "email_subscribed": True,
            "country": "pt",
            "city": "Porto",
            "created_at": T,
            "updated_at": T,
            "stats": {"number_of_orders": 0, **stats},
        }
    )


def test_customer_state_becomes_profile_attributes_in_base_currency_minor_units():
    p = profiles.apply_customer(
        profiles.empty("cus_1"),
        state(
            2,
            number_of_orders=4,
            last_order_at=T,
            per_currency=[
                {"currency": "EUR", "orders": 1, "total_spent": 1000, "average_order": 1000},
                {"currency": "USD", "orders": 1, "total_spent": 999, "average_order": 999},
                {"currency": "JPY", "orders": 1, "total_spent": 10000, "average_order": 10000},
                {"currency": "GBP", "orders": 1, "total_spent": 5000, "average_order": 5000},
            ],
        ),
        MONEY,
    )
    assert p["active"] and p["customer_version"] == 2
    assert p["amount_spent"] == 1000 + 499 + 6200  # GBP has no rate: not counted
    assert p["counted_orders"] == 3 and p["number_of_orders"] == 4
    assert p["average_order_value"] == (1000 + 499 + 6200) // 3
    assert p["country"] == "PT" and p["customer_tags"] == ["vip"]
    assert p["last_order_date"].microsecond == 123000  # cut to what MongoDB stores
    assert profiles.apply_customer(p, state(2), MONEY) is None  # same version: ignored
    assert profiles.apply_customer(p, state(1), MONEY) is None  # older: ignored


def test_erased_customer_keeps_no_personal_data_and_ignores_late_events():
    p = profiles.apply_customer(profiles.empty("cus_1"), state(1), MONEY)
    gone = profiles.erase(p)
    assert gone["email"] is None and gone["city"] is None and not gone["active"] and gone["deleted"]
    assert profiles.apply_customer(gone, state(5), MONEY) is None
    assert profiles.join_group(gone, "g1", "VIP") is None
    assert profiles.erase(gone) is None  # a second customer.deleted changes nothing


def test_ledger_keeps_highest_sequence_per_currency():
    def entry(seq: int, balance: int, currency: str = "EUR") -> LedgerEntryRecorded:
        return LedgerEntryRecorded(
            id=f"e{seq}",
            customer_id="cus_1",
            currency=currency,
            kind="funding",
            amount=balance,
            balance_after=balance,
            sequence=seq,
            at=T,
        )

    p = profiles.apply_ledger(profiles.empty("cus_1"), entry(2, 700), MONEY)
    assert profiles.apply_ledger(p, entry(1, 100), MONEY) is None
    p = profiles.apply_ledger(p, entry(1, 400, "USD"), MONEY)
    assert p["store_credit_balance"] == 700 + 200


def test_groups_by_id_with_names_and_renames():
    p = profiles.join_group(profiles.empty("cus_1"), "g2", "Wholesale")
    p = profiles.join_group(p, "g1", "VIP")
    assert profiles.join_group(p, "g1", "VIP") is None
    assert p["customer_groups"] == ["VIP", "Wholesale"] and p["group_ids"] == ["g1", "g2"]
    p = profiles.rename_group(p, "g2", "Retail")
    assert p["customer_groups"] == ["Retail", "VIP"]
    assert profiles.rename_group(p, "g9", "x") is None
    assert profiles.leave_group(p, "g1")["customer_groups"] == ["Retail"]


def test_quintile_scores_rank_by_strictly_worse_values_and_ties_share():
    q = Quintiles()
    for v in [10, 20, 20, 30, 40, 50, 60, 70, 80, 90]:
        q.add(v)
    score = q.scorer()
    assert [score(v) for v in (10, 20, 30, 90)] == [1, 1, 2, 5]
    assert score(25) == 2 and score(5) == 1 and score(1000) == 5  # values not seen when scoring


async def _aiter(values):
    for v in values:
        yield v


async def test_differences_merge_two_sorted_streams():
    out = await differences(_aiter(["a", "c", "d", "f"]), _aiter(["b", "c", "f", "g"]))
    assert out == ["a", "b", "d", "g"]
    assert await differences(_aiter([]), _aiter(["x"])) == ["x"]
    assert await differences(_aiter(["x"]), _aiter([])) == ["x"]


def test_a_reordered_older_group_change_of_a_pair_is_dropped():
    # Issue 19: groups' events carry each pair's version; the newest applied decides.
    p = profiles.join_group(profiles.empty("cus_1"), "g1", "VIP", version=1)
    p = profiles.leave_group(p, "g1", version=2)
    assert p["group_ids"] == [] and profiles.join_group(p, "g1", "VIP", version=1) is None  # late add
    removed_first = profiles.leave_group(profiles.empty("cus_2"), "g1", version=4)  # before its add
    assert removed_first["group_versions"] == {"g1": 4}
    assert profiles.join_group(removed_first, "g1", "VIP", version=3) is None
    back = profiles.join_group(removed_first, "g1", "VIP", version=5)
    assert back["group_ids"] == ["g1"] and profiles.join_group(back, "g1", "VIP", version=5) is None
    assert profiles.join_group(profiles.empty("cus_3"), "g1", "VIP")["group_ids"] == ["g1"]  # no version
