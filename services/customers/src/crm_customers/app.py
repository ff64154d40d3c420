"""Wiring of the customers service."""

from typing import cast

from crm_customers.api import (
    agents_router,
    calendar,
    imports_router,
    privacy_router,
    records,
    router,
    tasks_router,
)
from crm_customers.context import Context
from crm_customers.handlers import handlers
from crm_customers.settings import CustomersSettings
from crm_customers.store import CustomerStore
from crm_servicekit.service import Periodic, Runtime, Service, Wiring


async def setup(rt: Runtime) -> Wiring[Context]:
    store = CustomerStore(rt.db, rt.notify_outbox)
    settings = cast(CustomersSettings, rt.settings)
    ctx = Context.build(settings, store)
    return Wiring(
        ctx,
        indexes=store.indexes,
        outbox=[
            store.customers.outbox_source(),
            store.task_records.outbox_source(),
            store.personal_data_outbox(),
            store.verification_outbox_source(),
            *store.erasure_outboxes(),
        ],
        periodic=[Periodic("erasures", settings.erasure_job_seconds, ctx.erasures.carry_out_due)],
    )


service = Service(
    "customers",
    CustomersSettings,
    setup=setup,
    handlers=handlers,
    routers=[router, records, agents_router, tasks_router, imports_router, privacy_router],
    # the agents' calendar feeds: calendar apps send no token, the secret in the URL is the credential
    public_routers=[calendar],
)
