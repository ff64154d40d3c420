"""docs/openapi.json, the whole HTTP API in one document, is current, every /v1 path of every
service is in it once with its service's server and tag, and every reference resolves."""

import importlib.util
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location("merged_openapi", ROOT / "tools/merged_openapi.py")
assert spec and spec.loader
merged_openapi = importlib.util.module_from_spec(spec)
spec.loader.exec_module(merged_openapi)


def test_the_committed_document_is_current():
    committed = (ROOT / "docs/openapi.json").read_text()
    assert committed == merged_openapi.render(), "docs/openapi.json is stale: run ./crm docs"


def test_every_service_path_is_there_once_with_its_server_and_tag():
    doc = json.loads((ROOT / "docs/openapi.json").read_text())
    for name, port in merged_openapi.SERVICES.items():
        own = merged_openapi.service_document(name)
        if own is None:
            continue
        for path in (p for p in own["paths"] if p.startswith("/v1/")):
            item = doc["paths"][path]
            assert item["servers"] == [{"url": f"http://127.0.0.1:{port}", "description": name}]
            assert all(
                op["tags"] == [name] for op in item.values() if isinstance(op, dict) and "operationId" in op
            )
    ids = [
        op["operationId"]
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(ids) == len(set(ids))
    text = json.dumps(doc)
    for ref in set(re.findall(r'"#/components/schemas/([^"]+)"', text)):
        assert ref in doc["components"]["schemas"], ref
