"""What a route or an event handler receives: the settings, the use cases and the stored
Idempotency-Key responses; `Ctx` is the FastAPI dependency for it."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from crm_ledger.service import Credit, Customers, Ledger, PersonalData, Rewards
from crm_ledger.settings import LedgerSettings
from crm_servicekit.idempotency import IdempotencyKeys
from crm_servicekit.service import context


@dataclass
class Context:
    settings: LedgerSettings
    ledger: Ledger
    rewards: Rewards
    customers: Customers
    idempotency: IdempotencyKeys
    credit: Credit
    personal_data: PersonalData


Ctx = Annotated[Context, Depends(context)]
