"""Issue 2, point 6: docker-compose.yml is valid (checked by compose-go, the loader `docker
compose` itself uses, built as infra/composecheck: no engine needed), every service has a
Dockerfile and a health check, and nothing in it lets anyone in by default."""

import json
import os
import subprocess

import pytest

from harness import ROOT

# ./crm test builds it (infra/local.sh composecheck_build) and says where.
COMPOSECHECK = os.environ.get("CRM_COMPOSECHECK", "")
pytestmark = pytest.mark.skipif(not os.access(COMPOSECHECK, os.X_OK), reason="run through ./crm test")

SECRETS = {
    "MONGO_ROOT_USER": "root-user-from-env",
    "MONGO_ROOT_PASSWORD": "mongo-password-from-env",
    "RABBITMQ_USER": "rabbit-user-from-env",
    "RABBITMQ_PASSWORD": "rabbit-password-from-env",
    "CRM_API_TOKENS": "token-from-the-environment-1",
    "GRAFANA_ADMIN_PASSWORD": "grafana-password-from-env",
}
CONTRACT_PORTS = {"customers": 8001, "groups": 8002, "ledger": 8003, "segments": 8004, "engagement": 8005}


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [COMPOSECHECK, "-f", str(ROOT / "docker-compose.yml"), "-profiles", "*"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        cwd="/",
    )


@pytest.fixture(scope="module")
def config() -> dict:
    result = compose_config(SECRETS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_all_services_with_dockerfiles_and_health_checks(config):
    services = config["services"]
    assert set(services) == {
        "mongodb",
        "rabbitmq",
        "mailpit",
        "prometheus",
        "grafana",
        "console",
        *CONTRACT_PORTS,
    }
    assert services["rabbitmq"]["image"].startswith("rabbitmq:4.")
    for name in CONTRACT_PORTS:  # a stop outlasts the service's own graceful shutdown (20 s + 15 s)
        assert services[name]["stop_grace_period"] == "45s"
        assert services[name]["healthcheck"]["start_period"]
    assert services["mongodb"]["image"].startswith("mongo:7")
    assert "management" in services["rabbitmq"]["image"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name, port in CONTRACT_PORTS.items():
        build = services[name]["build"]
        dockerfile = ROOT / build["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"
        assert f"crm_{name}" in dockerfile.read_text()
        assert services[name]["environment"]["CRM_HTTP_PORT"] == str(port)
        assert any(
            str(p.get("target", p) if isinstance(p, dict) else p).endswith(str(port))
            for p in services[name]["ports"]
        )
        assert {k: v["condition"] for k, v in services[name]["depends_on"].items()} == {
            "mongodb": "service_healthy",
            "rabbitmq": "service_healthy",
        }


def test_credentials_and_tokens_come_from_the_environment(config):
    services = config["services"]
    assert services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"] == SECRETS["RABBITMQ_PASSWORD"]
    assert services["mongodb"]["environment"]["MONGO_INITDB_ROOT_PASSWORD"] == SECRETS["MONGO_ROOT_PASSWORD"]
    for name in CONTRACT_PORTS:
        env = services[name]["environment"]
        assert env["CRM_API_TOKENS"] == SECRETS["CRM_API_TOKENS"]
        assert SECRETS["RABBITMQ_PASSWORD"] in env["RABBITMQ_URL"]
        assert "CRM_DEV_NO_AUTH" not in env


def test_a_file_the_compose_specification_refuses_is_refused(tmp_path):
    bad = tmp_path / "compose.yml"
    bad.write_text("services:\n  web:\n    image: nginx\n    restart_policy: sometimes\n")
    result = subprocess.run([COMPOSECHECK, "-f", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "restart_policy" in result.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_refuses_to_start_without_each_secret(missing):
    result = compose_config({k: v for k, v in SECRETS.items() if k != missing})
    assert result.returncode != 0
    assert missing in result.stderr


def test_no_default_login_in_the_file():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "guest" not in text
    assert ":-" not in text.replace("${CRM_LOG_LEVEL:-INFO}", "")  # no fallback values for secrets


def test_the_console_is_the_browsers_one_port_and_holds_no_default_password(config):
    console = config["services"]["console"]
    assert (ROOT / console["build"]["dockerfile"]).read_text().count("crm_console") >= 2
    assert any(
        str(p.get("published", p) if isinstance(p, dict) else p).startswith("8000") for p in console["ports"]
    )
    env = console["environment"]
    assert env["CRM_API_TOKENS"] == SECRETS["CRM_API_TOKENS"]  # calls the services; never sent on
    assert {env[f"CRM_{s.upper()}_URL"] for s in CONTRACT_PORTS} == {
        f"http://{s}:{p}" for s, p in CONTRACT_PORTS.items()
    }
    assert not any("PASSWORD" in k for k in env)  # the first admin's password is generated
