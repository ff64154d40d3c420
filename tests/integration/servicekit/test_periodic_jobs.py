"""Issue 19: with several replicas, a periodic job runs once per period, not once per replica
(each period's run is claimed by a unique key in the service's database); a job marked
`every_replica` runs in each."""

import asyncio
import uuid

from pymongo import AsyncMongoClient

from crm_servicekit.service import Periodic, run_periodically


async def run_in_three_replicas(
    db, job_every_replica: bool, seconds: float, for_seconds: float
) -> list[float]:
    runs: list[float] = []

    async def job() -> None:
        runs.append(asyncio.get_running_loop().time())

    # Three "replicas": the same job loop three times over one database, as three processes do.
    job_spec = Periodic("sweep", seconds, job, every_replica=job_every_replica)
    tasks = [asyncio.create_task(run_periodically(job_spec, db)) for _ in range(3)]
    await asyncio.sleep(for_seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return runs


async def test_a_periodic_job_runs_once_per_period_across_replicas(infra):
    client: AsyncMongoClient = AsyncMongoClient(infra["mongodb"], tz_aware=True)
    db = client[f"t_jobs_{uuid.uuid4().hex[:6]}"]
    try:
        runs = await run_in_three_replicas(db, False, seconds=0.5, for_seconds=2.6)
        periods = await db["job_runs"].count_documents({})
        # One run per claimed period; besides, each process runs the job once as it starts.
        assert periods <= len(runs) <= periods + 2
        assert 4 <= periods <= 7, periods  # about 2.6 / 0.5 periods, not three times as many

        every = await run_in_three_replicas(db, True, seconds=0.5, for_seconds=1.2)
        assert len(every) >= 6  # three loops of at least two runs each
    finally:
        await client.drop_database(db.name)
        await client.close()
