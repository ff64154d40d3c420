"""Issue 4: groups: create, read, list, edit, delete; metadata; events through the outbox.
The groups service runs as a real process against the real broker and FerretDB."""

import uuid

from groups_support import create_group, customer_state, make_customers, unique_name  # noqa: F401

from harness import Broker


async def test_create_read_and_names_are_unique_case_insensitively(system, broker: Broker):
    groups = system.service("groups")
    name = unique_name("Wholesale")
    async with groups.client() as http:
        r = await http.post(
            "/v1/groups",
            json={
                "name": f"  {name} ",
                "description": "B2B buyers",
                "metadata": {"erp:id": "W-1", "tier": 2},
            },
        )
        assert r.status_code == 201
        group = r.json()
        assert group["name"] == name and group["description"] == "B2B buyers"
        assert group["metadata"] == {"erp:id": "W-1", "tier": 2}
        assert group["member_count"] == 0 and group["version"] == 1 and group["id"].startswith("grp_")

        again = await http.post("/v1/groups", json={"name": name.upper()})
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        assert again.json()["type"].endswith("/problems/group-name-taken")

        assert (await http.get(f"/v1/groups/{group['id']}")).json() == group
        missing = await http.get("/v1/groups/grp_missing")
        assert missing.status_code == 404 and missing.json()["type"].endswith("/problems/not-found")

    [created] = await broker.wait_for("group.created", lambda b: b["data"]["id"] == group["id"])
    assert created["body"]["data"]["name"] == name and created["body"]["subject"] == group["id"]
    assert created["message_id"] == created["body"]["id"] and created["persistent"]


async def test_bad_input_is_422_naming_the_field(system):
    groups = system.service("groups")
    async with groups.client() as http:
        for body, field in [
            ({}, "name"),
            ({"name": "   "}, "name"),
            ({"name": "x" * 101}, "name"),
            ({"name": unique_name(), "discount_percent": 101}, "discount_percent"),
            ({"name": unique_name(), "colour": "red"}, "colour"),
        ]:
            r = await http.post("/v1/groups", json=body)
            assert r.status_code == 422, body
            assert r.headers["content-type"] == "application/problem+json"
            assert field in [e["field"] for e in r.json()["errors"]], r.json()
        group = await create_group(http)
        r = await http.patch(f"/v1/groups/{group['id']}", json={"name": None})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"


async def test_http_needs_the_token(system):
    groups = system.service("groups")
    async with groups.client(token=None) as http:
        assert (await http.get("/v1/groups")).status_code == 401
        assert (await http.get("/healthz")).status_code == 200


async def test_edit_name_description_and_pricing_emits_group_updated(system, broker: Broker):
    groups = system.service("groups")
    async with groups.client() as http:
        group = await create_group(http, description="old")
        other = await create_group(http)
        new_name = unique_name("Renamed")
        r = await http.patch(
            f"/v1/groups/{group['id']}",
            json={
                "name": new_name,
                "description": None,
                "discount_percent": 15,
                "price_tier": "wholesale",
                "priority": 3,
            },
        )
        assert r.status_code == 200, r.text
        edited = r.json()
        assert edited["name"] == new_name and edited["description"] is None and edited["version"] == 2
        assert (edited["discount_percent"], edited["price_tier"], edited["priority"]) == (15, "wholesale", 3)

        # Renaming to another group's name (any case) is a conflict and changes nothing.
        r = await http.patch(f"/v1/groups/{group['id']}", json={"name": other["name"].lower()})
        assert r.status_code == 409 and r.json()["type"].endswith("/problems/group-name-taken")
        # The old name is free again.
        assert (await http.post("/v1/groups", json={"name": group["name"]})).status_code == 201

        # A PATCH that changes nothing makes no version and no event.
        same = await http.patch(f"/v1/groups/{group['id']}", json={"name": new_name, "priority": 3})
        assert same.json()["version"] == 2
        marker = await http.patch(f"/v1/groups/{group['id']}", json={"description": "marker"})
        assert marker.json()["version"] == 3
        assert (await http.patch("/v1/groups/grp_missing", json={"description": "x"})).status_code == 404

    updates = await broker.wait_for(
        "group.updated", lambda b: b["data"]["id"] == group["id"] and b["data"]["version"] == 3
    )
    versions = [
        u["body"]["data"]["version"]
        for u in broker.events("group.updated", lambda b: b["data"]["id"] == group["id"])
    ]
    assert versions == [2, 3]
    first = broker.events("group.updated", lambda b: b["data"]["id"] == group["id"])[0]["body"]["data"]
    assert first["name"] == new_name and first["discount_percent"] == 15 and first["priority"] == 3
    assert updates


