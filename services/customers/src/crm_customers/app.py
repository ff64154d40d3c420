"""Wiring of the customers service."""

from crm_customers.api import router
from crm_customers.api_records import router as records_router
from crm_customers.handlers import handlers
from crm_customers.operations import Customers
from crm_customers.settings import CustomersSettings
from crm_customers.store import CustomerStore
from crm_servicekit.service import Runtime, Service, Wiring


async def setup(rt: Runtime) -> Wiring[Customers]:
    store = CustomerStore(rt.db, rt.notify_outbox)
    settings: CustomersSettings = rt.settings  # type: ignore[assignment]
    return Wiring(
        Customers(store, settings.source, settings.base_currency),
        indexes=store.indexes,
        outbox=[store.customers.outbox_source()],
    )


service = Service(
    "customers", CustomersSettings, setup=setup, handlers=handlers, routers=[router, records_router]
)
