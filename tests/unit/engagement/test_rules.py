"""Issue 18: the engagement service's pure rules: consent, the frequency limit, retries,
signed unsubscribe links, segment membership order, templates."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm_engagement.domain import (
    check,
    consented,
    current_members,
    customer_of_token,
    message_id,
    money,
    render,
    retry_delay,
    slot_allowed,
    unsubscribe_token,
)
from crm_engagement.service.sender import Sender
from crm_engagement.settings import EngagementSettings
from crm_servicekit.errors import Invalid

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def statement(subscribed: bool, minutes: int) -> Any:
    return {"subscribed": subscribed, "at": T0 + timedelta(minutes=minutes)}


def test_the_newest_consent_statement_decides_and_an_unsubscribe_wins_a_tie():
    assert consented([]) is False
    assert consented([statement(True, 0)]) is True
    assert consented([statement(True, 5), statement(False, 1)]) is True
    assert consented([statement(True, 1), statement(False, 5)]) is False
    assert consented([statement(True, 1), statement(False, 1)]) is False


def test_a_slot_fits_only_once_the_nth_previous_left_the_window():
    window = timedelta(days=7)
    assert slot_allowed(None, T0, window)
    assert not slot_allowed({"at": T0 - timedelta(days=6)}, T0, window)  # type: ignore[typeddict-item]
    assert slot_allowed({"at": T0 - timedelta(days=7)}, T0, window)  # type: ignore[typeddict-item]


def test_retries_back_off_doubling_up_to_an_hour():
    assert [retry_delay(n, 5).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert retry_delay(30, 5) == timedelta(hours=1)


def test_unsubscribe_tokens_are_signed_for_one_customer():
    secret = "s" * 40
    token = unsubscribe_token(secret, "cus_1")
    assert customer_of_token(secret, token) == "cus_1"
    assert customer_of_token("t" * 40, token) is None
    assert (
        customer_of_token(
            secret, unsubscribe_token(secret, "cus_2").split(".")[0] + "." + token.split(".")[1]
        )
        is None
    )
    assert customer_of_token(secret, "garbage") is None and customer_of_token(secret, "!!.x") is None


def test_message_ids_follow_from_the_cause():
    assert message_id("welcome:cus_1") == message_id("welcome:cus_1") != message_id("welcome:cus_2")


def test_segment_membership_is_the_newest_join_or_leave_whatever_order_they_were_stored_in():
    def r(c: str, joined: bool, at: int) -> Any:
        return {"customer_id": c, "joined": joined, "at_us": at}

    assert current_members(
        [r("a", False, 2), r("a", True, 1), r("b", True, 1), r("c", True, 3), r("c", False, 3)]
    ) == ["b"]


def parts(**p: str) -> dict[str, str]:
    return {"subject": "s", "html": "", "text": "", **p}


@pytest.mark.parametrize(
    "bad, field",
    [
        (parts(subject="{{ customer.nickname }}"), "subject"),
        (parts(html="{% if false %}{{ coupon }}{% endif %}"), "html"),
        (parts(text="{% for x in %}"), "text"),
        (parts(html="{{ customer.__class__ }}"), "html"),
    ],
)
def test_templates_with_unknown_variables_or_errors_are_refused_naming_the_part(bad, field):
    with pytest.raises(Invalid) as e:
        check(bad)
    assert e.value.extra["errors"][0]["field"] == field


def test_html_is_escaped_text_is_not_and_a_subject_is_one_line():
    context = {"customer": {"first_name": "<i>A</i>"}, "order": None, "unsubscribe_url": "", "shop_name": "S"}
    out = render(
        parts(
            subject="Hi\n{{ customer.first_name }}",
            html="{{ customer.first_name }}",
            text="{{ customer.first_name }}",
        ),
        context,
    )
    assert (out.subject, out.html, out.text) == ("Hi <i>A</i>", "&lt;i&gt;A&lt;/i&gt;", "<i>A</i>")
    assert (
        money(12999, "EUR") == "129.99 EUR"
        and money(500, "JPY") == "500 JPY"
        and money(5, "EUR") == "0.05 EUR"
    )


class FakeSlots:
    """In memory, with a pause between a read and a write, like a remote database."""

    def __init__(self) -> None:
        self.docs: dict[str, Any] = {}

    async def slot_of_message(self, msg_id: str) -> Any:
        await asyncio.sleep(0)
        return next((d for d in self.docs.values() if d["message_id"] == msg_id), None)

    async def last_slot(self, customer_id: str) -> Any:
        await asyncio.sleep(0)
        mine = [d for d in self.docs.values() if d["customer_id"] == customer_id]
        return max(mine, key=lambda d: d["seq"], default=None)

    async def slot(self, customer_id: str, seq: int) -> Any:
        await asyncio.sleep(0)
        return self.docs.get(f"{customer_id}:{seq}")

    async def take_slot(self, doc: Any) -> bool:
        await asyncio.sleep(0)
        if doc["_id"] in self.docs:
            return False
        self.docs[doc["_id"]] = doc
        return True


async def test_the_frequency_limit_holds_exactly_when_many_take_slots_at_once():
    settings = EngagementSettings(
        MONGODB_URL="mongodb://x",
        RABBITMQ_URL="amqp://x",
        CRM_API_TOKENS="t" * 16,
        CRM_ENGAGEMENT_MARKETING_LIMIT=3,
    )
    store = FakeSlots()
    sender = Sender(store, settings, mailer=None)  # type: ignore[arg-type]
    results = await asyncio.gather(*(sender.take_slot("cus_1", f"msg_{i}") for i in range(12)))
    assert sum(results) == 3 and len(store.docs) == 3
    assert await sender.take_slot("cus_1", "msg_0") is results[0]  # a retry keeps its slot (or lack)
    assert await sender.take_slot("cus_2", "msg_x") is True  # per customer
