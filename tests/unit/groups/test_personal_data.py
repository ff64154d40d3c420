"""What a GDPR export of the groups service holds, and the answers' deterministic event ids."""

from datetime import UTC, datetime

from crm_groups.domain import collected_event_id, erased_event_id, personal_data

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_an_export_names_each_group_and_leaves_out_a_group_being_deleted():
    memberships = [
        {"_id": "grp_b:c1", "group_id": "grp_b", "customer_id": "c1", "added_at": AT, "op": "op1"},
        {"_id": "grp_a:c1", "group_id": "grp_a", "customer_id": "c1", "added_at": AT, "op": "op2"},
        {"_id": "grp_x:c1", "group_id": "grp_x", "customer_id": "c1", "added_at": AT, "op": "op3"},
    ]
    groups = {"grp_a": {"name": "Business"}, "grp_b": {"name": "VIP"}}
    known = {"_id": "c1", "deleted": False, "spend": [{"currency": "EUR", "orders": 2, "total_spent": 990}]}
    changes = [
        {"group_id": "grp_b", "v": 2, "change": "removed", "at": AT},
        {"group_id": "grp_b", "v": 1, "change": "added", "at": AT},
    ]
    data = personal_data(memberships, groups, known, changes)  # type: ignore[arg-type]
    assert data == {
        "memberships": [
            {"group_id": "grp_a", "group_name": "Business", "since": "2026-12-01T09:30:00+00:00"},
            {"group_id": "grp_b", "group_name": "VIP", "since": "2026-12-01T09:30:00+00:00"},
        ],
        "spending": [{"currency": "EUR", "orders": 2, "total_spent": 990}],
        "membership_changes": [
            {"group_id": "grp_b", "version": 1, "change": "added", "at": "2026-12-01T09:30:00+00:00"},
            {"group_id": "grp_b", "version": 2, "change": "removed", "at": "2026-12-01T09:30:00+00:00"},
        ],
    }


def test_a_customer_never_seen_has_empty_lists():
    assert personal_data([], {}, None, []) == {"memberships": [], "spending": [], "membership_changes": []}


def test_answers_have_the_same_id_for_the_same_request_or_customer_only():
    assert collected_event_id("pdr_1") == collected_event_id("pdr_1") != collected_event_id("pdr_2")
    assert erased_event_id("c1") == erased_event_id("c1") != erased_event_id("c2")
    assert collected_event_id("c1") != erased_event_id("c1")
