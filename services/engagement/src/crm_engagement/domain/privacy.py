"""Personal data (GDPR), with no I/O: what an export holds about a customer, and the ids of
the personal_data.* events, derived from their cause so that a redelivered request or erasure
publishes the same event again, never a different one."""

import json
import uuid
from datetime import datetime
from typing import Any

from crm_engagement.domain.documents import ConsentStatement, ContactDoc, MessageDoc
from crm_engagement.domain.preferences import PreferenceChanges
from crm_engagement.domain.reviews import ReviewDoc
from crm_engagement.domain.tickets import TicketDoc, TicketMessage

SERVICE = "engagement"
KINDS = ("contact", "consent", "messages", "tickets", "reviews", "survey_answers")

_NS = uuid.UUID("5b3f0f8e-6c1a-4d0e-9f57-7d4c3a2b1e60")


def collected_event_id(request_id: str) -> str:
    return str(uuid.uuid5(_NS, f"personal_data.collected:{request_id}:{SERVICE}"))


def erased_event_id(customer_id: str) -> str:
    return str(uuid.uuid5(_NS, f"personal_data.erased:{customer_id}:{SERVICE}"))


def jsonable(value: Any) -> Any:
    """Plain JSON: times as ISO-8601 UTC strings."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def empty_export() -> dict[str, Any]:
    """A customer this service never heard of, or one erased already."""
    return {"contact": None, **{k: [] for k in KINDS if k != "contact"}}


def export(
    contact: ContactDoc,
    statements: list[ConsentStatement],
    preference_changes: list[PreferenceChanges],
    consent_now: bool,
    messages: list[MessageDoc],
    tickets: list[tuple[TicketDoc, list[TicketMessage]]],
    reviews: list[ReviewDoc],
    survey_answers: list[dict[str, Any]],
) -> dict[str, Any]:
    """Everything this service holds about the customer, without secrets (no unsubscribe or
    survey tokens, no mail HTML: the text part says the same)."""
    return jsonable(
        {
            "contact": {
                "customer_id": contact["_id"],
                "email": contact["email"],
                "first_name": contact["first_name"],
                "last_name": contact["last_name"],
                "categories": contact["categories"],
                "marketing_consent": consent_now,
            },
            # Every statement, oldest first: the newsletter by e-mail (consent statements) and
            # the preference centre's other topics and channels.
            "consent": sorted(
                [
                    {
                        "topic": "newsletter",
                        "channel": "email",
                        "granted": s["subscribed"],
                        "at": s["at"],
                        "source": s["source"],
                    }
                    for s in statements
                ]
                + [
                    {**ch, "at": cs["at"], "source": cs["source"]}
                    for cs in preference_changes
                    for ch in cs["changes"]
                ],
                key=lambda s: s["at"],
            ),
            "messages": [
                {
                    "id": m["_id"],
                    "email": m["email"],
                    "kind": m["kind"],
                    "template_id": m["template_id"],
                    "campaign_id": m["campaign_id"],
                    "subject": m["subject"],
                    "text": m["text"],
                    "status": m["status"],
                    "reason": m["reason"],
                    "created_at": m["created_at"],
                    "sent_at": m["sent_at"],
                }
                for m in sorted(messages, key=lambda m: m["created_at"])
            ],
            "tickets": [
                {
                    "id": t["_id"],
                    "subject": t["subject"],
                    "email": t["email"],
                    "status": t["status"],
                    "priority": t["priority"],
                    "order_ids": t["order_ids"],
                    "created_at": t["created_at"],
                    "updated_at": t["updated_at"],
                    "messages": [
                        {"direction": m["direction"], "author": m["author"], "body": m["body"], "at": m["at"]}
                        for m in thread
                    ],
                }
                for t, thread in sorted(tickets, key=lambda p: p[0]["created_at"])
            ],
            "reviews": [
                {
                    "id": r["_id"],
                    "product_id": r["product_id"],
                    "sku": r["sku"],
                    "email": r["email"],
                    "author_name": r["author_name"],
                    "rating": r["rating"],
                    "title": r["title"],
                    "body": r["body"],
                    "status": r["status"],
                    "created_at": r["created_at"],
                    "published_at": r["published_at"],
                }
                for r in sorted(reviews, key=lambda r: r["created_at"])
            ],
            "survey_answers": survey_answers,
        }
    )


def size(data: dict[str, Any]) -> int:
    return len(json.dumps(data, separators=(",", ":")).encode())


def fit(data: dict[str, Any], budget: int) -> dict[str, Any]:
    """The export within `budget` bytes of JSON (one event must fit what consumers accept):
    first without the mails' texts (their subjects stay), then without the oldest mails;
    `omitted` says what was left out. Tickets, reviews, consent and answers always stay."""
    if size(data) <= budget:
        return data
    out = {**data, "messages": [{k: v for k, v in m.items() if k != "text"} for m in data["messages"]]}
    omitted = {"message_texts": len(data["messages"]), "messages": 0}
    out["omitted"] = omitted
    while size(out) > budget and out["messages"]:
        cut = max(1, len(out["messages"]) // 10)
        out["messages"] = out["messages"][cut:]  # oldest first: the oldest go
        omitted["messages"] += cut
    return out
