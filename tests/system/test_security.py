"""Issue 7, security: every non-health endpoint of every service (enumerated from its own
/openapi.json) refuses a missing and a wrong bearer token with a 401 problem; health needs
none; a service process without tokens refuses to start unless told it is a development run;
plaintext passwords (and their Argon2 hashes) never show in responses, events or logs; the
compose setup carries no default credentials (tests/unit/deploy/test_compose.py checks the compose file)."""

import os
import re
import subprocess
import sys
import uuid

import httpx
import pytest

from harness import ROOT, Broker, ServiceProcess, eventually

SERVICES = ["customers", "groups", "ledger", "segments"]
HEALTH = {"/healthz", "/readyz"}
# Outside /v1 on purpose: calendar apps send no token, the secret in the URL is the credential.
PUBLIC = {"/calendar/agents/x_dummy_1/x_dummy_1.ics"}


@pytest.fixture(scope="module")
def services(system):
    return {name: system.service(name) for name in SERVICES}


def operations(spec: dict) -> list[tuple[str, str]]:
    """(method, concrete path) of every documented operation, path parameters filled in."""
    ops = []
    for path, item in spec["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x_dummy_1", path)
        ops += [
            (method.upper(), concrete)
            for method in item
            if method in ("get", "post", "put", "patch", "delete")
        ]
    return ops


@pytest.mark.parametrize("name", SERVICES)
async def test_every_non_health_endpoint_refuses_a_missing_or_wrong_token(services, name):
    service = services[name]
    async with (
        service.client(token=None) as anonymous,
        service.client(token="wrong-" + uuid.uuid4().hex) as wrong,
    ):
        spec = (await anonymous.get("/openapi.json")).json()
        ops = operations(spec)
        guarded = [(m, p) for m, p in ops if p not in HEALTH | PUBLIC]
        for _, path in ((m, p) for m, p in ops if p in PUBLIC):  # a made-up secret opens nothing
            assert (await anonymous.get(path)).status_code == 404
        assert len(guarded) >= 5 and all(p.startswith("/v1/") for _, p in guarded), guarded
        for client in (anonymous, wrong):
            for method, path in guarded:
                # No body, an empty one and a malformed one: the refusal must not depend on it
                # (FastAPI parses a body before it runs the auth dependency).
                for body in (None, b"{}", b"{"):
                    r = await client.request(
                        method,
                        path,
                        content=body,
                        headers={"content-type": "application/json"} if body else {},
                    )
                    assert r.status_code == 401, (method, path, body, r.status_code, r.text)
                    assert r.headers["content-type"] == "application/problem+json"
                    assert r.headers["www-authenticate"] == "Bearer"
                    assert r.json()["status"] == 401 and r.json()["type"].endswith("/unauthorized")
            # Nor does it tell which /v1 paths exist.
            assert (await client.get("/v1/no-such-thing")).status_code == 401
        # A token differing from a valid one only in case or by a suffix is still wrong.
        token = service.env["CRM_API_TOKENS"]
        for bad in (token.upper(), token + "x", token[:-1], f"Basic {token}"):
            r = await anonymous.get(
                guarded[0][1].replace("x_dummy_1", "x"), headers={"Authorization": f"Bearer {bad}"}
            )
            assert r.status_code == 401, bad
        # Health needs no token (/readyz may say 503 while the broker or database is away).
        assert (await anonymous.get("/healthz")).status_code == 200
        assert (await anonymous.get("/openapi.json")).status_code == 200
        assert (await anonymous.get("/readyz")).status_code in (200, 503)


