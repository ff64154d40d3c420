"""Issue 18: the sender with an in-memory store and mailer: one send per attempt however many
senders race, an interrupted attempt is never retried, SMTP errors are retried with back-off,
consent is checked at send time."""

import asyncio
from datetime import timedelta
from typing import Any

from crm_engagement.mailer import Outcome
from crm_engagement.service.sender import Sender
from crm_engagement.settings import EngagementSettings
from crm_servicekit.clock import now_ms


def settings(**extra: Any) -> EngagementSettings:
    return EngagementSettings(
        MONGODB_URL="mongodb://x", RABBITMQ_URL="amqp://x", CRM_API_TOKENS="t" * 16, **extra
    )


class Store:
    def __init__(self) -> None:
        self.messages: dict[str, Any] = {}
        self.claims: dict[str, Any] = {}
        self.slots: dict[str, Any] = {}
        self.consent: dict[str, bool] = {}
        self.notices: dict[str, Any] = {}  # key -> the one event announced

    async def claim(self, doc: Any) -> bool:
        await asyncio.sleep(0)
        if doc["_id"] in self.claims:
            return False
        self.claims[doc["_id"]] = doc
        return True

    async def get_claim(self, claim_id: str) -> Any:
        return self.claims.get(claim_id)

    async def message(self, msg_id: str) -> Any:
        return dict(self.messages[msg_id])

    async def update_message(self, msg_id: str, changes: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        self.messages[msg_id].update(changes)

    async def contact(self, customer_id: str) -> Any:
        return {"_id": customer_id}

    async def statements(self, key: str) -> list[Any]:
        if key not in self.consent:
            return []
        return [{"subscribed": self.consent[key], "at": now_ms()}]

    async def slot_of_message(self, msg_id: str) -> Any:
        return None

    async def last_slot(self, customer_id: str) -> Any:
        return None

    async def slot(self, customer_id: str, seq: int) -> Any:
        return None

    async def take_slot(self, doc: Any) -> bool:
        self.slots[doc["_id"]] = doc
        return True

    async def announce(self, key: str, event: Any) -> bool:
        if key in self.notices:
            return False
        self.notices[key] = event
        return True


class Mailer:
    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[str] = []

    async def send(self, doc: Any) -> Outcome:
        await asyncio.sleep(0.01)
        self.sent.append(doc["_id"])
        return self.outcomes.pop(0) if self.outcomes else Outcome("sent")


def message(kind: str = "transactional", **extra: Any) -> dict[str, Any]:
    return {
        "_id": "msg_1",
        "customer_id": "cus_1",
        "email": "Ana@Example.com",
        "kind": kind,
        "template_id": "tpl_1",
        "campaign_id": None,
        "status": "queued",
        "reason": None,
        "attempts": 0,
        "next_attempt_at": now_ms(),
        **extra,
    }


async def test_many_senders_racing_for_one_message_send_it_once():
    store, mailer = Store(), Mailer()
    store.messages["msg_1"] = message()
    sender = Sender(store, settings(), mailer)  # type: ignore[arg-type]
    doc = await store.message("msg_1")
    await asyncio.gather(*(sender.deliver(doc) for _ in range(10)))
    assert mailer.sent == ["msg_1"] and store.messages["msg_1"]["status"] == "sent"
    assert [e["type"] for e in store.notices.values()] == ["message.sent"]  # announced once


async def test_an_interrupted_attempt_is_failed_after_the_timeout_and_never_sent_again():
    store, mailer = Store(), Mailer()
    store.messages["msg_1"] = message()
    # A sender claimed attempt 0 and crashed before recording anything.
    store.claims["msg_1:0"] = {"_id": "msg_1:0", "message_id": "msg_1", "at": now_ms() - timedelta(seconds=5)}
    sender = Sender(store, settings(CRM_ENGAGEMENT_CLAIM_TIMEOUT_SECONDS=60), mailer)  # type: ignore[arg-type]
    await sender.deliver(await store.message("msg_1"))
    assert store.messages["msg_1"]["status"] == "queued"  # not yet: its holder may be working
    sender = Sender(store, settings(CRM_ENGAGEMENT_CLAIM_TIMEOUT_SECONDS=1), mailer)  # type: ignore[arg-type]
    await sender.deliver(await store.message("msg_1"))
    assert (
        store.messages["msg_1"]["status"] == "failed" and "interrupted" in store.messages["msg_1"]["reason"]
    )
    assert mailer.sent == []


async def test_smtp_errors_are_retried_later_then_recorded():
    store = Store()
    store.messages["msg_1"] = message()
    mailer = Mailer(Outcome("retry", "421 busy"), Outcome("retry", "421 busy"))
    sender = Sender(
        store, settings(CRM_ENGAGEMENT_MAX_ATTEMPTS=2, CRM_ENGAGEMENT_RETRY_BASE_SECONDS=30), mailer
    )  # type: ignore[arg-type]
    await sender.deliver(await store.message("msg_1"))
    m = store.messages["msg_1"]
    assert m["status"] == "queued" and m["attempts"] == 1 and m["reason"] == "421 busy"
    assert m["next_attempt_at"] > now_ms() + timedelta(seconds=25)
    await sender.deliver(await store.message("msg_1"))
    assert m["status"] == "failed" and m["reason"] == "gave up after 2 tries: 421 busy"
    store.messages["msg_2"] = message(_id="msg_2")
    await Sender(store, settings(), Mailer(Outcome("bounced", "550 no such user"))).deliver(  # type: ignore[arg-type]
        await store.message("msg_2")
    )
    assert store.messages["msg_2"]["status"] == "bounced"


async def test_marketing_mail_goes_only_with_consent_at_send_time():
    store, mailer = Store(), Mailer()
    store.messages["msg_1"] = message("marketing")
    sender = Sender(store, settings(), mailer)  # type: ignore[arg-type]
    await sender.deliver(await store.message("msg_1"))
    assert store.messages["msg_1"]["status"] == "skipped" and mailer.sent == []
    store.messages["msg_2"] = message("marketing", _id="msg_2")
    store.consent["ana@example.com"] = True  # the e-mail key: case does not count
    await sender.deliver(await store.message("msg_2"))
    assert store.messages["msg_2"]["status"] == "sent" and len(store.slots) == 1
