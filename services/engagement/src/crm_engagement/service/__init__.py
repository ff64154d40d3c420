"""The use cases of the engagement service; the only code that writes."""

from crm_engagement.service.automations import Automations
from crm_engagement.service.campaigns import Campaigns
from crm_engagement.service.contacts import Contacts
from crm_engagement.service.merges import Merges
from crm_engagement.service.messages import Messages, Recipient
from crm_engagement.service.preferences import Preferences
from crm_engagement.service.privacy import Privacy
from crm_engagement.service.reviews import Reviews
from crm_engagement.service.sender import Sender
from crm_engagement.service.surveys import Surveys
from crm_engagement.service.templates import Templates
from crm_engagement.service.tickets import Tickets

__all__ = [
    "Automations",
    "Campaigns",
    "Contacts",
    "Merges",
    "Messages",
    "Preferences",
    "Privacy",
    "Recipient",
    "Reviews",
    "Sender",
    "Surveys",
    "Templates",
    "Tickets",
]
