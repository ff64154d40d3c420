"""Store credit, rewards and coupons as the ledger holds them, and amounts as staff type them
("12.50") turned into the minor units the ledger counts in."""

import uuid
from typing import Any

from crm_console.backend import Api

ENTRY_KINDS = {
    "funding": "Funding",
    "unfunding": "Deduction",
    "purchase": "Purchase",
    "refund": "Refund",
    "reward": "Reward",
    "expiry": "Expiry",
    "adjustment": "Adjustment",
}
COMMON_CURRENCIES = ("EUR", "USD", "GBP")


async def load(backend: Api, customer_id: str, kind: str) -> dict[str, Any]:
    """Balances and the account history (of one kind, if given). The referral look-up answers
    404 until the ledger has heard of the customer: then money cannot move yet."""
    referral = await backend.get("ledger", f"/v1/customers/{customer_id}/referral")
    kind = kind if kind in ENTRY_KINDS else ""
    account = await backend.get("ledger", f"/v1/accounts/{customer_id}")
    entries = await backend.get(
        "ledger", f"/v1/accounts/{customer_id}/entries", params={"kind": kind, "limit": 50}
    )
    currencies = [b["currency"] for b in account["balances"]]
    return {
        "balances": account["balances"],
        "entries": entries["items"],
        "kind": kind,
        "kinds": ENTRY_KINDS,
        "referral": referral,
        "currencies": [*currencies, *(c for c in COMMON_CURRENCIES if c not in currencies)],
        # One key per form shown: submitting it twice moves the money once.
        "key": uuid.uuid4().hex,
    }


async def load_rewards(backend: Api, customer_id: str) -> dict[str, Any]:
    rewards = await backend.get("ledger", f"/v1/customers/{customer_id}/rewards")
    coupons = await backend.get("ledger", f"/v1/customers/{customer_id}/coupons", params={"limit": 50})
    return {"rewards": rewards, "coupons": coupons["items"]}
