"""The typed client (crm_api_client, clients/python) is generated from docs/openapi.json: every
operation of the document is a function of it, except those whose request body is CSV, which
the generator cannot express (clients/python/README.md says how to call them)."""

import importlib
import json
from pathlib import Path

DOCUMENT = json.loads((Path(__file__).parents[3] / "docs" / "openapi.json").read_text())
CSV_BODIES = {
    op["operationId"]
    for item in DOCUMENT["paths"].values()
    for op in item.values()
    if isinstance(op, dict) and "text/csv" in op.get("requestBody", {}).get("content", {})
}


def test_every_operation_is_a_typed_function_of_the_client():
    missing = []
    for path, item in DOCUMENT["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "operationId" not in op or op["operationId"] in CSV_BODIES:
                continue
            name = f"crm_api_client.api.{op['tags'][0]}.{op['operationId']}"
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError:
                missing.append(f"{method.upper()} {path} ({name})")
                continue
            assert callable(module.asyncio) and callable(module.sync_detailed), name
    assert not missing, missing
