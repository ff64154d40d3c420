"""Wiring of the segments service: profiles from events, rules, live membership, analytics."""

from typing import cast

from crm_segments.api import router
from crm_segments.context import Context
from crm_segments.domain.money import BaseMoney
from crm_segments.handlers import handlers
from crm_segments.service.membership import Membership
from crm_segments.settings import SegmentsSettings
from crm_segments.store import SegmentStore
from crm_servicekit.service import Periodic, Runtime, Service, Wiring


async def setup(rt: Runtime) -> Wiring[Context]:
    settings = cast(SegmentsSettings, rt.settings)  # built from the class given to Service below
    store = SegmentStore(rt.db, rt.notify_outbox)
    money = BaseMoney(settings.base_currency, settings.fx_rates)
    membership = Membership(store, money, settings.source, settings.tz)
    return Wiring(
        Context(settings, store, membership),
        indexes=store.indexes,
        outbox=store.outbox_sources(membership.project),
        periodic=[Periodic("segments-reevaluation", settings.reevaluate_seconds, membership.periodic)],
    )


service = Service("segments", SegmentsSettings, setup=setup, handlers=handlers, routers=[router])
