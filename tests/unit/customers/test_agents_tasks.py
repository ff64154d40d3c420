"""Customers (issue 15): agents' feed secrets, task rules and the calendar, order sorting, CSV
cells, tags, login: pure rules and use cases with in-memory data."""

from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from crm_customers.domain import agents, customer, orders, passwords, search, stats, tasks
from crm_customers.schemas import csv_line
from crm_customers.store import INDEXES, SEARCH_INDEXES

T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)


def test_a_feed_secret_is_long_random_stored_hashed_and_only_opens_its_active_agent():
    agent = agents.new_agent("Rita", "Rita@Example.com", True, T0)
    assert agent["email_key"] == "rita@example.com" and agent["calendar_token_sha256"] is None
    token, digest = agents.new_calendar_token()
    other, _ = agents.new_calendar_token()
    assert len(token) >= 43 and token != other and digest != token and len(digest) == 64
    assert not agents.opens_feed(agent, token)  # no feed yet
    agent["calendar_token_sha256"] = digest
    assert agents.opens_feed(agent, token)
    assert not agents.opens_feed(agent, other)
    assert not agents.opens_feed(None, token)
    assert not agents.opens_feed({**agent, "active": False}, token)


def test_agent_edit_moves_updated_at_only_when_something_changes():
    agent = agents.new_agent("Rita", "rita@example.com", True, T0)
    later = T0 + timedelta(hours=1)
    assert agents.edit(agent, {"name": "Rita"}, later) == agent
    moved = agents.edit(agent, {"email": "R@example.com", "active": False}, later)
    assert moved["email_key"] == "r@example.com" and not moved["active"] and moved["updated_at"] == later


def test_done_records_completed_at_and_reopening_clears_it():
    t = tasks.new_task("cus_1", title="Call", notes=None, due_at=T0, assignee_id=None, now=T0)
    assert tasks.is_overdue(t, T0 + timedelta(minutes=1)) and not tasks.is_overdue(t, T0)
    done = tasks.edit(t, {"status": "done"}, T0 + timedelta(hours=1))
    assert done["completed_at"] == T0 + timedelta(hours=1) and not tasks.is_overdue(
        done, T0 + timedelta(days=9)
    )
    assert tasks.edit(done, {"status": "done"}, T0 + timedelta(hours=2)) == done  # already done: unchanged
    reopened = tasks.edit(done, {"status": "open"}, T0 + timedelta(hours=3))
    assert reopened["completed_at"] is None and reopened["status"] == "open"


def test_every_task_list_starts_with_an_indexed_equality():
    indexed = {tuple(k for k, _ in ix.document["key"].items()) for ix in INDEXES["tasks"]}
    cases = [
        ({"customer_id": "c"}, "customer_id"),
        ({"assignee_id": "a", "status": "open"}, "assignee_id"),
        ({"overdue_at": T0}, "status"),
        ({"assignee_id": "a", "completed_since": T0}, "assignee_id"),
    ]
    for kwargs, first in cases:
        q = tasks.query(**kwargs, after=(T0, "tsk_1"))
        assert (first, "due_at", "_id") in indexed
        assert q.sort == [("due_at", 1), ("_id", 1)]
        assert first in str(q.filter)
    overdue = tasks.query(overdue_at=T0).filter["$and"]
    assert {"status": "open"} in overdue and {"due_at": {"$lt": T0}} in overdue


def test_the_customer_list_filters_by_agent_with_an_index():
    q = search.build(sales_agent_id="agt_1", sort="name")
    assert q.filter == {"sales_agent_id": "agt_1"}
    keys = {tuple(ix.document["key"]) for ix in SEARCH_INDEXES}
    assert ("sales_agent_id", "name_sort", "_id") in keys and ("sales_agent_id", "created_at", "_id") in keys


def test_calendar_is_rfc5545_with_one_event_per_task():
    agent = agents.new_agent("Rita", "rita@example.com", True, T0)
    open_ = tasks.new_task(
        "cus_1", title="Call", notes="Line 1\nLine 2, with; chars", due_at=T0, assignee_id="a", now=T0
    )
    done = tasks.edit(
        tasks.new_task("cus_2", title="Quote", notes=None, due_at=T0, assignee_id="a", now=T0),
        {"status": "done"},
        T0,
    )
    raw = tasks.calendar(agent, [open_, done], {"cus_1": "Ana Lima"}, T0)
    cal = icalendar.Calendar.from_ical(raw)
    assert str(cal["version"]) == "2.0" and "Rita" in str(cal["x-wr-calname"])
    events = list(cal.walk("VEVENT"))
    assert [str(e["uid"]) for e in events] == [
        f"{open_['_id']}@crm-customers",
        f"{done['_id']}@crm-customers",
    ]
    assert str(events[0]["summary"]) == "Call (Ana Lima)"
    assert "Line 2, with; chars" in str(events[0]["description"])
    assert str(events[1]["summary"]).startswith("Done: ") and "cus_2" in str(events[1]["summary"])
    assert events[0].decoded("dtend") - events[0].decoded("dtstart") == tasks.FEED_EVENT_LENGTH
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))  # RFC 5545 folds long lines


