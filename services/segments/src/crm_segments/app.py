"""Wiring of the segments service. Its resources arrive with its own issue; until then it
serves health, readiness and metrics only."""

from crm_servicekit.service import Runtime, Service, Wiring
from crm_segments.settings import SegmentsSettings


async def setup(rt: Runtime) -> Wiring[None]:
    return Wiring(None)


service = Service("segments", SegmentsSettings, setup=setup)
