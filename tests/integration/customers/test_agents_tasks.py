"""Customers service (issue 15) through the real broker and FerretDB: sales agents, tasks and
an agent's calendar feed, notes given at creation and edited, storefront login, tags in use and
bulk tagging, orders by date or value and as CSV, the customer list as CSV."""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from harness import Broker, envelope, eventually


def unique_email(name: str = "ana") -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def customers(system):
    return system.service("customers")


async def new_agent(http, name: str = "Rita Sales", **extra) -> dict:
    r = await http.post("/v1/agents", json={"name": name, "email": unique_email("agent"), **extra})
    assert r.status_code == 201, r.text
    return r.json()


# sales agents


async def test_agents_are_records_a_customer_is_given_one_and_events_carry_it(customers, broker: Broker):
    async with customers.client() as http:
        rita = await new_agent(http, "Rita")
        assert rita["active"] is True and rita["id"].startswith("agt_") and rita["calendar_feed"] is False
        again = await http.post("/v1/agents", json={"name": "Other", "email": rita["email"].upper()})
        assert again.status_code == 409 and again.json()["type"].endswith("/agent-email-taken")
        assert (await http.post("/v1/agents", json={"name": "", "email": "x@example.com"})).status_code == 422
        tiago = await new_agent(http, "Tiago")

        c = (
            await http.post("/v1/customers", json={"email": unique_email(), "sales_agent_id": rita["id"]})
        ).json()
        assert c["sales_agent_id"] == rita["id"]
        other = (await http.post("/v1/customers", json={"email": unique_email()})).json()
        assert other["sales_agent_id"] is None

        unknown = await http.post(
            "/v1/customers", json={"email": unique_email(), "sales_agent_id": "agt_nope"}
        )
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "sales_agent_id"

        # the filter
        listed = (await http.get("/v1/customers", params={"sales_agent_id": rita["id"]})).json()["items"]
        assert [x["id"] for x in listed] == [c["id"]]

        # given later; the event carries it
        moved = await http.patch(f"/v1/customers/{other['id']}", json={"sales_agent_id": tiago["id"]})
        assert moved.status_code == 200 and moved.json()["sales_agent_id"] == tiago["id"]
        await broker.wait_for(
            "customer.updated",
            lambda b: b["data"]["id"] == other["id"] and b["data"]["sales_agent_id"] == tiago["id"],
        )
        created = await broker.wait_for("customer.created", lambda b: b["data"]["id"] == c["id"])
        assert created[0]["body"]["data"]["sales_agent_id"] == rita["id"]

        # an inactive agent keeps its customers but gets no new ones
        off = await http.patch(f"/v1/agents/{tiago['id']}", json={"active": False})
        assert off.status_code == 200 and off.json()["active"] is False
        refused = await http.patch(f"/v1/customers/{c['id']}", json={"sales_agent_id": tiago["id"]})
        assert refused.status_code == 422 and "inactive" in refused.json()["errors"][0]["message"]
        assert (await http.get(f"/v1/customers/{other['id']}")).json()["sales_agent_id"] == tiago["id"]
        active = (await http.get("/v1/agents", params={"active": "false", "limit": 500})).json()["items"]
        assert tiago["id"] in [a["id"] for a in active] and rita["id"] not in [a["id"] for a in active]

        # an agent with customers cannot be deleted; once they are reassigned it can
        busy = await http.delete(f"/v1/agents/{tiago['id']}")
        assert busy.status_code == 409 and busy.json()["customers"] == 1
        await http.patch(f"/v1/customers/{other['id']}", json={"sales_agent_id": None})
        assert (await http.delete(f"/v1/agents/{tiago['id']}")).status_code == 204
        assert (await http.get(f"/v1/agents/{tiago['id']}")).status_code == 404
        # its e-mail is free again
        assert (
            await http.post("/v1/agents", json={"name": "T2", "email": tiago["email"]})
        ).status_code == 201


# tasks and the calendar feed


