"""Issue 18: NPS and satisfaction surveys in the engagement service, as a process against
RabbitMQ, FerretDB and Mailpit: a survey is mailed (to customers, a segment, after an order),
answered 0-10 through the signed link in the mail (a small HTML form, no JavaScript), once
per survey and customer, and reported as NPS per period and per segment, checked against
numbers computed here."""

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crm_engagement.domain.surveys import token
from harness import envelope, eventually, order_placed

SECRET = "test-link-secret-" + "x" * 32


@pytest.fixture
def svc(system, mailpit, helpers):
    return system.service("engagement", **helpers["service_env"](mailpit, CRM_ENGAGEMENT_LINK_SECRET=SECRET))


def expected(scores: list[int]) -> dict:
    n = len(scores)
    promoters = len([s for s in scores if s in (9, 10)])
    detractors = len([s for s in scores if 0 <= s <= 6])
    return {
        "responses": n,
        "promoters": promoters,
        "passives": n - promoters - detractors,
        "detractors": detractors,
        "nps": round(promoters / n * 100 - detractors / n * 100, 1),
        "average": round(sum(scores) / n, 2),
    }


async def known(http, customer_id):
    async def seen():
        return (await http.get(f"/v1/customers/{customer_id}/contact")).status_code == 200

    await eventually(seen)


async def link_in(svc, mailpit, email) -> str:
    """The survey link of the mail to `email`, on the test's service (the mail's host is the
    default public URL)."""
    [mail] = await mailpit.wait_to(email)
    text = (await mailpit.message(mail["ID"]))["Text"]
    return svc.url + re.search(r"https?://[^/\s]+(/survey/\S+)", text).group(1)


async def answer(url: str, score, comment: str | None = None) -> httpx.Response:
    data = {"score": str(score)} | ({"comment": comment} if comment else {})
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, data=data)


