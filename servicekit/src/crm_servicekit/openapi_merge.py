"""One OpenAPI document for the whole HTTP API, merged from each service's own: written to
docs/openapi.json by `./crm docs` (tools/merged_openapi.py) and served live by the console's API
page."""

from typing import Any


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


def merge(documents: dict[str, dict[str, Any]], servers: dict[str, str]) -> dict[str, Any]:
    """One document from each service's own (`documents` by service name, `servers`: where
    each service answers): every `/v1` path with its service as server and tag, and the
    component schemas of all (a name two services use for different shapes gets the
    service's name in front). Raises ValueError when two services serve one path."""
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
        merged["tags"].append({"name": name, "description": f"the {name} service, {servers[name]}"})
        own = doc.get("components", {}).get("schemas", {})
        renames = {
            schema: f"{name}_{schema}"
            for schema, body in own.items()
            if schema in schemas and schemas[schema] != body
        }
        for schema, body in own.items():
            body = _rename_refs(body, renames)
            if schema in renames:  # generated clients name their classes by the title
                body["title"] = renames[schema]
            schemas[renames.get(schema, schema)] = body
        merged["components"]["securitySchemes"].update(doc.get("components", {}).get("securitySchemes", {}))
        for path, item in doc.get("paths", {}).items():
            if not path.startswith("/v1/"):
                continue  # health, readiness and metrics: every service has its own
            item = _rename_refs(item, renames)
            item["servers"] = [{"url": servers[name], "description": name}]
            for op in item.values():
                if isinstance(op, dict) and "operationId" in op:
                    op["tags"] = [name]
                    if op["operationId"] in operation_ids:
                        op["operationId"] = f"{name}_{op['operationId']}"
                    operation_ids.add(op["operationId"])
            if path in merged["paths"]:
                raise ValueError(f"{path} is served by two services")
            merged["paths"][path] = item
    return merged