async def test_tasks_per_customer_per_assignee_overdue_and_done(customers, broker: Broker):
    now = datetime.now(UTC)
    async with customers.client() as http:
        agent = await new_agent(http)
        c = (await http.post("/v1/customers", json={"email": unique_email(), "first_name": "Ana"})).json()
        late = await http.post(
            f"/v1/customers/{c['id']}/tasks",
            json={"title": "Call back", "due_at": iso(now - timedelta(hours=2)), "assignee_id": agent["id"]},
        )
        assert late.status_code == 201, late.text
        late = late.json()
        assert late["status"] == "open" and late["overdue"] is True and late["completed_at"] is None
        soon = (
            await http.post(
                f"/v1/customers/{c['id']}/tasks",
                json={
                    "title": "Send quote",
                    "notes": "20 pairs",
                    "due_at": "2099-01-02T10:00:00+02:00",
                    "assignee_id": agent["id"],
                },
            )
        ).json()
        assert soon["due_at"] == "2099-01-02T08:00:00Z" and soon["overdue"] is False  # stored in UTC
        unassigned = (
            await http.post(
                f"/v1/customers/{c['id']}/tasks",
                json={"title": "Check stock", "due_at": "2099-03-01T09:00:00Z"},
            )
        ).json()

        # bad input changes nothing
        naive = await http.post(
            f"/v1/customers/{c['id']}/tasks", json={"title": "x", "due_at": "2099-01-01T10:00:00"}
        )
        assert naive.status_code == 422 and naive.json()["errors"][0]["field"].endswith("due_at")
        nobody = await http.post(
            f"/v1/customers/{c['id']}/tasks",
            json={"title": "x", "due_at": "2099-01-01T10:00:00Z", "assignee_id": "agt_missing"},
        )
        assert nobody.status_code == 422
        assert (
            await http.post("/v1/customers/cus_missing/tasks", json={"title": "x", "due_at": iso(now)})
        ).status_code == 404

        mine = (await http.get(f"/v1/customers/{c['id']}/tasks")).json()["items"]
        assert [t["id"] for t in mine] == [late["id"], soon["id"], unassigned["id"]]  # soonest due first
        page = (await http.get(f"/v1/customers/{c['id']}/tasks", params={"limit": 2})).json()
        rest = (
            await http.get(f"/v1/customers/{c['id']}/tasks", params={"cursor": page["next_cursor"]})
        ).json()
        assert [t["id"] for t in page["items"] + rest["items"]] == [t["id"] for t in mine]

        assigned = (await http.get("/v1/tasks", params={"assignee_id": agent["id"]})).json()["items"]
        assert [t["id"] for t in assigned] == [late["id"], soon["id"]]
        overdue = (await http.get("/v1/tasks", params={"overdue": "true", "limit": 500})).json()["items"]
        assert late["id"] in [t["id"] for t in overdue] and soon["id"] not in [t["id"] for t in overdue]

        done = await http.patch(f"/v1/tasks/{late['id']}", json={"status": "done"})
        assert (
            done.status_code == 200
            and done.json()["completed_at"] is not None
            and done.json()["overdue"] is False
        )
        overdue = (await http.get("/v1/tasks", params={"overdue": "true", "limit": 500})).json()["items"]
        assert late["id"] not in [t["id"] for t in overdue]
        open_ = (await http.get(f"/v1/customers/{c['id']}/tasks", params={"status": "open"})).json()["items"]
        assert [t["id"] for t in open_] == [soon["id"], unassigned["id"]]
        reopened = (await http.patch(f"/v1/tasks/{late['id']}", json={"status": "open"})).json()
        assert reopened["completed_at"] is None
        assert (await http.patch(f"/v1/tasks/{late['id']}", json={"title": None})).status_code == 422

        # an agent with open tasks cannot be deleted
        busy = await http.delete(f"/v1/agents/{agent['id']}")
        assert busy.status_code == 409 and busy.json()["open_tasks"] == 2

        assert (await http.delete(f"/v1/tasks/{unassigned['id']}")).status_code == 204
        assert (await http.get(f"/v1/tasks/{unassigned['id']}")).status_code == 404
        assert (await http.delete(f"/v1/tasks/{unassigned['id']}")).status_code == 404

        # every change is an event carrying the task's state and version
        created = await broker.wait_for("task.created", lambda b: b["data"]["id"] == soon["id"])
        assert created[0]["body"]["data"]["due_at"] == "2099-01-02T08:00:00Z"
        assert created[0]["body"]["data"]["assignee_id"] == agent["id"]
        assert created[0]["body"]["subject"] == soon["id"] and created[0]["body"]["data"]["version"] == 1
        await broker.wait_for(
            "task.updated",
            lambda b: (
                b["data"]["id"] == late["id"] and b["data"]["status"] == "done" and b["data"]["completed_at"]
            ),
        )
        reopened_event = await broker.wait_for(
            "task.updated", lambda b: b["data"]["id"] == late["id"] and b["data"]["version"] == 3
        )
        assert reopened_event[0]["body"]["data"]["status"] == "open"
        gone = await broker.wait_for("task.deleted", lambda b: b["data"]["id"] == unassigned["id"])
        assert gone[0]["body"]["data"] == {"id": unassigned["id"], "customer_id": c["id"], "version": 2}

        # erasing the customer erases its tasks (each with its task.deleted)
        assert (await http.delete(f"/v1/customers/{c['id']}")).status_code == 204
        assert (await http.get(f"/v1/tasks/{soon['id']}")).status_code == 404
        await broker.wait_for("task.deleted", lambda b: b["data"]["id"] == soon["id"])
        await broker.wait_for("task.deleted", lambda b: b["data"]["id"] == late["id"])


