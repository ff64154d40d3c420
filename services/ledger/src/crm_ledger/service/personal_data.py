"""The personal-data protocol (docs/contract.md): on personal_data.requested the ledger answers
with everything it holds about the person (personal_data.collected: accounts, entries, holds,
coupons, points, referral, credit on account); after customer.deleted it says what it erased
(personal_data.erased). Answers go out through the outbox with event ids derived from the
request (or the erased customer), so a redelivery publishes nothing different."""

from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python

from crm_contracts import new_event
from crm_contracts.names import EventType as T
from crm_contracts.outbound import PersonalDataCollected, PersonalDataErased, PersonalDataRequested
from crm_ledger.domain import HoldView, hold_view, rewards
from crm_ledger.service.customers import Customers
from crm_ledger.service.outbound import event_id
from crm_ledger.store import Answers
from crm_servicekit.clock import now_ms

SERVICE = "ledger"


class PersonalData:
    def __init__(self, customers: Customers, answers: Answers, source: str) -> None:
        self.customers = customers
        self.answers = answers
        self.source = source

    async def collect(self, customer_id: str) -> dict[str, Any]:
        """Everything the ledger holds about the customer, as plain JSON (an unknown or erased
        customer: every kind, empty). Read-only."""
        c = self.customers
        empty: dict[str, Any] = {
            "accounts": [],
            "entries": [],
            "holds": [],
            "coupons": [],
            "points": None,
            "referral": None,
            "credit": None,
            "customer": None,
        }
        if await c.directory.is_erased(customer_id) or not await c.directory.exists(customer_id):
            return empty
        journal = c.journal
        accounts = [
            {
                "currency": r["currency"],
                "balance": r["state"]["balance"],
                "available": r["state"]["available"],
                "held": r["state"]["held"],
                "updated_at": r["at"],
            }
            for r in await journal.accounts_of(customer_id)
        ]
        entries = [
            {
                "id": e["_id"],
                "currency": e["currency"],
                "kind": e["kind"],
                "amount": e["amount"],
                "balance_after": e["balance_after"],
                "reason": e.get("reason") or e.get("description"),
                "operator": e.get("operator"),
                "order_id": e.get("order_id"),
                "at": e["at"],
            }
            for e in await journal.all_entries(customer_id)
        ]
        holds: list[HoldView] = []
        for hold_id in await journal.hold_ids_of(customer_id):
            view = hold_view(hold_id, await journal.hold_records(hold_id))
            if view is not None:
                holds.append(view)
        store = c.rewards.store
        state = await store.get(customer_id)
        coupons = [
            {
                k: coupon.get(k)
                for k in (
                    "code",
                    "kind",
                    "value",
                    "currency",
                    "issued_at",
                    "expires_at",
                    "redeemed_at",
                    "order_id",
                    "source",
                )
            }
            for coupon in state["coupons"]
        ]
        referred = await store.referral_of(customer_id)
        known = await c.directory.known_customer(customer_id)
        line = await c.credit.line_of(customer_id) if c.credit else None
        data = {
            **empty,
            "accounts": accounts,
            "entries": entries,
            "holds": [dict(h) for h in holds],
            "coupons": coupons,
            "points": {
                "points": state["points"],
                "earned_total": state["earned_total"],
                "reversed_total": state.get("reversed_total", 0),
                "expired_total": state.get("expired_total", 0),
                "movements": state.get("movements", []),
            },
            "referral": {
                "code": rewards.referral_code(customer_id),
                "referred_by": state.get("referred_by"),
                "conversions": await store.conversions_of(customer_id),
                "converted_as_referee": (
                    {
                        "referrer_id": referred["referrer_id"],
                        "order_id": referred["order_id"],
                        "at": referred["at"],
                    }
                    if referred
                    else None
                ),
            },
            "credit": (
                {
                    "group_ids": line["group_ids"],
                    "limits": [{"amount": a, "currency": cur} for cur, a in line["limits"].items()],
                    "payment_terms_days": line["payment_terms_days"],
                }
                if line
                else None
            ),
            "customer": (
                {"birthday": known.get("birthday"), "email_subscribed": known.get("consent", False)}
                if known
                else None
            ),
        }
        jsonable: dict[str, Any] = to_jsonable_python(data)
        return jsonable

    async def answer(self, request: PersonalDataRequested) -> None:
        """personal_data.collected, once per request (its event id from the request)."""
        answer_id = f"collected:{request.request_id}"
        collected = PersonalDataCollected(
            request_id=request.request_id,
            customer_id=request.customer_id,
            service=SERVICE,
            data=await self.collect(request.customer_id),
            collected_at=now_ms(),
        )
        event = new_event(
            T.PERSONAL_DATA_COLLECTED,
            self.source,
            collected,
            subject=request.customer_id,
            id=event_id("personal_data.collected", request.request_id),
        )
        await self.answers.record(answer_id, [event])

    async def erase(self, customer_id: str, at: datetime | None = None) -> None:
        """customer.deleted: erases (Customers.erase), then personal_data.erased once."""
        erased = await self.customers.erase(customer_id)
        event = new_event(
            T.PERSONAL_DATA_ERASED,
            self.source,
            PersonalDataErased(customer_id=customer_id, service=SERVICE, erased=erased, at=at or now_ms()),
            subject=customer_id,
            id=event_id("personal_data.erased", customer_id),
        )
        await self.answers.record(f"erased:{customer_id}", [event])
