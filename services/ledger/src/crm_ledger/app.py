"""Wiring of the ledger service. Its resources arrive with its own issue; until then it
serves health, readiness and metrics only."""

from crm_servicekit.service import Runtime, Service, Wiring
from crm_ledger.settings import LedgerSettings


async def setup(rt: Runtime) -> Wiring[None]:
    return Wiring(None)


service = Service("ledger", LedgerSettings, setup=setup)