async def test_metadata_keys_are_added_changed_and_removed_with_limits(system, broker: Broker):
    groups = system.service("groups")
    async with groups.client() as http:
        group = await create_group(http, metadata={"a": "1", "b": "2"})
        r = await http.patch(
            f"/v1/groups/{group['id']}", json={"metadata": {"a": "changed", "b": None, "c": True}}
        )
        assert r.status_code == 200 and r.json()["metadata"] == {"a": "changed", "c": True}
        assert (await http.get(f"/v1/groups/{group['id']}")).json()["metadata"] == {"a": "changed", "c": True}

        too_long_key = await http.patch(f"/v1/groups/{group['id']}", json={"metadata": {"k" * 41: "v"}})
        assert too_long_key.status_code == 422
        assert too_long_key.json()["errors"] == [
            {"field": f"metadata.{'k' * 41}", "message": "keys are 1 to 40 characters"}
        ]
        too_big = await http.patch(f"/v1/groups/{group['id']}", json={"metadata": {"a": "x" * 501}})
        assert too_big.status_code == 422 and too_big.json()["errors"][0]["field"] == "metadata.a"
        nested = await http.patch(f"/v1/groups/{group['id']}", json={"metadata": {"a": {"deep": 1}}})
        assert nested.status_code == 422 and nested.json()["errors"][0]["field"] == "metadata.a"
        too_many = await http.patch(
            f"/v1/groups/{group['id']}", json={"metadata": {f"k{i}": i for i in range(49)}}
        )
        assert too_many.status_code == 422
        assert too_many.json()["errors"] == [{"field": "metadata", "message": "at most 50 keys per group"}]
        # Rejected patches changed nothing.
        after = (await http.get(f"/v1/groups/{group['id']}")).json()
        assert after["metadata"] == {"a": "changed", "c": True} and after["version"] == 2

    [updated] = await broker.wait_for("group.updated", lambda b: b["data"]["id"] == group["id"])
    assert updated["body"]["data"]["metadata"] == {"a": "changed", "c": True}


async def test_list_searches_by_name_and_paginates_with_member_counts(system, broker: Broker, mongo):
    groups = system.service("groups")
    tag = uuid.uuid4().hex[:6]
    [customer] = await make_customers(system, broker, mongo, 1)
    async with groups.client() as http:
        made = [await create_group(http, name=f"Search-{tag} {i}") for i in range(5)]
        await create_group(http, name=f"Other {tag}")
        r = await http.post(f"/v1/groups/{made[2]['id']}/customers", json={"add": [customer]})
        assert r.status_code == 200

        seen, cursor = [], None
        while True:
            params = {"q": f"search-{tag.upper()}", "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await http.get("/v1/groups", params=params)).json()
            assert len(page["items"]) <= 2
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert [g["name"] for g in seen] == [f"Search-{tag} {i}" for i in range(5)]
        assert [g["member_count"] for g in seen] == [0, 0, 1, 0, 0]
        bad = await http.get("/v1/groups", params={"cursor": "not-a-cursor"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


async def test_payment_terms_and_credit_limits_are_stored_validated_and_announced(system, broker: Broker):
    """Issue 15: net days and a credit limit per currency (minor units) per group."""
    groups = system.service("groups")
    async with groups.client() as http:
        for body, field in [
            ({"payment_terms_days": -1}, "payment_terms_days"),
            ({"payment_terms_days": 366}, "payment_terms_days"),
            ({"credit_limits": [{"currency": "EUR", "amount": -1}]}, "credit_limits.0.amount"),
            ({"credit_limits": [{"currency": "eur", "amount": 1}]}, "credit_limits.0.currency"),
            ({"credit_limits": [{"currency": "EUR", "amount": 1.5}]}, "credit_limits.0.amount"),
            ({"credit_limits": [{"currency": "EUR"}]}, "credit_limits.0.amount"),
            (
                {"credit_limits": [{"currency": "EUR", "amount": 1}, {"currency": "EUR", "amount": 2}]},
                "credit_limits",
            ),
        ]:
            r = await http.post("/v1/groups", json={"name": unique_name(), **body})
            assert r.status_code == 422, (body, r.text)
            assert field in [e["field"] for e in r.json()["errors"]], (body, r.json())
        assert [
            g
            for g in (await http.get("/v1/groups", params={"limit": 200})).json()["items"]
            if g["credit_limits"]
        ] == []

        group = await create_group(
            http,
            payment_terms_days=30,
            credit_limits=[{"currency": "USD", "amount": 100_000}, {"currency": "EUR", "amount": 500_000}],
        )
        assert group["payment_terms_days"] == 30
        assert group["credit_limits"] == [
            {"currency": "EUR", "amount": 500_000},
            {"currency": "USD", "amount": 100_000},
        ]
        plain = await create_group(http)
        assert (plain["payment_terms_days"], plain["credit_limits"]) == (None, [])

        bad = await http.patch(
            f"/v1/groups/{group['id']}",
            json={"credit_limits": [{"currency": "EUR", "amount": 1}, {"currency": "EUR", "amount": 1}]},
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "credit_limits"
        r = await http.patch(
            f"/v1/groups/{group['id']}",
            json={"payment_terms_days": 60, "credit_limits": [{"currency": "EUR", "amount": 0}]},
        )
        assert r.status_code == 200
        assert (r.json()["payment_terms_days"], r.json()["credit_limits"], r.json()["version"]) == (
            60,
            [{"currency": "EUR", "amount": 0}],
            2,
        )
        same = await http.patch(f"/v1/groups/{group['id']}", json={"payment_terms_days": 60})
        assert same.json()["version"] == 2  # nothing changed: no new version
        cleared = await http.patch(
            f"/v1/groups/{group['id']}", json={"payment_terms_days": None, "credit_limits": None}
        )
        assert (cleared.json()["payment_terms_days"], cleared.json()["credit_limits"]) == (None, [])
        assert (await http.get(f"/v1/groups/{group['id']}")).json() == cleared.json()

    [created] = await broker.wait_for("group.created", lambda b: b["data"]["id"] == group["id"])
    assert created["body"]["data"]["payment_terms_days"] == 30
    assert created["body"]["data"]["credit_limits"] == group["credit_limits"]
    updated = await broker.wait_for("group.updated", lambda b: b["data"]["id"] == group["id"], count=2)
    assert [
        (e["body"]["data"]["payment_terms_days"], e["body"]["data"]["credit_limits"]) for e in updated
    ] == [
        (60, [{"currency": "EUR", "amount": 0}]),
        (None, []),
    ]
