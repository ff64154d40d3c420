"""Issue 15: groups asked for outside a plain creation. A CSV import names each customer's
groups (`group_ids`, several split by ";"): the customers service carries them on
customer.created and the real groups service applies them, skipping a group that does not
exist; a malformed id is a problem of its line and column. A guest who registers with
`group_ids` joins them once the e-mail is verified (customer.registered carries them)."""

import uuid

from groups_support import create_group

from harness import Broker, eventually


async def test_imported_customers_join_the_groups_their_row_names(system, broker: Broker):
    customers, groups = system.service("customers"), system.service("groups")
    async with groups.client() as g:
        vip = await create_group(g)
    email = f"import.{uuid.uuid4().hex[:6]}@example.com"
    text = f"email,first_name,group_ids\n{email},Ana,{vip['id']};grp_gone\nbad@example.com,B,not an id!\n"
    headers = {"Content-Type": "text/csv"}
    async with customers.client() as http:
        dry = (
            await http.post("/v1/customer-imports", params={"dry_run": "true"}, content=text, headers=headers)
        ).json()
        assert [(p["line"], p["field"]) for p in dry["problems"]] == [(3, "group_ids")]
        good = "\n".join(text.splitlines()[:2]) + "\n"
        job = (await http.post("/v1/customer-imports", content=good, headers=headers)).json()

        async def done():
            j = (await http.get(f"/v1/customer-imports/{job['id']}")).json()
            return j if j["status"] == "done" else None

        assert (await eventually(done))["created"] == 1
        [ana] = (await http.get("/v1/customers", params={"q": email})).json()["items"]

    [added] = await broker.wait_for(
        "group.members.added", lambda b: ana["id"] in b["data"]["customer_ids"], timeout=60
    )
    assert added["body"]["data"]["group_id"] == vip["id"]
    async with groups.client() as g:
        mine = (await g.get(f"/v1/customers/{ana['id']}/groups")).json()["items"]
    assert [x["id"] for x in mine] == [vip["id"]]  # the group that does not exist is skipped


async def test_a_guest_who_registers_joins_the_groups_the_registration_asked_for(system, broker: Broker):
    customers, groups = system.service("customers"), system.service("groups")
    async with groups.client() as g:
        vip = await create_group(g)
    email = f"guest.{uuid.uuid4().hex[:6]}@example.com"
    async with customers.client() as http:
        guest = (await http.post("/v1/customers", json={"email": email, "has_account": False})).json()
        asked = {"email": email, "password": "a long enough password 1", "group_ids": [vip["id"]]}
        assert (await http.post("/v1/customers", json=asked)).status_code == 202
        [sent] = await broker.wait_for(
            "customer.verification.requested", lambda b: b["data"]["email"] == email
        )
        r = await http.post("/v1/customers/verify", json={"token": sent["body"]["data"]["token"]})
        assert r.status_code == 200, r.text
    [registered] = await broker.wait_for("customer.registered", lambda b: b["data"]["id"] == guest["id"])
    assert registered["body"]["data"]["join_group_ids"] == [vip["id"]]
    [added] = await broker.wait_for(
        "group.members.added", lambda b: guest["id"] in b["data"]["customer_ids"], timeout=60
    )
    assert added["body"]["data"]["group_id"] == vip["id"]