async def test_calendar_feed_behind_a_revocable_secret_url(customers):
    async with customers.client() as http, customers.client(token=None) as anonymous:
        agent = await new_agent(http, "Rita")
        c = (
            await http.post(
                "/v1/customers", json={"email": unique_email(), "first_name": "Ana", "last_name": "Lima"}
            )
        ).json()
        task = (
            await http.post(
                f"/v1/customers/{c['id']}/tasks",
                json={"title": "Call back", "notes": "about the order", "due_at": "2099-05-01T09:30:00Z",
                      "assignee_id": agent["id"]},
            )
        ).json()  # fmt: skip

        assert (await anonymous.post(f"/v1/agents/{agent['id']}/calendar-token")).status_code == 401
        feed = await http.post(f"/v1/agents/{agent['id']}/calendar-token")
        assert feed.status_code == 200
        path, token = feed.json()["path"], feed.json()["token"]
        assert len(token) >= 40 and token in path and not path.startswith("/v1")
        assert (await http.get(f"/v1/agents/{agent['id']}")).json()["calendar_feed"] is True

        r = await anonymous.get(path)  # calendar apps send no bearer token
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
        cal = icalendar.Calendar.from_ical(r.content)
        events = [e for e in cal.walk("VEVENT")]
        assert len(events) == 1
        ev = events[0]
        assert str(ev["uid"]).startswith(task["id"]) and "Call back" in str(ev["summary"])
        assert "Ana Lima" in str(ev["summary"]) and "about the order" in str(ev["description"])
        assert ev.decoded("dtstart") == datetime(2099, 5, 1, 9, 30, tzinfo=UTC)

        # wrong secret, other agent, wrong shape: all the same 404
        other = await new_agent(http, "Tiago")
        for bad in (
            path.replace(token, token[:-1] + ("A" if token[-1] != "A" else "B")),
            path.replace(agent["id"], other["id"]),
            f"/calendar/agents/{agent['id']}/x.ics",
        ):
            assert (await anonymous.get(bad)).status_code == 404

        # a new secret replaces the old one; revoking closes the feed
        rotated = (await http.post(f"/v1/agents/{agent['id']}/calendar-token")).json()
        assert (await anonymous.get(path)).status_code == 404
        assert (await anonymous.get(rotated["path"])).status_code == 200
        assert (await http.patch(f"/v1/agents/{agent['id']}", json={"active": False})).status_code == 200
        assert (await anonymous.get(rotated["path"])).status_code == 404  # inactive agent: no feed
        await http.patch(f"/v1/agents/{agent['id']}", json={"active": True})
        assert (await anonymous.get(rotated["path"])).status_code == 200
        assert (await http.delete(f"/v1/agents/{agent['id']}/calendar-token")).status_code == 204
        assert (await anonymous.get(rotated["path"])).status_code == 404
        assert (await http.get(f"/v1/agents/{agent['id']}")).json()["calendar_feed"] is False


# notes


