"""One OpenAPI document for the whole HTTP API (docs/openapi.json), merged from each service's
own: every `/v1` path with the service's address as its server, the service as its tag, and the
component schemas of all of them (a name two services use for different shapes gets the
service's name in front). Run by `./crm docs`; tests/unit/deploy/test_openapi_merged.py checks
that the committed document is current.

    python tools/merged_openapi.py docs/openapi.json
"""

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

# service -> its port in `./crm up` (the same as docs/contract.md's table)
SERVICES = {"customers": 8001, "groups": 8002, "ledger": 8003, "segments": 8004, "engagement": 8005}


def service_document(name: str) -> dict[str, Any] | None:
    """The service's own OpenAPI document, built without starting it (None if not installed)."""
    for key, value in {
        "MONGODB_URL": "mongodb://127.0.0.1:1/",
        "RABBITMQ_URL": "amqp://docs:docs@127.0.0.1:1/",
        "CRM_API_TOKENS": "documentation-only-token",
    }.items():
        os.environ.setdefault(key, value)
    try:
        module = importlib.import_module(f"crm_{name}.app")
    except ModuleNotFoundError:
        return None
    document: dict[str, Any] = module.service.app().openapi()
    return document


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {k: _rename_refs(v, renames) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.removeprefix("#/components/schemas/")
            out["$ref"] = "#/components/schemas/" + renames.get(name, name)
        return out
    if isinstance(node, list):
        return [_rename_refs(v, renames) for v in node]
    return node


def merge(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "CRM API",
            "version": "1.0.0",
            "description": (
                "Every service's HTTP API in one document. Each path names the service that serves "
                "it (its tag and its server). All of /v1 needs `Authorization: Bearer <token>`; "
                "errors are RFC 9457 problems. The contract: docs/contract.md."
            ),
        },
        "tags": [],
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {},
        },
    }
    schemas: dict[str, Any] = merged["components"]["schemas"]
    operation_ids: set[str] = set()
    for name, doc in documents.items():
        merged["tags"].append({"name": name, "description": f"the {name} service, port {SERVICES[name]}"})
        own = doc.get("components", {}).get("schemas", {})
        renames = {
            schema: f"{name}_{schema}"
            for schema, body in own.items()
            if schema in schemas and schemas[schema] != body
        }
        for schema, body in own.items():
            schemas[renames.get(schema, schema)] = _rename_refs(body, renames)
        merged["components"]["securitySchemes"].update(doc.get("components", {}).get("securitySchemes", {}))
        for path, item in doc.get("paths", {}).items():
            if not path.startswith("/v1/"):
                continue  # health, readiness and metrics: every service has its own
            item = _rename_refs(item, renames)
            item["servers"] = [{"url": f"http://127.0.0.1:{SERVICES[name]}", "description": name}]
            for op in item.values():
                if isinstance(op, dict) and "operationId" in op:
                    op["tags"] = [name]
                    if op["operationId"] in operation_ids:
                        op["operationId"] = f"{name}_{op['operationId']}"
                    operation_ids.add(op["operationId"])
            if path in merged["paths"]:
                raise SystemExit(f"{path} is served by two services")
            merged["paths"][path] = item
    return merged


def document() -> dict[str, Any]:
    documents = {name: doc for name in SERVICES if (doc := service_document(name)) is not None}
    return merge(documents)


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(render())
