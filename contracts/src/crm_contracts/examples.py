"""One realistic example `data` payload per event type (docs/contract.md §1.1 and §1.2): the inbound
ones as storefronts send them, the outbound ones as the services emit them. Money is an integer in
minor units; times are RFC 3339 with an offset. Used by the AsyncAPI document (asyncapi.py)."""

from typing import Any
from uuid import NAMESPACE_URL, uuid5

from crm_contracts.names import EventType as T

CUSTOMER_ID = "cus_6f1d2c3b4a5e4f60b7a8c9d0e1f20314"
GROUP_ID = "grp_0a1b2c3d4e5f40718293a4b5c6d7e8f9"
SEGMENT_ID = "seg_9e8d7c6b5a4f40312e1d0c9b8a7f6e5d"
HOLD_ID = "hold_5b0e3c1f9a7d2e4b6c8a0f13"
ENTRY_ID = "ent_8c2f4a6e0b1d3f5a7c9e2b4d"
TASK_ID = "tsk_2b4d6f8a0c1e43a5b7c9d1e3f5a7b9c1"
REVIEW_ID = "rev_4c6e8a0b2d1f43c5a7e9b1d3f5c7a9e1"
TICKET_ID = "tkt_7e9a1c3b5d2f40e6a8c0b2d4f6e8a0c3"

_customer_state: dict[str, Any] = {
    "id": CUSTOMER_ID,
    "version": 3,
    "email": "ana@example.com",
    "first_name": "Ana",
    "last_name": "Lima",
    "phone": "+351912345678",
    "company": None,
    "has_account": True,
    "status": "enabled",
    "tags": ["vip"],
    "email_subscribed": True,
    "sales_agent_id": "agt_3c5e7a9b1d2f40658a7b9c0d1e2f3a4b",
    "country": "PT",
    "city": "Lisboa",
    "created_at": "2026-11-22T10:00:00Z",
    "updated_at": "2026-11-23T09:00:00Z",
    "stats": {
        "number_of_orders": 1,
        "first_order_at": "2026-11-22T10:00:00Z",
        "last_order_at": "2026-11-22T10:00:00Z",
        "per_currency": [
            {"currency": "EUR", "orders": 1, "total_spent": 8000, "average_order": 8000},
        ],
        "categories_purchased": ["shoes"],
        "products_purchased": ["SKU-1"],
    },
}

_task_state: dict[str, Any] = {
    "id": TASK_ID,
    "version": 1,
    "customer_id": CUSTOMER_ID,
    "title": "Call back about the wholesale quote",
    "notes": "Wants 20 pairs; asked for net 30",
    "due_at": "2026-11-25T10:00:00Z",
    "assignee_id": "agt_3c5e7a9b1d2f40658a7b9c0d1e2f3a4b",
    "status": "open",
    "completed_at": None,
    "created_at": "2026-11-24T12:00:00Z",
    "updated_at": "2026-11-24T12:00:00Z",
}

_group_state: dict[str, Any] = {
    "id": GROUP_ID,
    "version": 2,
    "name": "Wholesale",
    "description": "Resellers with a trade account",
    "metadata": {"owner": "sales"},
    "member_count": 12,
    "discount_percent": 15,
    "price_tier": "wholesale",
    "priority": 10,
    "payment_terms_days": 30,
    "credit_limits": [{"amount": 500000, "currency": "EUR"}],
    "created_at": "2026-11-01T08:30:00Z",
    "updated_at": "2026-11-20T16:45:00Z",
}

_members: dict[str, Any] = {
    "group_id": GROUP_ID,
    "group_name": "Wholesale",
    "customer_ids": [CUSTOMER_ID],
    "versions": [1],
}

_hold: dict[str, Any] = {
    "id": HOLD_ID,
    "customer_id": CUSTOMER_ID,
    "currency": "EUR",
    "amount": 2500,
    "expires_at": "2026-11-22T10:15:00Z",
    "order_id": "ord_1002",
    "available_after": 1500,
    "at": "2026-11-22T10:00:00Z",
}

_review: dict[str, Any] = {
    "id": REVIEW_ID,
    "version": 2,
    "product_id": "prod_runner",
    "sku": "SKU-1",
    "customer_id": CUSTOMER_ID,
    "author_name": "Ana L.",
    "rating": 4,
    "title": "Comfortable from day one",
    "body": "Light and comfortable; the sole could grip better on wet stone.",
    "reply": None,
    "submitted_at": "2026-11-26T18:20:00Z",
    "published_at": "2026-11-27T09:05:00Z",
    "updated_at": "2026-11-27T09:05:00Z",
}

