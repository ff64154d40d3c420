"""Wiring of the customers service."""

from typing import cast

from crm_customers.api import agents_router, calendar, imports_router, records, router, tasks_router
from crm_customers.context import Context
from crm_customers.handlers import handlers
from crm_customers.settings import CustomersSettings
from crm_customers.store import CustomerStore
from crm_servicekit.service import Runtime, Service, Wiring


async def setup(rt: Runtime) -> Wiring[Context]:
    store = CustomerStore(rt.db, rt.notify_outbox)
    settings = cast(CustomersSettings, rt.settings)
    return Wiring(
        Context.build(settings, store),
        indexes=store.indexes,
        outbox=[store.customers.outbox_source(), store.task_records.outbox_source()],
    )


service = Service(
    "customers",
    CustomersSettings,
    setup=setup,
    handlers=handlers,
    routers=[router, records, agents_router, tasks_router, imports_router],
    # the agents' calendar feeds: calendar apps send no token, the secret in the URL is the credential
    public_routers=[calendar],
)
