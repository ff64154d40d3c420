"""Personal data across services (GDPR, issue 15): an export that every service answers, and
erasure scheduled after a grace period, cancellable until a periodic job carries it out.

Nothing here relies on an update being atomic or on a lock: a request is one inserted record
with its event (the outbox), each service's answer is stored once under (request, service),
a customer's one open erasure is a claim by insert, and whichever of a cancellation and the job
inserts the request's outcome first decides what happens to it."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import (
    CustomerErasureChanged,
    PersonalDataCollected,
    PersonalDataErased,
    PersonalDataRequested,
)
from crm_customers.domain import privacy
from crm_customers.domain.documents import (
    ErasureConfirmation,
    ErasureDone,
    ErasureOutcome,
    ErasureRequest,
    PersonalDataPart,
    PersonalDataRequest,
)
from crm_customers.domain.privacy import ErasureStatus, ExportProgress
from crm_customers.service.customers import Customers, Export
from crm_customers.store import CustomerStore
from crm_servicekit import logs
from crm_servicekit.clock import now_ms, to_ms
from crm_servicekit.errors import Invalid, NotFound

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=5)  # a claim this old whose work did not finish: its owner died


@dataclass(frozen=True)
class PersonalDataDocument:
    request: PersonalDataRequest
    progress: ExportProgress
    own: Export | None  # this service's part (None: the customer was erased since)
    parts: list[PersonalDataPart]


@dataclass(frozen=True)
class ErasureView:
    request: ErasureRequest
    status: ErasureStatus
    outcome: ErasureOutcome | None
    done: ErasureDone | None
    confirmations: list[ErasureConfirmation]


@dataclass
class PersonalData:
    store: CustomerStore
    customers: Customers
    source: str
    expected: list[str]

    async def request(self, customer_id: str) -> PersonalDataRequest:
        """Asks every service for what it holds about the person (personal_data.requested)."""
        await self.customers.get(customer_id)
        now = now_ms()
        request: PersonalDataRequest = {
            "_id": privacy.new_request_id(),
            "customer_id": customer_id,
            "requested_at": now,
            "requested_by": logs.operator_var.get(),
            "expected": list(self.expected),
            "recorded_at": now,
        }
        asked = PersonalDataRequested(request_id=request["_id"], customer_id=customer_id, requested_at=now)
        event = new_event(
            EventType.PERSONAL_DATA_REQUESTED, self.source, asked, subject=customer_id, id=request["_id"]
        )
        await self.store.add_personal_data_request(request, [event])
        return request

    async def get_request(self, request_id: str) -> PersonalDataRequest:
        request = await self.store.personal_data_request(request_id)
        if request is None:
            raise NotFound("Personal data request", request_id)
        return request

    async def progress(self, request: PersonalDataRequest) -> ExportProgress:
        return privacy.progress(request, await self.store.personal_data_parts(request["_id"]))

    async def record_part(self, event_id: str, collected: PersonalDataCollected) -> None:
        """personal_data.collected: a service's part, stored once per (request, service). An
        unknown request, or one about another customer, is dead-lettered with the reason."""
        request = await self.store.personal_data_request(collected.request_id)
        if request is None:
            raise NotFound("Personal data request", collected.request_id)
        if collected.customer_id != request["customer_id"]:
            raise Invalid(
                f"request {collected.request_id} is about {request['customer_id']}, "
                f"not {collected.customer_id}",
                errors=[{"field": "customer_id", "message": "not the customer of the request"}],
            )
        if collected.service == privacy.SERVICE or not collected.service.strip():
            raise Invalid(
                f"service {collected.service!r} cannot answer",
                errors=[{"field": "service", "message": "the customers part is assembled here"}],
            )
        if await self.store.was_erased(request["customer_id"]):
            return  # erased since: an answer arriving now is not kept
        part: PersonalDataPart = {
            "_id": privacy.part_id(request["_id"], collected.service),
            "request_id": request["_id"],
            "customer_id": request["customer_id"],
            "service": collected.service,
            "data": collected.data,
            "collected_at": to_ms(collected.collected_at),
            "received_at": now_ms(),
            "event_id": event_id,
        }
        if not await self.store.add_personal_data_part(part):
            log.info("personal data part %s stored before; kept as it was", part["_id"])

    async def document(self, request_id: str) -> PersonalDataDocument:
        request = await self.get_request(request_id)
        parts = await self.store.personal_data_parts(request_id)
        try:
            own: Export | None = await self.customers.export(request["customer_id"])
        except NotFound:
            own = None
        return PersonalDataDocument(request, privacy.progress(request, parts), own, parts)


@dataclass
class Erasures:
    store: CustomerStore
    customers: Customers
    default_grace_days: int
    expected: list[str]
    source: str

    def _event(
        self, request: ErasureRequest, status: Literal["scheduled", "cancelled"], at: datetime
    ) -> dict[str, Any]:
        """customer.erasure.scheduled / .cancelled, with an id that a retry cannot change."""
        data = CustomerErasureChanged(
            request_id=request["_id"],
            customer_id=request["customer_id"],
            status=status,
            requested_at=request["requested_at"],
            due_at=request["due_at"],
            at=at,
        )
        kind = (
            EventType.CUSTOMER_ERASURE_SCHEDULED
            if status == "scheduled"
            else EventType.CUSTOMER_ERASURE_CANCELLED
        )
        return new_event(
            kind, self.source, data, subject=request["customer_id"], id=f"{request['_id']}:{status}"
        )

    async def request(self, customer_id: str, grace_days: int | None) -> ErasureRequest:
        """Schedules the erasure `grace_days` from now (default CRM_CUSTOMERS_ERASURE_GRACE_DAYS;
        0: at the job's next run). A customer has one open erasure at a time (Conflict)."""
        await self.customers.get(customer_id)
        days = self.default_grace_days if grace_days is None else grace_days
        now = now_ms()
        request: ErasureRequest = {
            "_id": privacy.new_erasure_id(),
            "customer_id": customer_id,
            "requested_at": now,
            "requested_by": logs.operator_var.get(),
            "grace_days": days,
            "due_at": privacy.due_at(now, days),
        }
        # Claim first: a claim whose request was never written (a crash here) is released by the job.
        existing = await self.store.claim_open_erasure(
            {"_id": customer_id, "request_id": request["_id"], "claimed_at": now}
        )
        if existing is not None:
            raise privacy.erasure_pending(customer_id, existing)
        await self.store.add_erasure(request, [self._event(request, "scheduled", now)])
        return request

    async def _request(self, request_id: str) -> ErasureRequest:
        request = await self.store.erasure(request_id)
        if request is None:
            raise NotFound("Erasure request", request_id)
        return request

    async def view(self, request: ErasureRequest) -> ErasureView:
        outcome = await self.store.erasure_outcome(request["_id"])
        done = (await self.store.erasure_done_of([request["_id"]])).get(request["_id"])
        status = privacy.erasure_status(outcome, done)
        confirmations = (
            await self.store.erasure_confirmations_of(request["customer_id"])
            if status == "carried_out"
            else []
        )
        return ErasureView(request, status, outcome, done, confirmations)

    async def get(self, request_id: str) -> ErasureView:
        return await self.view(await self._request(request_id))

    async def of_customer(self, customer_id: str) -> list[ErasureView]:
        """Newest first; also once the customer is erased. An id that never named a customer
        is NotFound."""
        requests = await self.store.erasures_of(customer_id)
        if not requests and await self.store.get(customer_id) is None:
            if not await self.store.was_erased(customer_id):
                raise NotFound("Customer", customer_id)
        requests.sort(key=lambda r: (r["requested_at"], r["_id"]), reverse=True)
        return [await self.view(r) for r in requests]

    async def list(self, status: ErasureStatus | None) -> list[ErasureView]:
        """Every erasure request, newest first (a staff list of a few a month)."""
        requests = await self.store.all_erasures()
        ids = [r["_id"] for r in requests]
        outcomes = await self.store.erasure_outcomes_of(ids)
        done = await self.store.erasure_done_of(ids)
        out: list[ErasureView] = []
        for r in sorted(requests, key=lambda r: (r["requested_at"], r["_id"]), reverse=True):
            s = privacy.erasure_status(outcomes.get(r["_id"]), done.get(r["_id"]))
            if status is None or s == status:
                confirmations = (
                    await self.store.erasure_confirmations_of(r["customer_id"]) if s == "carried_out" else []
                )
                out.append(ErasureView(r, s, outcomes.get(r["_id"]), done.get(r["_id"]), confirmations))
        return out

    async def cancel(self, request_id: str) -> ErasureView:
        """Cancelled, unless the job has started carrying it out (Conflict). Cancelling a
        cancelled request again changes nothing."""
        request = await self._request(request_id)
        now = now_ms()
        outcome = await self.store.decide_erasure(
            {"_id": request_id, "outcome": "cancelled", "at": now, "by": logs.operator_var.get()},
            [self._event(request, "cancelled", now)],
        )
        if outcome["outcome"] != "cancelled":
            view = await self.view(request)
            raise privacy.erasure_not_cancellable(request_id, view.status)
        await self.store.release_open_erasure(request["customer_id"], request_id)
        return await self.view(request)

    async def carry_out_due(self, now: datetime | None = None) -> int:
        """The periodic job: every open erasure that is due is claimed (the outcome's unique
        key: one replica wins, a cancellation inserted first wins) and carried out through the
        erase use case, once. Returns how many this run carried out."""
        now = now or now_ms()
        carried = 0
        for claim in await self.store.open_erasures():
            request = await self.store.erasure(claim["request_id"])
            if request is None:  # the request's writer died between claim and insert
                if now - claim["claimed_at"] > STALE_CLAIM:
                    await self.store.release_open_erasure(claim["_id"], claim["request_id"])
                continue
            if request["due_at"] > now:
                continue
            mine: ErasureOutcome = {
                "_id": request["_id"],
                "outcome": "carrying_out",
                "at": now_ms(),
                "by": "job",
            }
            outcome = await self.store.decide_erasure(mine)
            if outcome["outcome"] == "cancelled":
                await self.store.release_open_erasure(request["customer_id"], request["_id"])
                continue
            if outcome is not mine and now - outcome["at"] < STALE_CLAIM:
                continue  # another replica is carrying it out now
            # Ours, or another's that never finished (its replica died): erasing again is safe,
            # the erased version is recorded once (customer.deleted is published once).
            try:
                await self.customers.erase(request["customer_id"])
            except NotFound:
                pass  # erased meanwhile (DELETE, or our own earlier attempt)
            await self.store.mark_erasure_done(
                {"_id": request["_id"], "customer_id": request["customer_id"], "at": now_ms()}
            )
            await self.store.release_open_erasure(request["customer_id"], request["_id"])
            log.info("erasure %s of %s carried out", request["_id"], request["customer_id"])
            carried += 1
        return carried

    async def record_confirmation(self, erased: PersonalDataErased) -> None:
        """personal_data.erased: a service erased its copies of a deleted customer (kept once
        per (customer, service))."""
        if not erased.service.strip():
            raise Invalid("service is empty", errors=[{"field": "service", "message": "required"}])
        confirmation: ErasureConfirmation = {
            "_id": f"{erased.customer_id}|{erased.service}",
            "customer_id": erased.customer_id,
            "service": erased.service,
            "erased": dict(erased.erased),
            "at": to_ms(erased.at),
            "received_at": now_ms(),
        }
        await self.store.add_erasure_confirmation(confirmation)