async def test_an_nps_survey_is_mailed_answered_once_and_reported_per_segment_and_period(
    svc, people, broker, mailpit
):
    segment_id = f"seg_{uuid.uuid4().hex[:8]}"
    customers = [await people.customer() for _ in range(5)]
    async with svc.client() as http:
        for customer_id, email in customers[:3]:
            data = {
                "segment_id": segment_id,
                "segment_name": "VIP",
                "customer_id": customer_id,
                "email": email,
            }
            await broker.publish(envelope("segment.member.joined", data))
        for customer_id, _ in customers:
            await known(http, customer_id)

        r = await http.post("/v1/surveys", json={"name": "Q4 NPS", "kind": "stars"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind", r.text
        r = await http.post("/v1/surveys", json={"name": "Q4 NPS", "template_id": "tpl_nope"})
        assert r.status_code == 404, r.text
        r = await http.post("/v1/surveys", json={"name": "Q4 NPS"})
        assert r.status_code == 201, r.text
        survey = r.json()
        assert survey["kind"] == "nps" and "recommend" in survey["question"]
        sid = survey["id"]
        r = await http.post(
            f"/v1/surveys/{sid}/send", json={"customer_ids": [c for c, _ in customers] + ["cus_nobody"]}
        )
        assert r.json() == {"queued": 5, "not_found": 1}, r.text
        r = await http.post(f"/v1/surveys/{sid}/send", json={"customer_ids": [customers[0][0]]})
        assert r.json() == {"queued": 0, "not_found": 0}  # once per survey and customer

        links = [await link_in(svc, mailpit, email) for _, email in customers]
        # The page: the question, the score picked in the mail preselected, a plain form.
        async with httpx.AsyncClient(timeout=10) as web:
            page = await web.get(links[0] + "?score=9")
            assert page.status_code == 200 and "recommend" in page.text
            assert (
                'value="9" checked' in page.text
                and 'method="post"' in page.text
                and "<script" not in page.text
            )
            assert (await web.get(links[0].rsplit("/", 1)[0] + "/forged.token")).status_code == 404
            r = await web.post(links[0], data={"score": "11"})
            assert r.status_code == 422 and "0 to 10" in r.text

        scores = [10, 9, 7, 3, 0]
        ids = {customer_id for customer_id, _ in customers}
        for url, score in zip(links, scores, strict=True):
            r = await answer(url, score, "Fast delivery" if score == 10 else None)
            assert r.status_code == 200 and "Thank you" in r.text, r.text
        # Each answer announced once, for the marketing system or a helpdesk.
        recorded = await broker.wait_for(
            "survey.response.recorded", lambda b: b["data"]["customer_id"] in ids, count=5, timeout=30
        )
        got = sorted((e["body"]["data"]["score"], e["body"]["data"]["category"]) for e in recorded)
        assert got == [(0, "detractor"), (3, "detractor"), (7, "passive"), (9, "promoter"), (10, "promoter")]
        assert [e["body"]["data"]["comment"] for e in recorded if e["body"]["data"]["score"] == 10] == [
            "Fast delivery"
        ]
        # A second answer with the same link is refused; the first one counts.
        r = await answer(links[3], 10)
        assert r.status_code == 409 and "already" in r.text
        assert (await httpx.AsyncClient().get(links[3])).status_code == 409

        results = (await http.get(f"/v1/surveys/{sid}/results", params={"period": "month"})).json()
        assert {k: results[k] for k in expected(scores)} == expected(scores)
        month = datetime.now(UTC).strftime("%Y-%m")
        assert [p["period"] for p in results["periods"]] == [month]
        assert {k: results["periods"][0][k] for k in expected(scores)} == expected(scores)

        vip = (await http.get(f"/v1/surveys/{sid}/results", params={"segment_id": segment_id})).json()
        assert {k: vip[k] for k in expected(scores[:3])} == expected(scores[:3])
        assert vip["nps"] == 66.7 and vip["segment_id"] == segment_id

        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        none = (await http.get(f"/v1/surveys/{sid}/results", params={"since": later})).json()
        assert none["responses"] == 0 and none["nps"] is None
        # A time without an offset says no moment: refused (it was a 500 against the answers' times).
        naive = datetime.now(UTC).replace(tzinfo=None).isoformat()
        r = await http.get(f"/v1/surveys/{sid}/results", params={"since": naive})
        assert r.status_code == 422 and "since" in r.json()["errors"][0]["field"], r.text

        # The customer's answer is part of their export.
        asked = envelope(
            "personal_data.requested",
            {"request_id": uuid.uuid4().hex, "customer_id": customers[0][0], "requested_at": later},
            source="/crm/customers",
        )
        await broker.publish(asked)
        [found] = await broker.wait_for(
            "personal_data.collected", lambda e: e["data"]["request_id"] == asked["data"]["request_id"]
        )
        [mine] = found["body"]["data"]["data"]["survey_answers"]
        assert mine["survey_id"] == sid and mine["score"] == 10 and mine["comment"] == "Fast delivery"


async def test_an_expired_link_records_nothing(svc, people, mailpit):
    customer_id, _ = await people.customer()
    async with svc.client() as http:
        await known(http, customer_id)
        sid = (await http.post("/v1/surveys", json={"name": "CSAT", "kind": "satisfaction"})).json()["id"]
        old = token(SECRET, sid, customer_id, datetime.now(UTC) - timedelta(seconds=1))
        r = await answer(f"{svc.url}/survey/{old}", 8)
        assert r.status_code == 403 and "expired" in r.text
        fresh = token(SECRET, sid, customer_id, datetime.now(UTC) + timedelta(days=1))
        async with httpx.AsyncClient(timeout=10) as web:
            r = await web.post(f"{svc.url}/survey/{fresh}", json={"score": 8})
        assert r.status_code == 200, r.text
        results = (await http.get(f"/v1/surveys/{sid}/results")).json()
        assert results["responses"] == 1 and results["average"] == 8.0 and results["kind"] == "satisfaction"


async def test_a_survey_after_orders_goes_once_per_customer_even_when_orders_are_redelivered(
    svc, people, broker, mailpit
):
    customer_id, email = await people.customer()
    async with svc.client() as http:
        await known(http, customer_id)
        r = await http.post("/v1/surveys", json={"name": "After purchase", "after_orders": True})
        sid = r.json()["id"]
        order = envelope(
            "order.placed", order_placed(email, customer={**order_placed()["customer"], "email": email})
        )
        await broker.publish(order)
        await broker.publish(order)
        await broker.publish(
            envelope(
                "order.placed", order_placed(email, customer={**order_placed()["customer"], "email": email})
            )
        )

        async def surveyed():
            found = [m for m in await mailpit.to(email) if "one quick question" in m["Subject"]]
            return found

        await eventually(surveyed)
        await asyncio.sleep(2)
        assert len(await surveyed()) == 1
        r = await http.patch(f"/v1/surveys/{sid}", json={"after_orders": False})
        assert r.status_code == 200 and r.json()["after_orders"] is False
