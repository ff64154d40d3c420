"""CSV imports of customers: a dry run that reports every bad row and changes nothing; then
the import itself as a job whose counts show its progress.

Idempotent by e-mail: a row whose e-mail already has a customer changes nothing (counted as
`existing`), so a re-run of the same file, or of one that stopped half-way, creates only what
is missing. Never a partial row: each new customer, with its addresses and tags, is one
recorded version (one `customer.created`). A job stopped by a restart stays `running`; running
the file again finishes it."""

import asyncio
import logging
from dataclasses import dataclass, field
from uuid import uuid4

from crm_customers.domain import agents
from crm_customers.domain.documents import ImportJob, ImportProblem, ImportRow
from crm_customers.service.customers import Customers
from crm_customers.store import CustomerStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import DomainError, NotFound

log = logging.getLogger(__name__)

BATCH = 500  # rows written together (a few commands per batch; the job's counts follow)
CONCURRENCY = 8  # rows in flight on the one-by-one path
MAX_PROBLEMS = 1000


@dataclass
class Imports:
    store: CustomerStore
    customers: Customers
    running: set[asyncio.Task[None]] = field(default_factory=set)

    async def check(self, rows: list[ImportRow]) -> list[ImportProblem]:
        """What parsing cannot know: each sales agent named must exist and be active."""
        seen: dict[str, str | None] = {}
        out: list[ImportProblem] = []
        for row in rows:
            agent_id = row["profile"].get("sales_agent_id")
            if not agent_id:
                continue
            if agent_id not in seen:
                seen[agent_id] = agents.why_not_assignable(await self.store.agent(agent_id))
            if (why := seen[agent_id]) is not None:
                out.append({"line": row["line"], "field": "sales_agent_id", "message": why})
        return out

    async def get(self, job_id: str) -> ImportJob:
        job = await self.store.import_job(job_id)
        if job is None:
            raise NotFound("Import", job_id)
        return job

    async def start(self, rows: list[ImportRow]) -> ImportJob:
        """Records the job and runs it in the background; returns it as it starts."""
        now = now_ms()
        job: ImportJob = {
            "_id": f"imp_{uuid4().hex}",
            "status": "running",
            "rows": len(rows),
            "processed": 0,
            "created": 0,
            "existing": 0,
            "failed": 0,
            "problems": [],
            "started_at": now,
            "updated_at": now,
            "finished_at": None,
        }
        await self.store.save_import(job)
        task = asyncio.create_task(self._run(job, rows), name=f"import {job['_id']}")
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        return job

    async def _run(self, job: ImportJob, rows: list[ImportRow]) -> None:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(row: ImportRow) -> None:
            async with gate:
                try:
                    created = await self.customers.import_customer(
                        row["email"], row["has_account"], row["profile"], row["addresses"]
                    )
                    job["created" if created else "existing"] += 1
                except DomainError as e:  # e.g. the agent was deactivated meanwhile
                    job["failed"] += 1
                    if len(job["problems"]) < MAX_PROBLEMS:
                        job["problems"].append({"line": row["line"], "field": None, "message": str(e)})

        try:
            for start in range(0, len(rows), BATCH):
                batch = rows[start : start + BATCH]
                created, existing, leftover = await self.customers.import_batch(batch)
                job["created"] += created
                job["existing"] += existing
                await asyncio.gather(*(one(r) for r in leftover))
                job["processed"] += len(batch)
                job["updated_at"] = now_ms()
                await self.store.save_import(job)
            job["status"] = "done"
        except Exception:
            log.exception("import %s failed", job["_id"])
            job["status"] = "failed"
        job["finished_at"] = job["updated_at"] = now_ms()
        await self.store.save_import(job)
