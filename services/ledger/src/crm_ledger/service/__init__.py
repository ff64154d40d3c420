"""The ledger's use cases, the only code that writes: `accounts` (store credit, holds, the
expiry job), `rewards` (points and coupons), `customers` (what order and customer events do),
`credit` (buying on account: groups, memberships, credit lines), `outbound` (the events records publish)."""

from crm_ledger.service.accounts import Ledger
from crm_ledger.service.credit import Credit
from crm_ledger.service.customers import Customers, StoredResponses
from crm_ledger.service.personal_data import PersonalData
from crm_ledger.service.programmes import Programmes
from crm_ledger.service.rewards import Rewards

__all__ = ["Credit", "Customers", "PersonalData", "Ledger", "Programmes", "Rewards", "StoredResponses"]
