"""The use cases of the customers service, the only writer: customers (`Customers`), sales
agents (`Agents`), tasks (`Tasks`), CSV imports (`Imports`), personal data exports across
services (`PersonalData`) and scheduled erasures (`Erasures`)."""

from crm_customers.service.agents import Agents
from crm_customers.service.customers import Customers, Erased, Export, PendingVerification
from crm_customers.service.imports import Imports
from crm_customers.service.merges import Merges
from crm_customers.service.privacy import Erasures, ErasureView, PersonalData
from crm_customers.service.tasks import Tasks

__all__ = [
    "Agents",
    "Customers",
    "Erased",
    "PendingVerification",
    "ErasureView",
    "Erasures",
    "Export",
    "Merges",
    "Imports",
    "PersonalData",
    "Tasks",
]