def _view(key: str, total: int, days: int) -> stats.OrderView:
    order = {
        "_id": key,
        "order_id": key,
        "placed_at": T0 + timedelta(days=days),
        "total": total,
        "currency": "EUR",
    }
    return stats.apply_adjustments(order, [])  # type: ignore[arg-type]


def test_orders_sort_by_date_or_value_with_a_keyset():
    views = [_view("a", 300, 0), _view("b", 900, 1), _view("c", 100, 2), _view("d", 900, 3)]
    ids = lambda vs: [v.order["_id"] for v in vs]  # noqa: E731
    assert ids(orders.sorted_views(views, "-placed_at")) == ["d", "c", "b", "a"]
    assert ids(orders.sorted_views(views, "total")) == ["c", "a", "b", "d"]
    assert ids(orders.sorted_views(views, "-total")) == ["d", "b", "a", "c"]
    first = orders.sorted_views(views, "-total")[0]
    cur = orders.sort_cursor(first, "-total")
    assert ids(orders.sorted_views(views, "-total", (cur["v"], cur["id"]))) == ["b", "a", "c"]


def test_csv_cells_never_become_formulas():
    line = csv_line(["=SUM(A1)", "+1", "-2", "@x", "plain", None, True, 5, T0, 'a "quoted", b'])
    assert line == '\'=SUM(A1),\'+1,\'-2,\'@x,plain,,true,5,2026-11-01T10:00:00Z,"a ""quoted"", b"\r\n'


def test_retag_adds_once_and_removal_wins():
    doc = customer.new_customer("cus_1", email="a@example.com", now=T0, has_account=True, tags=["vip", "old"])
    assert customer.retag(doc, ["new", "vip", " new "], ["old"])["tags"] == ["vip", "new"]
    assert customer.retag(doc, ["x"], ["x"])["tags"] == ["vip", "old"]


async def test_login_check_does_the_same_work_without_a_hash():
    hashed = await passwords.hash_password("correct horse")
    assert await passwords.verify_password(hashed, "correct horse")
    assert not await passwords.verify_password(hashed, "wrong")
    assert not await passwords.verify_password(None, "correct horse")


@pytest.mark.parametrize("status", ["enabled", "inactive"])
async def test_authenticate_use_case(status):
    from crm_customers.service import Customers
    from crm_servicekit.errors import Forbidden

    hashed = await passwords.hash_password("correct horse")
    doc = customer.new_customer("cus_1", email="a@example.com", now=T0, has_account=True, status=status)

    class Store:
        async def owner_of(self, key):
            return "cus_1" if key == "a@example.com" else None

        async def get(self, customer_id):
            return doc if customer_id == "cus_1" else None

        async def password_hash(self, customer_id):
            return {"_id": customer_id, "hash": hashed, "updated_at": T0}

    use = Customers(Store(), "/crm/customers", "EUR")  # type: ignore[arg-type]
    for email, pw in (("a@example.com", "wrong"), ("b@example.com", "correct horse")):
        with pytest.raises(customer.InvalidCredentials):
            await use.authenticate(email, pw)
    if status == "enabled":
        assert (await use.authenticate("A@example.com", "correct horse"))["id"] == "cus_1"
    else:
        with pytest.raises(Forbidden) as e:
            await use.authenticate("a@example.com", "correct horse")
        assert e.value.slug == "account-disabled"


def test_csv_import_reports_every_bad_row_with_its_line():
    from crm_customers.schemas import parse_import

    text = (
        "email,first_name,tags,has_account,shipping_line1,shipping_city,shipping_country_code\r\n"
        "ana@example.com,Ana,vip; pos ,false,Rua A,Lisboa,pt\r\n"
        "\r\n"
        "bad,B,,,,,\r\n"
        '"multi\nline@example.com",C,,,,,\r\n'
        "ANA@example.com,Dup,,,,,\r\n"
        "d@example.com,D,,maybe,Rua,,PT\r\n"
        "e@example.com\r\n"
    )
    rows, problems = parse_import(text)
    assert [r["line"] for r in rows] == [2]
    row = rows[0]
    assert row["email"] == "ana@example.com" and row["has_account"] is False
    assert row["profile"] == {"first_name": "Ana", "tags": ["vip", "pos"]}
    assert row["addresses"][0]["country_code"] == "PT" and row["addresses"][0]["type"] == "shipping"
    lines = {(p["line"], p["field"]) for p in problems}
    assert lines == {
        (4, "email"),
        (5, "email"),  # a quoted cell over two lines: the record starts on line 5
        (7, "email"),  # the same e-mail as line 2
        (8, "has_account"),
        (8, "shipping_city"),
        (9, None),  # too few cells
    }
    assert next(p for p in problems if p["line"] == 7)["message"] == "same e-mail as line 2"


def test_csv_import_refuses_a_bad_header_whole():
    from crm_customers.schemas import parse_import

    assert parse_import("") == (
        [],
        [{"line": 1, "field": None, "message": "empty file: a header line is required"}],
    )
    rows, problems = parse_import("email,shoe_size\na@example.com,42\n")
    assert rows == [] and problems[0]["line"] == 1 and "shoe_size" in problems[0]["message"]
    assert parse_import("first_name\nAna\n")[1][0]["message"] == "a column `email` is required"