async def test_notes_given_at_creation_and_edited(customers):
    async with customers.client() as http:
        r = await http.post(
            "/v1/customers",
            json={"email": unique_email(), "notes": [{"body": "Prefers e-mail", "author": "rita"}]},
        )
        assert r.status_code == 201, r.text
        c = r.json()
        notes = (await http.get(f"/v1/customers/{c['id']}/notes")).json()["items"]
        assert [(n["body"], n["author"], n["edited_at"]) for n in notes] == [("Prefers e-mail", "rita", None)]

        edited = await http.patch(
            f"/v1/customers/{c['id']}/notes/{notes[0]['id']}",
            json={"body": "Prefers phone", "edited_by": "tiago"},
        )
        assert edited.status_code == 200, edited.text
        e = edited.json()
        assert e["body"] == "Prefers phone" and e["edited_by"] == "tiago" and e["author"] == "rita"
        assert e["edited_at"] >= e["created_at"]
        again = (await http.get(f"/v1/customers/{c['id']}/notes")).json()["items"][0]
        assert again["body"] == "Prefers phone" and again["edited_at"] == e["edited_at"]

        assert (
            await http.patch(f"/v1/customers/{c['id']}/notes/{notes[0]['id']}", json={"body": ""})
        ).status_code == 422
        assert (
            await http.patch(f"/v1/customers/{c['id']}/notes/note_x", json={"body": "y"})
        ).status_code == 404
        too_many = await http.post(
            "/v1/customers", json={"email": unique_email(), "notes": [{"body": "n"}] * 21}
        )
        assert too_many.status_code == 422


# storefront login


async def test_authenticate_without_telling_which_part_was_wrong(customers):
    email = unique_email()
    async with customers.client() as http:
        c = (
            await http.post("/v1/customers", json={"email": email, "password": "correct horse battery"})
        ).json()
        ok = await http.post(
            "/v1/customers/authenticate", json={"email": email.upper(), "password": "correct horse battery"}
        )
        assert ok.status_code == 200 and ok.json()["id"] == c["id"] and "hash" not in ok.text

        wrong_password = await http.post(
            "/v1/customers/authenticate", json={"email": email, "password": "nope nope"}
        )
        unknown = await http.post(
            "/v1/customers/authenticate", json={"email": unique_email(), "password": "correct horse battery"}
        )
        guest_email = unique_email()
        await http.post("/v1/customers", json={"email": guest_email, "has_account": False})
        guest = await http.post(
            "/v1/customers/authenticate", json={"email": guest_email, "password": "whatever1"}
        )
        for r in (wrong_password, unknown, guest):
            assert r.status_code == 401
            body = r.json()
            assert body["type"].endswith("/invalid-credentials")
            assert body["title"] == wrong_password.json()["title"] and body.get(
                "detail"
            ) == wrong_password.json().get("detail")

        await http.patch(f"/v1/customers/{c['id']}", json={"status": "inactive"})
        disabled = await http.post(
            "/v1/customers/authenticate", json={"email": email, "password": "correct horse battery"}
        )
        assert disabled.status_code == 403 and disabled.json()["type"].endswith("/account-disabled")
        # the wrong password of an inactive account says no more than any wrong pair
        assert (
            await http.post("/v1/customers/authenticate", json={"email": email, "password": "nope nope"})
        ).status_code == 401
        assert (
            await http.post("/v1/customers/authenticate", json={"email": "not-an-email"})
        ).status_code == 422


# tags


async def test_tags_in_use_with_counts_and_bulk_tagging(customers, broker: Broker):
    tag = f"t{uuid.uuid4().hex[:6]}"
    async with customers.client() as http:
        ids = [
            (
                await http.post(
                    "/v1/customers", json={"email": unique_email(), "tags": [tag] if i == 0 else []}
                )
            ).json()["id"]
            for i in range(3)
        ]
        r = await http.post(
            "/v1/customers/tags", json={"customer_ids": [*ids, "cus_missing"], "add": [tag, f"{tag}-b"]}
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"updated": ids, "unchanged": [], "not_found": ["cus_missing"]}
        counts = {t["tag"]: t["customers"] for t in (await http.get("/v1/tags")).json()["items"]}
        assert counts[tag] == 3 and counts[f"{tag}-b"] == 3

        untag = (
            await http.post("/v1/customers/tags", json={"customer_ids": ids[:2], "remove": [f"{tag}-b"]})
        ).json()
        assert untag["updated"] == ids[:2]
        again = (
            await http.post("/v1/customers/tags", json={"customer_ids": ids[:2], "remove": [f"{tag}-b"]})
        ).json()
        assert again["unchanged"] == ids[:2] and again["updated"] == []
        counts = {t["tag"]: t["customers"] for t in (await http.get("/v1/tags")).json()["items"]}
        assert counts[tag] == 3 and counts[f"{tag}-b"] == 1
        assert (await http.get(f"/v1/customers/{ids[0]}")).json()["tags"] == [tag]
        await broker.wait_for(
            "customer.updated", lambda b: b["data"]["id"] == ids[1] and b["data"]["tags"] == [tag]
        )
        assert (await http.post("/v1/customers/tags", json={"customer_ids": []})).status_code == 422


