"""Issue 18: the pure rules of support tickets: status moves (a closed ticket reopens only by
an inbound message), the first response, overdue, subject references, keyset paging."""

from datetime import UTC, datetime, timedelta

import pytest

from crm_engagement.domain import keyset
from crm_engagement.domain import tickets as t
from crm_servicekit.errors import Conflict

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def ticket(**changes):
    doc = t.new_ticket(
        t.ticket_id(),
        subject="Parcel late",
        customer_id="cus_1",
        email="ana@example.com",
        email_key="ana@example.com",
        priority="normal",
        assignee_id=None,
        order_ids=["ord_1", "ord_1", "ord_2"],
        channel="inbound",
        now=T0,
        first_response_hours=24,
    )
    return {**doc, **changes}


def message(direction, minutes):
    return {"direction": direction, "at": T0 + timedelta(minutes=minutes)}


def test_a_new_ticket_is_open_due_in_the_set_hours_with_unique_order_links():
    doc = ticket()
    assert doc["status"] == "open" and doc["version"] == 1
    assert doc["first_response_due_at"] == T0 + timedelta(hours=24)
    assert doc["order_ids"] == ["ord_1", "ord_2"] and doc["priority_rank"] == 1


@pytest.mark.parametrize(
    "start, to",
    [
        ("open", "pending"),
        ("open", "resolved"),
        ("pending", "open"),
        ("resolved", "open"),
        ("resolved", "closed"),
    ],
)
def test_allowed_staff_moves_bump_the_version(start, to):
    new = t.edit(ticket(status=start), {"status": to}, T0 + timedelta(minutes=1))
    assert new["status"] == to and new["version"] == 2 and new["updated_at"] == T0 + timedelta(minutes=1)


def test_a_closed_ticket_does_not_reopen_by_staff_but_by_an_inbound_message():
    closed = ticket(status="closed")
    for to in ("open", "pending", "resolved"):
        with pytest.raises(Conflict) as e:
            t.edit(closed, {"status": to}, T0)
        assert e.value.status == 409 and "inbound message" in (e.value.detail or "")
    with pytest.raises(Conflict):
        t.after_reply(closed, None, None, T0)
    assert t.after_inbound(closed, T0, T0)["status"] == "open"


def test_resolved_cannot_go_back_to_pending_and_the_detail_says_what_can():
    with pytest.raises(Conflict) as e:
        t.check_staff_move(ticket(status="resolved"), "pending")
    assert e.value.detail == "a resolved ticket can move to closed, open, not pending"


def test_no_change_keeps_the_same_ticket_and_version():
    doc = ticket()
    assert t.edit(doc, {"status": "open", "priority": "normal"}, T0) is doc
    # A message always moves the ticket one version up (its event rides on that version).
    later = T0 + timedelta(minutes=5)
    after = t.after_inbound(doc, later, later)
    assert after["status"] == "open" and after["version"] == 2 and after["last_message_at"] == later
    assert t.after_inbound(after, T0, later)["last_message_at"] == later  # an older message


def test_an_erased_ticket_keeps_its_counts_but_not_who_or_what():
    doc = t.anonymised(ticket(), T0)
    assert doc["subject"] == "(erased)" and doc["email"] is None and doc["email_key"] is None
    assert doc["erased"] and doc["version"] == 2 and doc["customer_id"] == "cus_1"
    assert doc["order_ids"] == ["ord_1", "ord_2"] and doc["status"] == "open"
    assert t.state_data(doc).erased and t.state_data(doc).email is None


def test_priority_change_sets_its_rank():
    assert t.edit(ticket(), {"priority": "urgent"}, T0)["priority_rank"] == 3


def test_first_response_is_the_earliest_outbound_message_and_ends_overdue():
    msgs = [message("inbound", 0), message("outbound", 30), message("outbound", 10), message("inbound", 40)]
    assert t.first_response(msgs) == T0 + timedelta(minutes=10)
    assert t.first_response([message("inbound", 0)]) is None
    late = T0 + timedelta(hours=25)
    assert t.is_overdue(ticket(), None, late)
    assert not t.is_overdue(ticket(), T0, late)
    assert not t.is_overdue(ticket(), None, T0 + timedelta(hours=23))
    assert not t.is_overdue(ticket(status="resolved"), None, late)  # nobody is waiting


def test_a_reply_records_the_first_response_and_may_move_the_ticket():
    new = t.after_reply(ticket(), T0, "pending", T0)
    assert new["first_response_at"] == T0 and new["status"] == "pending" and new["version"] == 2


def test_subject_reference():
    id_ = t.ticket_id()
    assert t.reference(f"Re: Parcel late [{id_}]") == id_
    assert t.reference("Re: Parcel late [tkt_nothex]") is None


def test_ids_from_a_gateway_message_id_are_stable():
    assert t.ticket_id("<a@mail>") == t.ticket_id("<a@mail>") != t.ticket_id("<b@mail>")
    assert t.message_id("tkt_1", "<a@mail>") != t.message_id("tkt_2", "<a@mail>")
    assert t.ticket_id() != t.ticket_id()


def test_overdue_query_takes_waiting_tickets_without_first_response():
    q = t.query(overdue_at=T0, status="open", sort="due")
    assert {"first_response_at": None} in q.filter["$and"] and {"status": "open"} in q.filter["$and"]
    assert q.sort == [("first_response_due_at", 1), ("_id", 1)]
    assert t.query().filter == {}


def test_keyset_after_a_three_field_sort_and_cursor_values_round_trip():
    sort = t.SORTS["priority"]
    assert keyset.after(sort, [3, T0, "tkt_a"]) == {
        "$or": [
            {"priority_rank": {"$lt": 3}},
            {"priority_rank": 3, "created_at": {"$gt": T0}},
            {"priority_rank": 3, "created_at": T0, "_id": {"$gt": "tkt_a"}},
        ]
    }
    assert keyset.load(keyset.dump([3, T0, "tkt_a"]), sort) == [3, T0, "tkt_a"]
    assert keyset.load([3, {"t": "yesterday"}, "x"], sort) is None
    assert keyset.load([3, "x"], sort) is None


def test_keyset_pages_cover_every_item_once_in_order():
    docs = [
        {"_id": f"tkt_{i:02d}", "priority_rank": i % 4, "created_at": T0 + timedelta(minutes=i % 3)}
        for i in range(25)
    ]
    sort = t.SORTS["priority"]

    def matches(doc, clause):
        if "$or" in clause:
            return any(matches(doc, c) for c in clause["$or"])
        for field, cond in clause.items():
            if isinstance(cond, dict):
                op, v = next(iter(cond.items()))
                if not (doc[field] > v if op == "$gt" else doc[field] < v):
                    return False
            elif doc[field] != cond:
                return False
        return True

    ordered = sorted(docs, key=lambda d: (-d["priority_rank"], d["created_at"], d["_id"]))
    seen, after = [], None
    while True:
        rest = [d for d in ordered if after is None or matches(d, keyset.after(sort, after))]
        page = rest[:4]
        if not page:
            break
        seen += page
        after = keyset.values(page[-1], sort)
    assert seen == ordered
