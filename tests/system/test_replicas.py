"""Issue 19, in part: two processes of one service share its HTTP port (SO_REUSEPORT, what
`./crm up --replicas N` sets) and the kernel spreads connections over both, and when
one is killed the other goes on answering."""

import signal

import httpx
from groups_support import create_group

from harness import TOKEN, Broker, ServiceProcess, eventually


async def test_two_replicas_share_the_port_and_the_survivor_answers_when_one_is_killed(
    system, broker: Broker
):
    first = system.service("groups", CRM_HTTP_REUSE_PORT="1")
    second = ServiceProcess("groups", first.env, system.logs / f"{system.tag}-groups-2.log", port=first.port)
    second.start(CRM_HTTP_REUSE_PORT="1")  # ready at once: the first one answers /readyz
    try:

        async def second_started() -> bool:
            return "groups started on" in second.log_path.read_text()

        await eventually(second_started, timeout=60)
        groups = []
        for _ in range(12):  # a connection each: the kernel picks a replica per connection
            async with first.client() as http:
                groups.append(await create_group(http))
        answered = [p.log_path.read_text().count('"path": "/v1/groups"') for p in (first, second)]
        assert sum(answered) == 12 and all(answered), answered  # both replicas served some

        second.stop(signal.SIGKILL)
        async with httpx.AsyncClient(
            base_url=first.url, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as http:
            for group in groups:  # new connections each time, all to the survivor
                r = await http.get(f"/v1/groups/{group['id']}", headers={"Connection": "close"})
                assert r.status_code == 200
    finally:
        second.stop()
