"""The personal-data protocol (GDPR, docs/contract.md): answering personal_data.requested with
what this service holds about the person, and confirming a customer's erasure with
personal_data.erased. Both answers go out through the outbox, each stored once under a
deterministic event id, so a redelivery never gives a different event."""

from dataclasses import dataclass

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import PersonalDataCollected, PersonalDataErased
from crm_contracts.types import utcnow
from crm_groups.domain import SERVICE, ErasurePlan, collected_event_id, erased_event_id, personal_data
from crm_groups.service.membership import Memberships
from crm_groups.settings import GroupsSettings
from crm_groups.store import GroupStore


@dataclass
class PersonalData:
    store: GroupStore
    settings: GroupsSettings
    memberships: Memberships

    async def collect(self, request_id: str, customer_id: str) -> None:
        """personal_data.requested: the customer's memberships (group, name, since), what they
        spent as last told, and their membership changes, in one personal_data.collected. A
        customer never seen, or erased, is answered with empty lists. Read-only but for the
        answer itself, stored once per request."""
        store = self.store
        memberships = await store.memberships_of(customer_id)
        groups = await store.groups_by_id([m["group_id"] for m in memberships])
        data = personal_data(
            memberships, groups, await store.known_customer(customer_id), await store.versions_of(customer_id)
        )
        answer = PersonalDataCollected(
            request_id=request_id, customer_id=customer_id, service=SERVICE, data=data, collected_at=utcnow()
        )
        event = new_event(
            EventType.PERSONAL_DATA_COLLECTED,
            self.settings.source,
            answer,
            subject=customer_id,
            id=collected_event_id(request_id),
        )
        await store.record_export(request_id, customer_id, [event])

    async def erase(self, customer_id: str, event_id: str) -> None:
        """customer.deleted: the customer leaves every group (group.members.removed), what it
        spent is dropped (its id stays, marked erased, so it cannot be added again), its
        membership history is deleted; then one personal_data.erased with
        the counts found before anything was erased (a redelivery reports the same)."""
        store = self.store
        known = await store.known_customer(customer_id)
        memberships = await store.memberships_of(customer_id)
        changes = await store.versions_of(customer_id)
        found: ErasurePlan = {
            "_id": customer_id,
            "memberships": len(memberships),
            # the recorded adds and removes, and the removal each membership is about to get
            "membership_changes": len(changes) + len(memberships),
            "customer": 1 if known is not None and not known["deleted"] else 0,  # what it spent
            "planned_at": utcnow(),
        }
        plan = await store.plan_erasure(found)
        await self.memberships.customer_erased(customer_id, event_id)
        await store.delete_versions_of(customer_id)
        await store.delete_published_exports_of(customer_id)
        erased = PersonalDataErased(
            customer_id=customer_id,
            service=SERVICE,
            erased={
                "memberships": plan["memberships"],
                "membership_changes": plan["membership_changes"],
                "customer": plan["customer"],
            },
            at=utcnow(),
        )
        event = new_event(
            EventType.PERSONAL_DATA_ERASED,
            self.settings.source,
            erased,
            subject=customer_id,
            id=erased_event_id(customer_id),
        )
        await store.record_erased(customer_id, [event])
