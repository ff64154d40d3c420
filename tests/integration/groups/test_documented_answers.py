"""Issue 20, an OpenAPI document that tells the truth: a name taken, on creating or renaming a
group, is answered as the groups service's /openapi.json documents it."""

import uuid

import pytest


@pytest.fixture
def groups(system):
    return system.service("groups")


async def test_a_taken_name_is_a_documented_409(groups):
    async with groups.client() as http:
        doc = (await http.get("/openapi.json")).json()
        name = f"Wholesale {uuid.uuid4().hex[:8]}"
        assert (await http.post("/v1/groups", json={"name": name})).status_code == 201
        other = (await http.post("/v1/groups", json={"name": f"{name} B"})).json()
        for method, path, r in (
            ("post", "/v1/groups", await http.post("/v1/groups", json={"name": name.upper()})),
            (
                "patch",
                "/v1/groups/{group_id}",
                await http.patch(f"/v1/groups/{other['id']}", json={"name": name}),
            ),
        ):
            assert r.status_code == 409, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["type"].endswith("/group-name-taken")
            assert "group-name-taken" in doc["paths"][path][method]["responses"]["409"]["description"]
