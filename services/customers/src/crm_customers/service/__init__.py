"""The use cases of the customers service, the only writer: customers (`Customers`), sales
agents (`Agents`), tasks (`Tasks`) and CSV imports (`Imports`)."""

from crm_customers.service.agents import Agents
from crm_customers.service.customers import Customers, Erased, Export
from crm_customers.service.imports import Imports
from crm_customers.service.tasks import Tasks

__all__ = ["Agents", "Customers", "Erased", "Export", "Imports", "Tasks"]
