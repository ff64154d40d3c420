"""Customer rules with no I/O: what a customer document is and how events change it."""

from datetime import datetime
from typing import Any
from uuid import uuid4

from crm_contracts.inbound import OrderCustomer


def normalize_email(email: str) -> str:
    """E-mails are unique case-insensitively; the stored key is the lower-cased address."""
    return email.strip().lower()


def new_customer_id() -> str:
    return f"cus_{uuid4().hex}"


def new_guest(customer_id: str, who: OrderCustomer, now: datetime) -> dict[str, Any]:
    return {
        "_id": customer_id,
        "id": customer_id,
        "version": 1,
        "email": who.email,
        "email_key": normalize_email(who.email),
        "first_name": who.first_name,
        "last_name": who.last_name,
        "phone": who.phone,
        "company": None,
        "has_account": False,
        "status": "enabled",
        "tags": [],
        "email_subscribed": False,
        "created_at": now,
        "updated_at": now,
    }


def public_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The customer as the API and events show it (no internal keys)."""
    return {k: v for k, v in doc.items() if k not in ("_id", "email_key")}
