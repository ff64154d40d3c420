"""HTTP API of the customers service (under /v1)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from crm_customers import domain
from crm_customers.handlers import Context
from crm_servicekit.problems import not_found
from crm_servicekit.service import context

router = APIRouter(tags=["customers"])
Ctx = Annotated[Context, Depends(context)]


@router.get("/customers/{customer_id}")
async def get_customer(customer_id: str, ctx: Ctx) -> dict[str, Any]:
    doc = await ctx.store.get(customer_id)
    if doc is None:
        raise not_found("Customer", customer_id)
    return domain.public_view(doc)
