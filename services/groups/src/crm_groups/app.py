"""Wiring of the groups service: settings, store, context, routes, handlers, the recovery job,
the default groups of a new installation."""

from crm_groups.api import router
from crm_groups.context import Context
from crm_groups.handlers import handlers
from crm_groups.settings import GroupsSettings
from crm_groups.store import GroupStore
from crm_servicekit.service import Periodic, Runtime, Service, Wiring


async def setup(rt: Runtime) -> Wiring[Context]:
    settings: GroupsSettings = rt.settings  # type: ignore[assignment]
    store = GroupStore(rt.db, rt.notify_outbox)
    ctx = Context.wire(settings, store)
    return Wiring(
        ctx,
        indexes=store.indexes,
        outbox=store.outbox_sources(),
        periodic=[
            Periodic(
                "finish-interrupted-changes",
                settings.recovery_every_seconds,
                ctx.memberships.finish_interrupted,
            ),
            # Runs at start (after the indexes exist) and again until it has succeeded once.
            Periodic("create-default-groups", 10, ctx.groups.create_default_groups),
        ],
    )


service = Service("groups", GroupsSettings, setup=setup, handlers=handlers, routers=[router])
