"""What a route or handler receives: the settings, the store and the use cases."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from crm_groups.service import Groups, Memberships, PriceLists
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

    @classmethod
    def wire(cls, settings: GroupsSettings, store: GroupStore) -> "Context":
        return cls(
            settings,
            store,
            Groups(store, settings),
            Memberships(store, settings),
            PriceLists(store, settings),
        )


Ctx = Annotated[Context, Depends(context)]
"""The FastAPI dependency: the service's Context."""
