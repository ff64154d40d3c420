"""Issue 4: the groups service's pure rules (no I/O): names, metadata limits, pricing choice."""

from datetime import UTC, datetime, timedelta

import pytest

from crm_groups.domain import (
    InvalidMetadata,
    MetadataLimits,
    applicable_pricing,
    chunks,
    edited,
    merge_metadata,
    name_key,
    new_group,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LIMITS = MetadataLimits(max_keys=3, max_key_length=5, max_value_length=4)


def test_names_compare_case_and_space_insensitively():
    assert name_key("  Whole  Sale ") == name_key("WHOLE SALE") == "whole sale"


def test_metadata_patch_sets_changes_and_removes_null_keys():
    merged = merge_metadata({"a": "1", "b": "2"}, {"a": "x", "b": None, "c": 3, "d": True}, LIMITS)
    assert merged == {"a": "x", "c": 3, "d": True}


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"toolong": "v"}, "metadata.toolong"),
        ({"": "v"}, "metadata."),
        ({"a.b": "v"}, "metadata.a.b"),
        ({"$a": "v"}, "metadata.$a"),
        ({"a": "12345"}, "metadata.a"),
        ({"a": {"nested": 1}}, "metadata.a"),
        ({"a": [1]}, "metadata.a"),
        ({"a": float("nan")}, "metadata.a"),
        ({"a": 1, "b": 2, "c": 3, "d": 4}, "metadata"),
    ],
)
def test_metadata_beyond_limits_names_the_field(patch, field):
    with pytest.raises(InvalidMetadata) as e:
        merge_metadata({}, patch, LIMITS)
    assert [err["field"] for err in e.value.errors] == [field]


def test_metadata_key_count_counts_what_remains_after_removals():
    assert merge_metadata({"a": 1, "b": 2, "c": 3}, {"a": None, "d": 4}, LIMITS) == {"b": 2, "c": 3, "d": 4}


def test_an_edit_that_changes_nothing_is_no_new_version():
    doc = new_group("grp_1", {"name": "VIP", "priority": 1}, {"k": "v"}, T0)
    assert edited(doc, {"name": "VIP", "priority": 1}, {"k": "v"}, LIMITS, T0) is None
    new = edited(doc, {"description": "best"}, {"k": None}, LIMITS, T0 + timedelta(1))
    assert new["version"] == 2 and new["description"] == "best" and new["metadata"] == []


def _group(id_, priority=0, discount=None, tier=None, age=0):
    return {
        "id": id_,
        "name": id_,
        "priority": priority,
        "discount_percent": discount,
        "price_tier": tier,
        "created_at": T0 + timedelta(days=age),
    }


def test_pricing_highest_priority_wins_over_a_bigger_discount():
    best, ranked = applicable_pricing([_group("a", 0, 30), _group("b", 5, 10), _group("c", 1, 50)])
    assert best["id"] == "b" and [g["id"] for g in ranked] == ["b", "c", "a"]


def test_pricing_same_priority_takes_the_best_discount_then_the_oldest_group():
    best, _ = applicable_pricing([_group("a", 2, 10), _group("b", 2, 25), _group("c", 2, 25, age=-1)])
    assert best["id"] == "c"


def test_pricing_ignores_groups_without_pricing_and_tiers_count_as_pricing():
    best, ranked = applicable_pricing([_group("plain", 9), _group("tier", 1, tier="wholesale")])
    assert best["id"] == "tier" and len(ranked) == 1
    assert applicable_pricing([_group("plain", 9)]) == (None, [])


def test_chunks_split_large_changes():
    assert [list(c) for c in chunks(list(range(5)), 2)] == [[0, 1], [2, 3], [4]]
