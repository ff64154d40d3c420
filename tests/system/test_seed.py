"""`./crm seed` (tools/seed.py) fills a running system with a demo store that a newcomer can
look at: customers with orders, groups with members, store credit and segments with members;
run again, it changes nothing."""

import os
import subprocess
import sys

from harness import ROOT, TOKEN, eventually

SERVICES = ["customers", "groups", "ledger", "segments"]


def seed(system) -> str:
    urls = [f"--url={name}={system.service(name).url}" for name in SERVICES]
    env = {**os.environ, "RABBITMQ_URL": system.rabbit_url, "CRM_API_TOKEN": TOKEN}
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools/seed.py"), "--customers", "15", "--seed", "3", *urls],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


async def everything(system) -> dict:
    out = {}
    async with system.service("customers").client() as http:
        out["customers"] = sorted(
            (c["email"], c["stats"]["number_of_orders"])
            for c in (await http.get("/v1/customers", params={"limit": 100})).json()["items"]
        )
    async with system.service("groups").client() as http:
        groups = (await http.get("/v1/groups")).json()["items"]
        out["groups"] = {}
        for g in groups:
            members = (await http.get(f"/v1/groups/{g['id']}/customers", params={"limit": 100})).json()[
                "items"
            ]
            out["groups"][g["name"]] = len(members)
    async with system.service("segments").client() as http:
        out["segments"] = {
            s["name"]: s.get("member_count") for s in (await http.get("/v1/segments")).json()["items"]
        }
    return out


async def test_seed_makes_a_store_to_look_at_and_a_second_run_changes_nothing(system):
    printed = seed(system)
    assert "published" in printed
    first = await everything(system)
    assert len(first["customers"]) == 15 and sum(n for _, n in first["customers"]) >= 15
    assert (first["groups"]["VIP"], first["groups"]["Wholesale"]) == (12, 12)
    assert set(first["segments"]) == {"Big spenders", "Lapsed buyers", "Newsletter readers"}

    seed(system)

    async def settled():
        again = await everything(system)
        return again if again == first else None

    assert await eventually(settled, timeout=60) == first