_ticket: dict[str, Any] = {
    "id": TICKET_ID,
    "version": 1,
    "subject": "My parcel has not arrived",
    "customer_id": CUSTOMER_ID,
    "email": "ana@example.com",
    "status": "open",
    "priority": "normal",
    "assignee_id": None,
    "order_ids": ["ord_1002"],
    "channel": "inbound",
    "first_response_due_at": "2026-11-29T08:15:00Z",
    "first_response_at": None,
    "last_message_at": "2026-11-28T08:15:00Z",
    "erased": False,
    "created_at": "2026-11-28T08:15:00Z",
    "updated_at": "2026-11-28T08:15:00Z",
}

_segment_membership: dict[str, Any] = {
    "segment_id": SEGMENT_ID,
    "segment_name": "VIP",
    "customer_id": CUSTOMER_ID,
    "email": "ana@example.com",
    "email_subscribed": True,
}

EXAMPLES: dict[str, dict[str, Any]] = {
    # inbound (docs/contract.md §1.1)
    T.ORDER_PLACED: {
        "order_id": "ord_1001",
        "placed_at": "2026-11-22T10:00:00Z",
        "customer": {
            "email": "ana@example.com",
            "customer_id": None,
            "first_name": "Ana",
            "last_name": "Lima",
            "phone": "+351912345678",
        },
        "currency": "EUR",
        "total": 12999,
        "items": [{"sku": "SKU-1", "name": "Runner", "category": "shoes", "quantity": 2, "unit_price": 4999}],
        "shipping_address": {
            "first_name": "Ana",
            "last_name": "Lima",
            "line1": "Rua A 1",
            "city": "Lisboa",
            "postal_code": "1000-001",
            "country_code": "PT",
        },
        "billing_address": None,
        "store_credit_used": 0,
    },
    T.ORDER_REFUNDED: {
        "order_id": "ord_1001",
        "refunded_at": "2026-11-23T09:00:00Z",
        "customer": {"email": "ana@example.com"},
        "currency": "EUR",
        "amount": 4999,
        "to_store_credit": True,
        "refund_id": "rf_2001",
    },
    T.ORDER_CANCELLED: {
        "order_id": "ord_1001",
        "cancelled_at": "2026-11-22T11:30:00+01:00",
        "customer": {"email": "ana@example.com"},
    },
    T.NEWSLETTER_SUBSCRIBED: {"email": "ana@example.com", "at": "2026-11-20T18:05:00Z"},
    T.NEWSLETTER_UNSUBSCRIBED: {"email": "ana@example.com", "at": "2026-12-02T07:40:00Z"},
    T.CHECKOUT_ABANDONED: {
        "checkout_id": "chk_7731",
        "abandoned_at": "2026-11-28T21:14:00Z",
        "customer": {"email": "ana@example.com", "customer_id": "cus_01HZX3"},
        "currency": "EUR",
        "total": 5980,
        "items": [
            {"sku": "SHOE-42", "name": "Trail shoe", "category": "shoes", "quantity": 1, "unit_price": 5980}
        ],
    },
    # customers
    T.CUSTOMER_CREATED: {
        **_customer_state,
        "version": 1,
        "has_account": False,
        "tags": [],
        "email_subscribed": False,
        "updated_at": "2026-11-22T10:00:00Z",
        "stats": {
            **_customer_state["stats"],
            "number_of_orders": 0,
            "first_order_at": None,
            "last_order_at": None,
            "per_currency": [],
            "categories_purchased": [],
            "products_purchased": [],
        },
    },
    T.CUSTOMER_UPDATED: _customer_state,
    T.CUSTOMER_REGISTERED: {**_customer_state, "version": 4, "updated_at": "2026-11-24T12:00:00Z"},
    T.CUSTOMER_DELETED: {"id": CUSTOMER_ID, "version": 5},
    T.CUSTOMER_MERGED: {"id": CUSTOMER_ID, "merged_id": "cus_5f1c9e2a7b3d4c6e8a0b2d4f6a8c0e1b", "version": 3},
    T.CUSTOMER_ERASURE_SCHEDULED: {
        "request_id": "era_3b9f1c2d4e5a6b7c8d9e0f1a2b3c4d5e",
        "customer_id": CUSTOMER_ID,
        "status": "scheduled",
        "requested_at": "2026-11-29T10:00:00Z",
        "due_at": "2026-12-09T10:00:00Z",
        "at": "2026-11-29T10:00:00Z",
    },
    T.CUSTOMER_ERASURE_CANCELLED: {
        "request_id": "era_3b9f1c2d4e5a6b7c8d9e0f1a2b3c4d5e",
        "customer_id": CUSTOMER_ID,
        "status": "cancelled",
        "requested_at": "2026-11-29T10:00:00Z",
        "due_at": "2026-12-09T10:00:00Z",
        "at": "2026-12-01T15:30:00Z",
    },
    T.CUSTOMER_VERIFICATION_REQUESTED: {
        "customer_id": CUSTOMER_ID,
        "email": "ana@example.com",
        "token": "kq3Zr8W0y1uX6m2NfT9bV4cLhP7sJdEaGiRoYw5nHtQ",
        "expires_at": "2026-11-26T12:00:00Z",
    },
    T.TASK_CREATED: _task_state,
    T.TASK_UPDATED: {
        **_task_state,
        "version": 2,
        "status": "done",
        "completed_at": "2026-11-25T09:40:00Z",
        "updated_at": "2026-11-25T09:40:00Z",
    },
    T.TASK_DELETED: {"id": TASK_ID, "customer_id": CUSTOMER_ID, "version": 3},
    # personal data
    T.PERSONAL_DATA_REQUESTED: {
        "request_id": "pdr_01JDQ7X8M4B2K9R5T3V6W1Y0ZA",
        "customer_id": CUSTOMER_ID,
        "requested_at": "2026-11-29T10:00:00Z",
    },
    T.PERSONAL_DATA_COLLECTED: {
        "request_id": "pdr_01JDQ7X8M4B2K9R5T3V6W1Y0ZA",
        "customer_id": CUSTOMER_ID,
        "service": "groups",
        "data": {
            "memberships": [
                {"group_id": "grp_wholesale", "group_name": "Wholesale", "since": "2026-11-20T08:00:00Z"}
            ]
        },
        "collected_at": "2026-11-29T10:00:01Z",
    },
    T.PERSONAL_DATA_ERASED: {
        "customer_id": CUSTOMER_ID,
        "service": "groups",
        "erased": {"memberships": 1},
        "at": "2026-12-09T10:00:02Z",
    },
    # groups
    T.GROUP_CREATED: {
        **_group_state,
        "version": 1,
        "member_count": 0,
        "updated_at": "2026-11-01T08:30:00Z",
    },
    T.GROUP_UPDATED: _group_state,
    T.GROUP_DELETED: {"id": GROUP_ID, "name": "Wholesale", "members_removed": 12},
    T.GROUP_MEMBERS_ADDED: _members,
    T.GROUP_MEMBERS_REMOVED: {**_members, "versions": [2]},
    T.GROUP_PRICING_UPDATED: {
        "group_id": GROUP_ID,
        "group_name": "Wholesale",
        "change": "added",
        "price": {
            "id": "prc_5d1c0e7a9b2f4c3d8e6f1a2b3c4d5e6f",
            "group_id": GROUP_ID,
            "sku": "SKU-1",
            "currency": "EUR",
            "amount": 3999,
            "percent_off": None,
            "starts_at": "2026-12-01T00:00:00Z",
            "ends_at": "2027-01-01T00:00:00Z",
            "created_at": "2026-11-25T10:00:00Z",
        },
    },
    # ledger
    T.LEDGER_ENTRY_RECORDED: {
        "id": ENTRY_ID,
        "customer_id": CUSTOMER_ID,
        "currency": "EUR",
        "kind": "refund",
        "amount": 4999,
        "balance_after": 4999,
        "sequence": 1,
        "order_id": "ord_1001",
        "caused_by": "7d4e2a10-5b3c-4f8e-9a61-2c0d8e7f3b45",
        "at": "2026-11-23T09:00:01Z",
        "available_after": 4999,
        "hold_id": None,
        "expires_at": None,
    },
    T.LEDGER_DEBIT_REJECTED: {
        "customer_id": CUSTOMER_ID,
        "currency": "EUR",
        "amount": 6000,
        "available": 4999,
        "order_id": "ord_1003",
        "reason": "insufficient-funds: 6000 requested, 4999 available",
    },
    T.LEDGER_HOLD_PLACED: {**_hold, "status": "active", "captured_amount": None},
    T.LEDGER_HOLD_CAPTURED: {
        **_hold,
        "status": "captured",
        "captured_amount": 2500,
        "at": "2026-11-22T10:02:00Z",
    },
    T.LEDGER_HOLD_VOIDED: {
        **_hold,
        "status": "voided",
        "captured_amount": None,
        "available_after": 4000,
        "at": "2026-11-22T10:05:00Z",
    },
    T.LEDGER_HOLD_EXPIRED: {
        **_hold,
        "status": "expired",
        "captured_amount": None,
        "available_after": 4000,
        "at": "2026-11-22T10:15:00Z",
    },
    T.REWARD_COUPON_ISSUED: {
        "code": "RW-3A9F0C12B7E4",
        "customer_id": CUSTOMER_ID,
        "kind": "amount",
        "value": 500,
        "currency": "EUR",
        "expires_at": "2027-02-22T00:00:00Z",
        "source": "points",
    },
    T.REFERRAL_CONVERTED: {
        "referrer_id": CUSTOMER_ID,
        "referee_id": "cus_0d9c8b7a6f5e4d3c2b1a09f8e7d6c5b4",
        "code": "REF-7C1E9A40B2",
        "order_id": "ord_1002",
        "at": "2026-11-24T12:00:00Z",
    },
    T.REWARD_POINTS_REVERSED: {
        "customer_id": CUSTOMER_ID,
        "order_id": "ord_1001",
        "cause": "refund",
        "refund_id": "rf_2001",
        "requested": 49,
        "points": 49,
        "points_after": 51,
        "reason": "order ord_1001 refunded 4999 of 9998 EUR: 49 of its 99 points taken back",
        "revoked_coupons": [],
        "at": "2026-11-23T09:00:01Z",
    },
    # segments
    T.SEGMENT_CREATED: {
        "id": SEGMENT_ID,
        "version": 1,
        "name": "VIP",
        "rule": "amount_spent >= 100 AND number_of_orders >= 3",
    },
    T.SEGMENT_UPDATED: {
        "id": SEGMENT_ID,
        "version": 2,
        "name": "VIP",
        "rule": "amount_spent >= 150 AND number_of_orders >= 3 AND last_order_date > -90d",
    },
    T.SEGMENT_DELETED: {"id": SEGMENT_ID},
    T.SEGMENT_MEMBER_JOINED: _segment_membership,
    T.SEGMENT_MEMBER_LEFT: {**_segment_membership, "email_subscribed": False},
    # engagement
    T.REVIEW_PUBLISHED: {
        **_review,
        "version": 3,
        "reply": {"body": "Thank you, Ana! A wet-grip sole arrives in spring.", "at": "2026-11-27T11:30:00Z"},
        "updated_at": "2026-11-27T11:30:00Z",
    },
    T.REVIEW_WITHDRAWN: {
        "id": REVIEW_ID,
        "version": 4,
        "product_id": "prod_runner",
        "sku": "SKU-1",
        "at": "2026-11-28T08:00:00Z",
    },
    T.TICKET_CREATED: _ticket,
    T.TICKET_UPDATED: {
        **_ticket,
        "version": 3,
        "status": "pending",
        "assignee_id": "agt_3c5e7a9b1d2f40658a7b9c0d1e2f3a4b",
        "first_response_at": "2026-11-28T09:40:00Z",
        "last_message_at": "2026-11-28T09:40:00Z",
        "updated_at": "2026-11-28T09:40:00Z",
    },
    T.TICKET_MESSAGE_ADDED: {
        "ticket_id": TICKET_ID,
        "ticket_version": 3,
        "message_id": "tmsg_5d7f9b1c3e2a40b6c8d0e2f4a6b8c0d2",
        "direction": "outbound",
        "author": "maria@shop.example",
        "body": "Hello Ana, your parcel left our warehouse this morning; tracking follows.",
        "at": "2026-11-28T09:40:00Z",
    },
    T.PREFERENCES_UPDATED: {
        "customer_id": CUSTOMER_ID,
        "email": "ana@example.com",
        "changed": [
            {
                "topic": "offers",
                "channel": "sms",
                "granted": False,
                "at": "2026-11-30T19:05:00Z",
                "source": "preference-centre",
            }
        ],
        "preferences": [
            {"topic": t, "channel": c, "granted": g, "at": at, "source": src}
            for t, c, g, at, src in [
                ("newsletter", "email", True, "2026-11-20T08:00:00Z", "newsletter-event"),
                ("newsletter", "sms", False, None, None),
                ("offers", "email", True, "2026-11-25T12:00:00Z", "preference-centre"),
                ("offers", "sms", False, "2026-11-30T19:05:00Z", "preference-centre"),
                ("product_news", "email", False, None, None),
                ("product_news", "sms", False, None, None),
            ]
        ],
        "at": "2026-11-30T19:05:00Z",
    },
    T.MESSAGE_SENT: {
        "message_id": "msg_2f4a6c8e0b1d3f5a7c9e",
        "customer_id": CUSTOMER_ID,
        "kind": "marketing",
        "template_id": "tpl_special_offer",
        "campaign_id": "cmp_7d1e3f5a9b2c4d6e8f0a",
        "status": "sent",
        "reason": None,
        "attempts": 1,
        "at": "2026-11-30T09:00:04Z",
    },
    T.MESSAGE_FAILED: {
        "message_id": "msg_9a8b7c6d5e4f3a2b1c0d",
        "customer_id": CUSTOMER_ID,
        "kind": "transactional",
        "template_id": "tpl_thank_you",
        "campaign_id": None,
        "status": "failed",
        "reason": "gave up after 5 tries: 421 service not available",
        "attempts": 5,
        "at": "2026-11-30T11:20:00Z",
    },
    T.CAMPAIGN_COMPLETED: {
        "campaign_id": "cmp_7d1e3f5a9b2c4d6e8f0a",
        "name": "Winter sale",
        "segment_id": "seg_loyal",
        "recipients": 1200,
        "counts": {"sent": 1130, "failed": 4, "skipped": 66},
        "launched_at": "2026-11-30T09:00:00Z",
        "completed_at": "2026-11-30T09:41:00Z",
    },
    T.SURVEY_RESPONSE_RECORDED: {
        "survey_id": "srv_4c2e6a8b0d1f3e5a7c9b",
        "customer_id": CUSTOMER_ID,
        "score": 9,
        "category": "promoter",
        "comment": "Fast delivery, thank you!",
        "at": "2026-12-01T08:15:00Z",
    },
}
"""Event type -> example `data`."""

