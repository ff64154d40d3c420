"""Customers pages: the list and its search, adding a customer, and the customer's own page
with what every service knows of the person (one module per part)."""

from fastapi import APIRouter

from crm_console.pages.customers import changes, funding, listing, new, privacy, record

router = APIRouter()
# /customers/new before /customers/{customer_id}, so "new" is not taken for an id
for part in (listing, new, record, changes, funding, privacy):
    router.include_router(part.router)
