"""What a route or an event handler receives: the settings, the store and live membership
(which the use cases of service/ take)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from crm_segments.domain.money import BaseMoney
from crm_segments.service.membership import Membership
from crm_segments.settings import SegmentsSettings
from crm_segments.store import SegmentStore
from crm_servicekit.service import context


@dataclass
class Context:
    settings: SegmentsSettings
    store: SegmentStore
    membership: Membership

    @property
    def money(self) -> BaseMoney:
        return self.membership.money

    @property
    def source(self) -> str:
        return self.settings.source


Ctx = Annotated[Context, Depends(context)]
