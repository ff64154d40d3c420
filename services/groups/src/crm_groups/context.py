"""What a route or handler receives: the settings, the store and the use cases."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from crm_groups.service import Groups, Memberships, PersonalData, PriceLists
from crm_groups.settings import GroupsSettings
from crm_groups.store import GroupStore
from crm_servicekit.service import context


@dataclass
class Context:
    settings: GroupsSettings
    store: GroupStore
    groups: Groups
    memberships: Memberships
    prices: PriceLists
    personal_data: PersonalData

    @classmethod
    def wire(cls, settings: GroupsSettings, store: GroupStore) -> "Context":
        memberships = Memberships(store, settings)
        return cls(
            settings,
            store,
            Groups(store, settings),
            memberships,
            PriceLists(store, settings),
            PersonalData(store, settings, memberships),
        )


Ctx = Annotated[Context, Depends(context)]
"""The FastAPI dependency: the service's Context."""