# orders and exports


def placed(email: str, order_id: str, total: int, at: str) -> dict:
    return {
        "order_id": order_id,
        "placed_at": at,
        "customer": {"email": email, "first_name": "Ana", "last_name": "Lima"},
        "currency": "EUR",
        "total": total,
        "items": [
            {"sku": "SKU-1", "name": "Runner", "category": "shoes", "quantity": 2, "unit_price": total // 2}
        ],
        "shipping_address": None,
        "billing_address": None,
        "store_credit_used": 0,
    }


async def test_orders_by_date_or_value_and_as_csv(customers, broker: Broker):
    email = unique_email()
    for oid, total, at in (
        ("o-a", 3000, "2026-11-01T10:00:00Z"),
        ("o-b", 9000, "2026-11-02T10:00:00Z"),
        ("o-c", 1000, "2026-11-03T10:00:00Z"),
    ):
        await broker.publish(envelope("order.placed", placed(email, oid, total, at)))
    async with customers.client() as http:

        async def three():
            r = await http.get("/v1/customers", params={"q": email})
            items = r.json()["items"]
            return items[0] if items and items[0]["stats"]["number_of_orders"] == 3 else None

        c = await eventually(three)
        base = f"/v1/customers/{c['id']}/orders"

        async def ids(sort: str, limit: int = 50) -> list[str]:
            out, cursor = [], None
            while True:
                params = {"sort": sort, "limit": limit, **({"cursor": cursor} if cursor else {})}
                page = (await http.get(base, params=params)).json()
                out += [o["order_id"] for o in page["items"]]
                cursor = page["next_cursor"]
                if not cursor:
                    return out

        assert await ids("-placed_at") == ["o-c", "o-b", "o-a"]
        assert await ids("placed_at", limit=1) == ["o-a", "o-b", "o-c"]
        assert await ids("-total", limit=2) == ["o-b", "o-a", "o-c"]
        assert await ids("total") == ["o-c", "o-a", "o-b"]
        assert (await http.get(base, params={"sort": "price"})).status_code == 422
        first = (await http.get(base, params={"sort": "total", "limit": 1})).json()
        wrong = await http.get(base, params={"sort": "-total", "cursor": first["next_cursor"]})
        assert wrong.status_code == 422

        r = await http.get(f"{base}.csv", params={"sort": "-total"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert [(x["order_id"], x["total"], x["quantity"], x["status"]) for x in rows] == [
            ("o-b", "9000", "2", "placed"),
            ("o-a", "3000", "2", "placed"),
            ("o-c", "1000", "2", "placed"),
        ]
        assert (await http.get("/v1/customers/cus_missing/orders.csv")).status_code == 404


async def test_customer_list_as_csv_as_filtered(customers):
    tag = f"csv{uuid.uuid4().hex[:6]}"
    async with customers.client() as http:
        made = []
        for i in range(3):
            body = {"email": unique_email(f"c{i}"), "first_name": f"N{i}", "tags": [tag]}
            if i == 0:
                body["last_name"] = '=HYPERLINK("http://x")'  # a formula must not run in a spreadsheet
            made.append((await http.post("/v1/customers", json=body)).json())
        await http.post("/v1/customers", json={"email": unique_email("other")})

        r = await http.get("/v1/customers.csv", params={"tag": tag, "sort": "name"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert sorted(x["id"] for x in rows) == sorted(c["id"] for c in made)
        assert [x["first_name"] for x in rows] == ["N0", "N1", "N2"]
        row0 = next(x for x in rows if x["id"] == made[0]["id"])
        assert row0["last_name"].startswith("'=") and row0["tags"] == tag and row0["has_account"] == "true"
        assert (await http.get("/v1/customers.csv", params={"sort": "bogus"})).status_code == 422
        async with customers.client(token=None) as anonymous:
            assert (await anonymous.get("/v1/customers.csv")).status_code == 401


# CSV import


async def test_csv_import_dry_run_then_idempotent_job(customers, broker: Broker):
    async with customers.client() as http:
        agent = await new_agent(http)
        existing = unique_email("old")
        old = (await http.post("/v1/customers", json={"email": existing, "first_name": "Old"})).json()
        a, b = unique_email("imp"), unique_email("imp")
        header = "email,first_name,last_name,tags,has_account,email_subscribed,sales_agent_id,shipping_line1,shipping_city,shipping_country_code"
        good = [
            f"{a},Ana,Lima,vip;pos,true,true,{agent['id']},Rua A 1,Lisboa,PT",
            f"{b},Bruno,,,false,,,,,",
            f"{existing},Changed,,,,,,,,",
        ]
        bad = [
            "not-an-email,X,,,,,,,,",
            f"{unique_email()},Y,,,maybe,,,,,",
            f"{unique_email()},Z,,,,,agt_missing,,,",
            f"{unique_email()},W,,,,,,Rua B,Porto,XX",
            f"{a.upper()},Dup,,,,,,,,",
            "too,few",
        ]
        text = "\n".join([header, *good, *bad]) + "\n"
        csv_headers = {"Content-Type": "text/csv"}

        dry = await http.post(
            "/v1/customer-imports", params={"dry_run": "true"}, content=text, headers=csv_headers
        )
        assert dry.status_code == 200, dry.text
        report = dry.json()
        assert report["rows"] == 9 and report["valid"] == 3
        got = {(p["line"], p["field"]) for p in report["problems"]}
        assert got == {
            (5, "email"),
            (6, "has_account"),
            (7, "sales_agent_id"),
            (8, "shipping_country_code"),
            (9, "email"),
            (10, None),
        }, report["problems"]
        assert "line 2" in next(p["message"] for p in report["problems"] if p["line"] == 9)
        # nothing changed
        assert (await http.get("/v1/customers", params={"q": a})).json()["items"] == []

        refused = await http.post("/v1/customer-imports", content=text, headers=csv_headers)
        assert refused.status_code == 422 and len(refused.json()["errors"]) == 6
        assert (await http.get("/v1/customers", params={"q": a})).json()["items"] == []
        header_bad = await http.post(
            "/v1/customer-imports", params={"dry_run": "true"}, content="mail,name\nx,y\n"
        )
        assert header_bad.status_code == 200 and header_bad.json()["problems"][0]["line"] == 1

        only_good = "\n".join([header, *good]) + "\n"
        started = await http.post("/v1/customer-imports", content=only_good, headers=csv_headers)
        assert started.status_code == 202, started.text
        job = started.json()
        assert started.headers["location"] == f"/v1/customer-imports/{job['id']}" and job["rows"] == 3

        async def finished():
            j = (await http.get(f"/v1/customer-imports/{job['id']}")).json()
            return j if j["status"] == "done" else None

        done = await eventually(finished)
        assert (done["processed"], done["created"], done["existing"], done["failed"]) == (3, 2, 1, 0)
        ana = (await http.get("/v1/customers", params={"q": a})).json()["items"][0]
        assert (
            ana["first_name"] == "Ana"
            and ana["tags"] == ["vip", "pos"]
            and ana["sales_agent_id"] == agent["id"]
        )
        assert ana["email_subscribed"] is True and ana["has_account"] is True and ana["country"] == "PT"
        assert [(x["line1"], x["type"], x["is_default"]) for x in ana["addresses"]] == [
            ("Rua A 1", "shipping", True)
        ]
        bruno = (await http.get("/v1/customers", params={"q": b})).json()["items"][0]
        assert bruno["has_account"] is False and bruno["last_name"] is None
        assert (await http.get(f"/v1/customers/{old['id']}")).json()["first_name"] == "Old"  # left unchanged
        created = await broker.wait_for("customer.created", lambda e: e["data"]["id"] == ana["id"])
        assert created[0]["body"]["data"]["version"] == 1  # the whole row in one version
        assert created[0]["body"]["crmlane"] == "bulk"  # an import is bulk traffic
        assert created[0]["headers"]["crm-lane"] == "bulk"  # which the broker routes to the lanes

        # a re-run changes nothing
        again = (await http.post("/v1/customer-imports", content=only_good, headers=csv_headers)).json()
        job = again
        done = await eventually(finished)
        assert (done["created"], done["existing"]) == (0, 3)
        assert (await http.get(f"/v1/customers/{ana['id']}")).json()["version"] == ana["version"]
        assert (await http.get("/v1/customer-imports/imp_missing")).status_code == 404