SOURCES: dict[str, str] = {
    "order": "/storefronts/eu",
    "newsletter": "/storefronts/eu",
    "checkout": "/storefronts/eu",
    "customer": "/crm/customers",
    "task": "/crm/customers",
    "personal_data": "/crm/customers",
    "group": "/crm/groups",
    "ledger": "/crm/ledger",
    "reward": "/crm/ledger",
    "referral": "/crm/ledger",
    "segment": "/crm/segments",
    "review": "/crm/engagement",
    "ticket": "/crm/engagement",
    "preferences": "/crm/engagement",
    "message": "/crm/engagement",
    "campaign": "/crm/engagement",
    "survey": "/crm/engagement",
}
"""Example `source` per first part of the type (the services' default CRM_EVENT_SOURCE)."""


def example_envelope(event_type: str) -> dict[str, Any]:
    """A full CloudEvents envelope around the example `data` of `event_type`, with the `source`
    and `subject` its producer sets."""
    data = EXAMPLES[event_type]
    family = event_type.split(".")[0]
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid5(NAMESPACE_URL, f"crm-examples:{event_type}")),
        "source": SOURCES[family],
        "type": str(event_type),
        "time": _time(data),
        "datacontenttype": "application/json",
        "data": data,
    }
    if subject := _subject(event_type, data):
        envelope["subject"] = subject
    return envelope


def _subject(event_type: str, data: dict[str, Any]) -> str | None:
    family = event_type.split(".")[0]
    if family == "order":
        return str(data["order_id"])
    if family in (
        "ledger",
        "reward",
        "personal_data",
        "preferences",
        "message",
        "survey",
    ) or event_type.startswith("segment.member."):
        return str(data["customer_id"])
    if family == "campaign":
        return str(data["campaign_id"])
    if family == "referral":
        return str(data["referrer_id"])
    if family == "ticket":
        return str(data.get("ticket_id") or data["id"])
    if family in ("customer", "group", "segment", "task", "review"):
        return str(data.get("id") or data.get("customer_id") or data["group_id"])
    return None  # newsletter consent is about an e-mail address, not an entity


def _time(data: dict[str, Any]) -> str:
    for key in (
        "requested_at",
        "collected_at",
        "placed_at",
        "refunded_at",
        "cancelled_at",
        "abandoned_at",
        "at",
        "updated_at",
        "created_at",
    ):
        if isinstance(data.get(key), str):
            return str(data[key])
    return "2026-11-24T12:00:00Z"
