"""Wiring of the groups service. Its resources arrive with its own issue; until then it
serves health, readiness and metrics only."""

from crm_servicekit.service import Runtime, Service, Wiring
from crm_groups.settings import GroupsSettings


async def setup(rt: Runtime) -> Wiring[None]:
    return Wiring(None)


service = Service("groups", GroupsSettings, setup=setup)
