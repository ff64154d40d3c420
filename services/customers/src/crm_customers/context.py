"""What an HTTP route or an event handler receives: the settings, the use cases and the store
(for plain reads)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from crm_customers.service import Agents, Customers, Erasures, Imports, Merges, PersonalData, Tasks
from crm_customers.settings import CustomersSettings
from crm_customers.store import CustomerStore
from crm_servicekit.service import context


@dataclass(frozen=True)
class Context:
    settings: CustomersSettings
    store: CustomerStore
    customers: Customers
    agents: Agents
    tasks: Tasks
    imports: Imports
    personal_data: PersonalData
    erasures: Erasures
    merges: Merges

    @classmethod
    def build(cls, settings: CustomersSettings, store: CustomerStore) -> "Context":
        customers = Customers(store, settings.source, settings.base_currency, settings.verification_hours)
        return cls(
            settings,
            store,
            customers,
            Agents(store),
            Tasks(store, settings.source),
            Imports(store, customers),
            PersonalData(store, customers, settings.source, settings.personal_data_services),
            Erasures(
                store,
                customers,
                settings.erasure_grace_days,
                settings.personal_data_services,
                settings.source,
            ),
            Merges(store, customers, settings.source),
        )


Ctx = Annotated[Context, Depends(context)]
