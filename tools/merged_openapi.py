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

from crm_servicekit.openapi_merge import merge

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


def document() -> dict[str, Any]:
    documents = {name: doc for name in SERVICES if (doc := service_document(name)) is not None}
    return merge(documents, {name: f"http://127.0.0.1:{port}" for name, port in SERVICES.items()})


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(render())
