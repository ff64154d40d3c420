"""While the database is unreachable, the HTTP API answers 503 problem+json with Retry-After
(a transient condition to retry), /readyz says so, and both recover when it is back."""

import os
import subprocess

import pytest

from harness import ROOT, eventually

pytestmark = pytest.mark.skipif(
    not os.environ.get("CRM_TEST_RABBITMQCTL"), reason="needs the local test infrastructure of ./crm test"
)


def infra(action: str) -> None:
    subprocess.run(
        ["bash", "-c", f"source infra/local.sh && {action}"], cwd=ROOT, check=True, capture_output=True
    )


async def test_database_outage_is_a_503_to_retry_not_a_500(system):
    customers = system.service("customers")
    async with customers.client() as http:
        assert (await http.get("/v1/customers/cus_nobody")).status_code == 404
        infra("ferretdb_stop")
        try:
            r = await http.get("/v1/customers/cus_nobody")
            assert r.status_code == 503
            assert r.headers["content-type"] == "application/problem+json"
            assert r.headers["retry-after"] == "5"
            assert r.json()["type"].endswith("/problems/service-unavailable")
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["database"] != "ok"
        finally:
            infra("ferretdb_start")

        async def recovered():
            return (await http.get("/v1/customers/cus_nobody")).status_code == 404

        await eventually(recovered, timeout=30, interval=0.5)
