"""The ledger's use cases, the only code that writes: `accounts` (store credit, holds, the
expiry job), `rewards` (points and coupons), `customers` (what order and customer events do),
`outbound` (the events records publish)."""

from crm_ledger.service.accounts import Ledger
from crm_ledger.service.customers import Customers, StoredResponses
from crm_ledger.service.programmes import Programmes
from crm_ledger.service.rewards import Rewards

__all__ = ["Customers", "Ledger", "Programmes", "Rewards", "StoredResponses"]
