"""Issue 20, an OpenAPI document that tells the truth: analytics scoped by a `segment_id` or
`group_id` (query parameters) that names nothing answer 404, as /openapi.json documents."""

import pytest


@pytest.fixture
def segments(system):
    return system.service("segments")


async def test_a_scope_that_names_nothing_is_a_documented_404(segments):
    period = {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
    asked = [
        ("/v1/analytics", {"segment_id": "seg_none"}),
        ("/v1/analytics/rfm", {"segment_id": "seg_none"}),
        *(
            (f"/v1/analytics/{name}", {**period, scope: "none"})
            for name in ("period", "timing", "cohorts", "cohorts.csv", "geography", "preferences", "cac")
            for scope in ("segment_id", "group_id")
        ),
    ]
    async with segments.client() as http:
        doc = (await http.get("/openapi.json")).json()
        for path, params in asked:
            r = await http.get(path, params=params)
            assert r.status_code == 404, (path, params, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert "404" in doc["paths"][path]["get"]["responses"], path
