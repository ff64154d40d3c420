"""Issue 18: support tickets in the engagement service, as a process against RabbitMQ and
FerretDB: staff and inbound tickets, threads, the first response and overdue lists, status
moves, filters, sorts and paging. Assertions are on what the HTTP API shows."""

import asyncio
import uuid

import pytest

from harness import eventually

# A first response is due ~2 s after a ticket opens, so overdue can be seen within a test.
FIRST_RESPONSE_HOURS = "0.0006"
STAFF = {"X-CRM-Operator": "maria@shop.example"}


@pytest.fixture
def svc(system):
    return system.service("engagement", CRM_ENGAGEMENT_FIRST_RESPONSE_HOURS=FIRST_RESPONSE_HOURS)


def cid() -> str:
    return f"cus_{uuid.uuid4().hex[:12]}"


async def all_tickets(http) -> list[dict]:
    r = await http.get("/v1/tickets", params={"limit": 500})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def create(http, **changes) -> dict:
    body = {"subject": "Parcel late", "customer_id": cid(), **changes}
    r = await http.post("/v1/tickets", json=body, headers=STAFF)
    assert r.status_code == 201, r.text
    return r.json()


async def test_staff_create_refuses_bad_input_with_the_field_and_stores_nothing(svc):
    async with svc.client() as http:
        before = await all_tickets(http)
        for body, field in [
            ({"customer_id": "cus_1"}, "subject"),
            ({"subject": "", "customer_id": "cus_1"}, "subject"),
            ({"subject": "s", "customer_id": "cus_1", "priority": "asap"}, "priority"),
            ({"subject": "s", "email": "not-an-email"}, "email"),
            ({"subject": "s", "customer_id": "cus_1", "order_ids": ["o"] * 101}, "order_ids"),
            ({"subject": "s", "customer_id": "cus_1", "colour": "red"}, "colour"),
            ({"subject": "s"}, "customer_id"),  # nobody named
        ]:
            r = await http.post("/v1/tickets", json=body)
            assert r.status_code == 422, (body, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert field in [e["field"] for e in r.json()["errors"]], (body, r.json())
        assert await all_tickets(http) == before


async def test_a_staff_ticket_and_replies_name_the_operator(svc):
    async with svc.client() as http:
        t = await create(
            http,
            body="Called: parcel ord_7 not here",
            priority="high",
            assignee_id="agt_1",
            order_ids=["ord_7"],
        )
        assert t["status"] == "open" and t["priority"] == "high" and t["order_ids"] == ["ord_7"]
        assert t["channel"] == "staff" and t["first_response_at"] is None and not t["overdue"]
        [first] = t["messages"]
        assert first["direction"] == "inbound" and first["author"] == "customer"
        assert first["recorded_by"] == "maria@shop.example"

        r = await http.post(f"/v1/tickets/{t['id']}/messages", json={"body": "On its way"}, headers=STAFF)
        assert r.status_code == 201, r.text
        assert r.json()["messages"][-1]["author"] == "maria@shop.example"
        r = await http.post(
            f"/v1/tickets/{t['id']}/messages", json={"body": "x", "author": "joao@shop.example"}
        )
        assert r.json()["messages"][-1]["author"] == "joao@shop.example"

        # No author and no X-CRM-Operator: 422, nothing added.
        r = await http.post(f"/v1/tickets/{t['id']}/messages", json={"body": "who am I"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "author"
        assert len((await http.get(f"/v1/tickets/{t['id']}")).json()["messages"]) == 3

        for method, path, body in [
            ("GET", "/v1/tickets/tkt_nope", None),
            ("PATCH", "/v1/tickets/tkt_nope", {"priority": "low"}),
            ("POST", "/v1/tickets/tkt_nope/messages", {"body": "x", "author": "a"}),
        ]:
            r = await http.request(method, path, json=body)
            assert r.status_code == 404, (path, r.text)


async def test_an_inbound_message_opens_a_ticket_and_the_next_ones_join_it(svc):
    email = f"ana.{uuid.uuid4().hex[:8]}@example.com"
    async with svc.client() as http:
        r = await http.post(
            "/v1/tickets/inbound",
            json={"email": email, "subject": "Wrong size", "body": "I got a 42", "message_id": "<m1@mail>"},
        )
        assert r.status_code == 201, r.text
        t = r.json()
        assert t["created"] and t["channel"] == "inbound" and t["email"] == email and t["status"] == "open"
        assert [m["body"] for m in t["messages"]] == ["I got a 42"]

        # The gateway retries the same mail: nothing new.
        r = await http.post(
            "/v1/tickets/inbound",
            json={"email": email, "subject": "Wrong size", "body": "I got a 42", "message_id": "<m1@mail>"},
        )
        assert r.status_code == 200 and r.json()["id"] == t["id"] and len(r.json()["messages"]) == 1

        # A second message naming the ticket, then a mail reply whose subject refers to it.
        r = await http.post(
            "/v1/tickets/inbound",
            json={"email": email.upper(), "subject": "Re", "body": "Need a 43", "ticket_id": t["id"]},
        )
        assert r.status_code == 200 and not r.json()["created"], r.text
        r = await http.post(
            "/v1/tickets/inbound",
            json={"email": email, "subject": f"Re: Wrong size [{t['id']}]", "body": "Any news?"},
        )
        assert r.status_code == 200 and r.json()["id"] == t["id"]
        thread = (await http.get(f"/v1/tickets/{t['id']}")).json()["messages"]
        assert [m["body"] for m in thread] == ["I got a 42", "Need a 43", "Any news?"]
        assert {m["direction"] for m in thread} == {"inbound"}

        # Someone else cannot write into it; an unknown ticket is 404; a stranger's reference
        # in a subject opens a ticket of their own.
        r = await http.post(
            "/v1/tickets/inbound",
            json={"email": "eve@example.com", "subject": "x", "body": "hi", "ticket_id": t["id"]},
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ticket_id"
        r = await http.post(
            "/v1/tickets/inbound",
            json={"email": email, "subject": "x", "body": "hi", "ticket_id": "tkt_" + "0" * 32},
        )
        assert r.status_code == 404
        r = await http.post(
            "/v1/tickets/inbound", json={"email": "eve@example.com", "subject": f"[{t['id']}]", "body": "hi"}
        )
        assert r.status_code == 201 and r.json()["id"] != t["id"]
        assert len((await http.get(f"/v1/tickets/{t['id']}")).json()["messages"]) == 3

        r = await http.post("/v1/tickets/inbound", json={"subject": "x", "body": "y"})
        assert r.status_code == 422 and "customer_id" in [e["field"] for e in r.json()["errors"]]


async def test_overdue_until_the_first_staff_reply(svc):
    async with svc.client() as http:
        t = await create(http, priority="urgent")
        waiting = await create(http)
        assert not t["overdue"]

        async def overdue_ids():
            r = await http.get("/v1/tickets", params={"overdue": "true", "limit": 500})
            return {x["id"] for x in r.json()["items"]}

        await eventually(lambda: _has(overdue_ids, {t["id"], waiting["id"]}), timeout=15)
        shown = (await http.get(f"/v1/tickets/{t['id']}")).json()
        assert shown["overdue"] and shown["first_response_at"] is None

        # An inbound message is no response; a staff reply is.
        await http.post(
            "/v1/tickets/inbound",
            json={"customer_id": t["customer_id"], "subject": "x", "body": "Hello?", "ticket_id": t["id"]},
        )
        assert t["id"] in await overdue_ids()
        r = await http.post(f"/v1/tickets/{t['id']}/messages", json={"body": "Looking now"}, headers=STAFF)
        answered = r.json()
        assert answered["first_response_at"] is not None and not answered["overdue"]
        assert answered["first_response_at"] == answered["messages"][-1]["at"]
        ids = await overdue_ids()
        assert t["id"] not in ids and waiting["id"] in ids

        # A second reply does not move the first response.
        r = await http.post(f"/v1/tickets/{t['id']}/messages", json={"body": "Found it"}, headers=STAFF)
        assert r.json()["first_response_at"] == answered["first_response_at"]

        # Resolved: nobody waits, so not overdue either.
        await http.patch(f"/v1/tickets/{waiting['id']}", json={"status": "resolved"})
        assert waiting["id"] not in await overdue_ids()


async def _has(ids_of, wanted: set[str]) -> bool:
    return wanted <= await ids_of()


async def test_status_moves_and_refused_ones(svc):
    async with svc.client() as http:
        t = await create(http)
        path = f"/v1/tickets/{t['id']}"

        r = await http.post(
            f"{path}/messages", json={"body": "Could you send a photo?", "status": "pending"}, headers=STAFF
        )
        assert r.json()["status"] == "pending"
        # The customer answers: the pending ticket opens again.
        r = await http.post(
            "/v1/tickets/inbound",
            json={"customer_id": t["customer_id"], "subject": "photo", "body": "here", "ticket_id": t["id"]},
        )
        assert r.json()["status"] == "open"

        r = await http.patch(path, json={"status": "resolved", "priority": "low", "assignee_id": "agt_9"})
        assert r.status_code == 200 and (r.json()["status"], r.json()["priority"]) == ("resolved", "low")
        assert r.json()["assignee_id"] == "agt_9"
        r = await http.patch(path, json={"status": "pending"})
        assert r.status_code == 409 and "resolved" in r.json()["detail"], r.text
        assert (await http.patch(path, json={"status": "closed"})).json()["status"] == "closed"

        # Closed: final for staff (409, nothing changed); the customer writing again opens it.
        version = (await http.get(path)).json()["version"]
        r = await http.patch(path, json={"status": "open"})
        assert r.status_code == 409 and "inbound message" in r.json()["detail"], r.text
        r = await http.post(f"{path}/messages", json={"body": "late"}, headers=STAFF)
        assert r.status_code == 409
        shown = (await http.get(path)).json()
        assert shown["status"] == "closed" and shown["version"] == version
        assert [m["body"] for m in shown["messages"]][-1] == "here"
        r = await http.post(
            "/v1/tickets/inbound",
            json={
                "customer_id": t["customer_id"],
                "subject": "again",
                "body": "broke again",
                "ticket_id": t["id"],
            },
        )
        assert r.json()["status"] == "open"

        r = await http.patch(path, json={"assignee_id": None, "order_ids": ["ord_1", "ord_2", "ord_1"]})
        assert r.json()["assignee_id"] is None and r.json()["order_ids"] == ["ord_1", "ord_2"]
        for body, field in [
            ({"priority": None}, "priority"),
            ({"status": "done"}, "status"),
            ({"x": 1}, "x"),
        ]:
            r = await http.patch(path, json=body)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text


async def test_filters_sorts_and_paging(svc):
    customer = cid()
    async with svc.client() as http:
        made = []
        for priority, assignee in [
            ("low", "agt_a"),
            ("urgent", "agt_b"),
            ("normal", "agt_a"),
            ("high", None),
            ("urgent", "agt_a"),
        ]:
            made.append(await create(http, customer_id=customer, priority=priority, assignee_id=assignee))
            await asyncio.sleep(0.01)  # distinct creation times

        async def walk(**params) -> list[dict]:
            seen, cursor = [], None
            while True:
                q = {"customer_id": customer, "limit": 2, **params, **({"cursor": cursor} if cursor else {})}
                r = await http.get("/v1/tickets", params=q)
                assert r.status_code == 200, r.text
                page = r.json()
                assert len(page["items"]) <= 2
                seen += page["items"]
                cursor = page["next_cursor"]
                if cursor is None:
                    return seen

        newest = await walk()
        assert [t["id"] for t in newest] == [t["id"] for t in reversed(made)]
        by_priority = await walk(sort="priority")
        assert [t["priority"] for t in by_priority] == ["urgent", "urgent", "high", "normal", "low"]
        assert by_priority[0]["id"] == made[1]["id"]  # the older urgent one first
        by_due = await walk(sort="due")
        assert [t["id"] for t in by_due] == [t["id"] for t in made]

        assert {t["id"] for t in await walk(assignee_id="agt_a")} == {
            made[0]["id"],
            made[2]["id"],
            made[4]["id"],
        }
        assert [t["id"] for t in await walk(priority="urgent", assignee_id="agt_a")] == [made[4]["id"]]
        await http.patch(f"/v1/tickets/{made[3]['id']}", json={"status": "pending"})
        assert [t["id"] for t in await walk(status="pending")] == [made[3]["id"]]
        assert await walk(status="closed") == []

        # A cursor of one sort is refused by another; bad filters are 422 on their parameter.
        r = await http.get("/v1/tickets", params={"customer_id": customer, "limit": 2})
        cursor = r.json()["next_cursor"]
        r = await http.get("/v1/tickets", params={"customer_id": customer, "sort": "due", "cursor": cursor})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor"
        for params, field in [
            ({"sort": "name"}, "sort"),
            ({"priority": "asap"}, "priority"),
            ({"cursor": "!!"}, "cursor"),
        ]:
            r = await http.get("/v1/tickets", params=params)
            assert r.status_code == 422 and field in r.json()["errors"][0]["field"], r.text


async def test_a_retried_mail_whose_first_try_stopped_after_storing_it_still_opens_the_ticket(
    svc, mongo, system
):
    """The gateway's first try stored the message and stopped before the ticket opened again
    (a killed replica): its retry with the same Message-ID finishes that, and adds no copy."""
    from datetime import UTC, datetime

    from crm_engagement.domain.tickets import message_id

    email = f"bo.{uuid.uuid4().hex[:8]}@example.com"
    async with svc.client() as http:
        first = {"email": email, "subject": "Broken", "body": "It broke", "message_id": "<b1@mail>"}
        t = (await http.post("/v1/tickets/inbound", json=first)).json()
        r = await http.patch(f"/v1/tickets/{t['id']}", json={"status": "resolved"}, headers=STAFF)
        assert r.status_code == 200 and r.json()["status"] == "resolved", r.text
        again = {
            "email": email,
            "subject": "Re",
            "body": "Still broken",
            "ticket_id": t["id"],
            "message_id": "<b2@mail>",
        }
        await mongo[system.database("engagement")]["ticket_messages"].insert_one(
            {
                "_id": message_id(t["id"], "<b2@mail>"),
                "ticket_id": t["id"],
                "direction": "inbound",
                "author": "customer",
                "body": again["body"],
                "at": datetime.now(UTC),
                "recorded_by": None,
            }
        )
        r = await http.post("/v1/tickets/inbound", json=again)
        assert r.status_code == 200, r.text
        shown = (await http.get(f"/v1/tickets/{t['id']}")).json()
        assert shown["status"] == "open"
        assert [m["body"] for m in shown["messages"]] == ["It broke", "Still broken"]
        r = await http.post("/v1/tickets/inbound", json=again)  # and once more: nothing new
        assert r.json()["status"] == "open" and len(r.json()["messages"]) == 2
