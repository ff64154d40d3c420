"""What a route or handler receives: the settings, the store and the use cases."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from crm_engagement.mailer import Mailer
from crm_engagement.service import (
    Automations,
    Campaigns,
    Contacts,
    Merges,
    Messages,
    Preferences,
    Privacy,
    Reviews,
    Sender,
    Surveys,
    Templates,
    Tickets,
)
from crm_engagement.settings import EngagementSettings
from crm_engagement.store import EngagementStore
from crm_servicekit.service import context


@dataclass
class Context:
    settings: EngagementSettings
    store: EngagementStore
    contacts: Contacts
    templates: Templates
    messages: Messages
    automations: Automations
    campaigns: Campaigns
    sender: Sender
    tickets: Tickets
    reviews: Reviews
    privacy: Privacy
    surveys: Surveys
    preferences: Preferences
    merges: Merges

    @classmethod
    def wire(
        cls, settings: EngagementSettings, store: EngagementStore, secret: str, notify: Callable[[], None]
    ) -> "Context":
        messages = Messages(store, settings, secret)
        surveys = Surveys(store, settings, messages, secret)
        return cls(
            settings,
            store,
            Contacts(store, settings, secret, notify),
            Templates(store, settings),
            messages,
            Automations(store, messages, settings),
            Campaigns(store, messages, settings.max_selection, settings.source),
            Sender(store, settings, Mailer(settings)),
            Tickets(store, settings),
            Reviews(store, settings),
            Privacy(store, settings, notify, surveys),
            surveys,
            Preferences(store, settings, secret, notify),
            Merges(store, settings),
        )


Ctx = Annotated[Context, Depends(context)]
"""The FastAPI dependency: the service's Context."""