def _start_without_tokens(name: str, system, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CRM_API_TOKENS", "CRM_DEV_NO_AUTH")}
    env |= {
        "MONGODB_URL": system.mongo_url,
        "RABBITMQ_URL": system.rabbit_url,
        "MONGODB_DATABASE": system.database(f"{name}_notoken"),
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", f"crm_{name}"], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("name", SERVICES)
def test_a_service_without_tokens_refuses_to_start(system, name):
    for tokens in ({}, {"CRM_API_TOKENS": ""}, {"CRM_API_TOKENS": " , "}):
        result = _start_without_tokens(name, system, **tokens)
        assert result.returncode != 0
        assert "CRM_API_TOKENS is empty" in result.stdout + result.stderr
        assert "CRM_DEV_NO_AUTH=1" in result.stdout + result.stderr  # says how to run without auth


async def test_only_an_explicit_development_run_goes_without_tokens(system):
    dev = ServiceProcess(
        "customers",
        {
            "MONGODB_URL": system.mongo_url,
            "MONGODB_DATABASE": system.database("customers_dev"),
            "RABBITMQ_URL": system.rabbit_url,
            "CRM_DEV_NO_AUTH": "1",
            "CRM_API_TOKENS": "",
        },
        system.logs / f"{system.tag}-customers-dev.log",
    )
    try:
        dev.start()
        async with dev.client(token=None) as anonymous:
            assert (await anonymous.get("/v1/customers")).status_code == 200
    finally:
        dev.stop()


# -- passwords ---------------------------------------------------------------------------------


class Recorder:
    """Every response body an httpx client received."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        self.bodies.append(
            f"{response.request.method} {response.request.url} {response.status_code} {response.text}"
        )


async def test_passwords_never_appear_in_responses_events_or_logs(services, system, broker: Broker, mongo):
    customers = services["customers"]
    recorder = Recorder()
    secrets = {
        name: f"pw-{name}-{uuid.uuid4().hex}" for name in ("created", "set", "changed", "guest", "wrong")
    }
    ids = []
    async with customers.client() as http:
        http.event_hooks["response"].append(recorder)
        email = f"secret.{uuid.uuid4().hex[:8]}@example.com"
        r = await http.post(
            "/v1/customers", json={"email": email, "password": secrets["created"], "first_name": "Sam"}
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        # Change it (with the current one), then a wrong current one, then a plain set.
        url = f"/v1/customers/{ids[0]}/password"
        assert (
            await http.post(url, json={"password": secrets["set"], "current_password": secrets["created"]})
        ).status_code == 200
        assert (
            await http.post(url, json={"password": secrets["changed"], "current_password": secrets["wrong"]})
        ).status_code == 403
        assert (await http.post(url, json={"password": secrets["changed"]})).status_code == 200
        # A guest given a password becomes registered.
        r = await http.post(
            "/v1/customers", json={"email": f"guest.{uuid.uuid4().hex[:8]}@example.com", "has_account": False}
        )
        ids.append(r.json()["id"])
        assert (
            await http.post(f"/v1/customers/{ids[1]}/password", json={"password": secrets["guest"]})
        ).json()["has_account"]
        # Refused inputs must not echo the password either.
        bad = [
            ("post", "/v1/customers", {"email": "not-an-email", "password": secrets["wrong"]}),
            ("post", url, {"password": secrets["wrong"][:5]}),
            ("post", url, {"password": secrets["wrong"] * 20}),
            ("patch", f"/v1/customers/{ids[0]}", {"password": secrets["wrong"]}),
            ("post", "/v1/customers", {"email": email, "password": secrets["wrong"]}),
        ]  # email taken
        for method, path, body in bad:
            assert (await http.request(method.upper(), path, json=body)).status_code in (409, 422)
        # Every way of reading the customers back.
        for cid in ids:
            for path in ("", "/export", "/history", "/orders", "/notes", "/addresses"):
                assert (await http.get(f"/v1/customers/{cid}{path}")).status_code == 200, path
        await http.get("/v1/customers", params={"q": email})
        await http.get("/v1/customers")

    hashes = [
        doc["hash"]
        async for doc in mongo[system.database("customers")]["credentials"].find({"_id": {"$in": ids}})
    ]
    assert len(hashes) == 2 and all(h.startswith("$argon2id$") for h in hashes)
    # Both customers' last state was published (so the events are there to scan).
    await eventually(lambda: _registered(broker, ids))

    events = [repr(m["body"]) for m in broker.received]
    logs = [p.read_text(errors="replace") for p in system.logs.glob(f"{system.tag}-*.log")]
    assert len(recorder.bodies) > 20 and events and logs
    for where, texts in (("responses", recorder.bodies), ("events", events), ("logs", logs)):
        blob = "\n".join(texts)
        for name, secret in secrets.items():
            assert secret not in blob and secret[:12] not in blob, f"{name} password in {where}"
        for h in hashes:
            assert h not in blob and h.split("$")[-1] not in blob, f"password hash in {where}"
        if where != "logs":
            assert "$argon2" not in blob, f"an argon2 hash in {where}"


async def _registered(broker: Broker, ids: list[str]) -> bool:
    got = {
        m["body"]["data"].get("id")
        for m in broker.received
        if m["routing_key"] in ("customer.registered", "customer.created")
    }
    return set(ids) <= got


# -- deployment --------------------------------------------------------------------------------


def test_no_credentials_are_baked_into_images_or_the_env_template():
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert value == "", f".env.example gives {key} a value"
    for dockerfile in ROOT.glob("services/*/Dockerfile"):
        text = dockerfile.read_text()
        for name in ("CRM_API_TOKENS", "CRM_DEV_NO_AUTH", "MONGODB_URL", "RABBITMQ_URL", "PASSWORD"):
            assert name not in text, f"{dockerfile} sets {name}"
