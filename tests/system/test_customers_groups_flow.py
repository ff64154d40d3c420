"""Customers and the real groups service, driven through the typed client (crm_api_client) as
an integrator would: memberships made in groups become the `group_id` filter of the customer
search; erasing a customer removes it from the groups too."""

import uuid

from crm_api_client.api.customers import create_customer, delete_customer, list_customers
from crm_api_client.api.groups import change_members, create_group, list_members
from crm_api_client.models import (
    CustomerCreate,
    CustomerOut,
    GroupCreate,
    GroupOut,
    ListCustomersSort,
    MembershipChange,
    MembershipOut,
    ProblemDetails,
)

from harness import Broker, eventually


async def test_group_membership_from_the_groups_service_filters_customer_search(system, broker: Broker):
    async with system.service("customers").api() as customers, system.service("groups").api() as groups:
        ids = []
        for name in ("one", "two", "three"):
            created = await create_customer.asyncio(
                client=customers, body=CustomerCreate(email=f"{name}.{uuid.uuid4().hex[:6]}@example.com")
            )
            assert isinstance(created, CustomerOut), created
            ids.append(created.id)
        group = await create_group.asyncio(
            client=groups, body=GroupCreate(name=f"VIP {uuid.uuid4().hex[:6]}")
        )
        assert isinstance(group, GroupOut), group

        async def added() -> bool:
            answer = await change_members.asyncio(group.id, client=groups, body=MembershipChange(add=ids[:2]))
            if isinstance(answer, ProblemDetails):  # 422 until groups has seen customer.created
                assert answer.status == 422, answer
                return False
            return isinstance(answer, MembershipOut)

        await eventually(added)

        async def members() -> list[str]:
            page = await list_customers.asyncio(
                client=customers, group_id=group.id, sort=ListCustomersSort("created_at")
            )
            assert page is not None and not isinstance(page, ProblemDetails), page
            return [c.id for c in page.items]

        await eventually(lambda: _is(members(), ids[:2]))
        assert (await delete_customer.asyncio_detailed(ids[0], client=customers)).status_code == 204
        await eventually(lambda: _is(members(), ids[1:2]))

        async def left_in_groups() -> bool:
            page = await list_members.asyncio(group.id, client=groups)
            assert page is not None and not isinstance(page, ProblemDetails), page
            return [m.customer_id for m in page.items] == ids[1:2]

        await eventually(left_in_groups)


async def _is(awaitable, expected) -> bool:
    return (await awaitable) == expected
