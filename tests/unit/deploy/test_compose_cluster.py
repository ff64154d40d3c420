"""Issue 19, compose: docker-compose.cluster.yml on top of docker-compose.yml is a valid project
(checked by infra/composecheck, compose-go, the loader of `docker compose`: no engine needed)
with three clustered RabbitMQ nodes, a three-member MongoDB replica set, replicas of every
service connecting through them, no default secret, and docker-compose.yml alone unchanged.

composecheck loads one file, so the two are loaded through a file that includes both as one
`path` list: compose-go merges them as `docker compose -f docker-compose.yml -f
docker-compose.cluster.yml` does. The assertions are on the resolved project it prints."""

import json
import os
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from harness import ROOT

COMPOSECHECK = os.environ.get("CRM_COMPOSECHECK", "")
pytestmark = pytest.mark.skipif(not os.access(COMPOSECHECK, os.X_OK), reason="run through ./crm test")

BASE_SECRETS = {
    "MONGO_ROOT_USER": "root-user-from-env",
    "MONGO_ROOT_PASSWORD": "mongo-password-from-env",
    "RABBITMQ_USER": "rabbit-user-from-env",
    "RABBITMQ_PASSWORD": "rabbit-password-from-env",
    "CRM_API_TOKENS": "token-from-the-environment-1",
    "GRAFANA_ADMIN_PASSWORD": "grafana-password-from-env",
}
CLUSTER_SECRETS = {
    "RABBITMQ_ERLANG_COOKIE": "erlang-cookie-from-the-environment",
    "MONGO_REPLICA_SET_KEY": "replicasetkeyfromtheenvironment0123456789",
}
SECRETS = {**BASE_SECRETS, **CLUSTER_SECRETS}
SERVICES = {"customers": 8001, "groups": 8002, "ledger": 8003, "segments": 8004, "engagement": 8005}
BROKERS = ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"]
MEMBERS = ["mongo-1", "mongo-2", "mongo-3"]
CLUSTER_ONLY = {*BROKERS, *MEMBERS, "mongo-init", "proxy"}
ONE_SHOT = {"mongo-init"}


def composecheck(file: Path, env: dict[str, str], profiles: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    args = [COMPOSECHECK, "-f", str(file)] + (["-profiles", profiles] if profiles else [])
    return subprocess.run(args, env={**clean, **env}, capture_output=True, text=True, cwd="/")


@pytest.fixture(scope="module")
def both_files(tmp_path_factory) -> Path:
    """`-f docker-compose.yml -f docker-compose.cluster.yml`, as one file composecheck loads."""
    wrapper = tmp_path_factory.mktemp("compose") / "compose.yml"
    files = [str(ROOT / "docker-compose.yml"), str(ROOT / "docker-compose.cluster.yml")]
    wrapper.write_text(json.dumps({"include": [{"path": files, "project_directory": str(ROOT)}]}))
    return wrapper


@pytest.fixture(scope="module")
def cluster(both_files) -> dict:
    result = composecheck(both_files, SECRETS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def services(cluster) -> dict:
    return cluster["services"]


def conf(path: Path) -> dict[str, str]:
    """A rabbitmq.conf (sysctl format: `key = value`, `#` comments) as a dict."""
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            key, value = (part.strip() for part in line.split("=", 1))
            pairs[key] = value
    return pairs


def bind_source(service: dict, target_prefix: str) -> Path:
    (source,) = [
        v["source"]
        for v in service["volumes"]
        if v["type"] == "bind" and v["target"].startswith(target_prefix)
    ]
    return Path(source)


def named_volume(service: dict, target: str) -> str:
    (source,) = [v["source"] for v in service["volumes"] if v["type"] == "volume" and v["target"] == target]
    return source


def arg(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_the_cluster_is_the_five_services_three_brokers_three_members_and_no_single_node(services):
    assert set(services) == {*SERVICES, *CLUSTER_ONLY, "console", "mailpit"}
    assert "mongodb" not in services and "rabbitmq" not in services  # the single nodes stay off
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no"
        else:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_the_observability_profile_still_goes_with_the_cluster(both_files):
    result = composecheck(both_files, SECRETS, profiles="observability")
    assert result.returncode == 0, result.stderr
    assert {"prometheus", "grafana", *CLUSTER_ONLY} <= set(json.loads(result.stdout)["services"])


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_refuses_to_start_without_each_secret(both_files, missing):
    result = composecheck(both_files, {k: v for k, v in SECRETS.items() if k != missing})
    assert result.returncode != 0
    assert missing in result.stderr  # the message names what to set


def test_no_default_login_or_fallback_value_in_the_cluster_files():
    for path in [ROOT / "docker-compose.cluster.yml", *(ROOT / "infra/compose").iterdir()]:
        text = path.read_text()
        assert "guest" not in text, path
        assert ":-" not in text, path  # `${VAR:-default}`: a secret with a fallback


def test_three_rabbitmq_nodes_that_name_each_other_and_share_one_cookie(services):
    nodenames, volumes, confs = set(), set(), set()
    for name in BROKERS:
        node = services[name]
        assert node["image"].startswith("rabbitmq:4.")  # the official image, quorum queues
        env = node["environment"]
        assert env["CRM_ERLANG_COOKIE"] == CLUSTER_SECRETS["RABBITMQ_ERLANG_COOKIE"]
        assert env["RABBITMQ_DEFAULT_PASS"] == BASE_SECRETS["RABBITMQ_PASSWORD"]
        # the cookie reaches the node's cookie file before the image's entrypoint starts it
        script = node["entrypoint"][2]
        assert "$CRM_ERLANG_COOKIE" in script and "/var/lib/rabbitmq/.erlang.cookie" in script
        assert "exec docker-entrypoint.sh" in script and node["command"] == ["rabbitmq-server"]
        assert env["RABBITMQ_NODENAME"] == f"rabbit@{node['hostname']}"
        nodenames.add(env["RABBITMQ_NODENAME"])
        volumes.add(named_volume(node, "/var/lib/rabbitmq"))
        confs.add(bind_source(node, "/etc/rabbitmq/conf.d/"))
        plugins = bind_source(node, "/etc/rabbitmq/enabled_plugins").read_text()
        # the image's management and Prometheus plugins, and the exchange CRM_PARTITIONS needs
        for plugin in ["rabbitmq_management", "rabbitmq_prometheus", "rabbitmq_consistent_hash_exchange"]:
            assert plugin in plugins
    assert len(volumes) == 3  # each node's data in its own volume
    (path,) = confs  # one configuration for the three
    settings = conf(path)
    assert settings["cluster_formation.peer_discovery_backend"] == "classic_config"
    listed = {v for k, v in settings.items() if k.startswith("cluster_formation.classic_config.nodes.")}
    assert listed == nodenames == {f"rabbit@{n}" for n in BROKERS}
    assert settings["default_queue_type"] == "quorum"
    # the first formation is in order: the other two join rabbitmq-1 once it is healthy
    for name in BROKERS[1:]:
        assert services[name]["depends_on"]["rabbitmq-1"]["condition"] == "service_healthy"


def test_three_mongo_members_of_one_replica_set_with_key_file_auth(services):
    set_names, volumes = set(), set()
    for name in MEMBERS:
        member = services[name]
        assert member["image"].startswith("mongo:7")
        command = member["command"]
        assert command[0] == "mongod" and "--bind_ip_all" in command
        set_names.add(arg(command, "--replSet"))
        key_file = arg(command, "--keyFile")
        assert member["environment"]["CRM_REPLICA_SET_KEY"] == CLUSTER_SECRETS["MONGO_REPLICA_SET_KEY"]
        assert f"> {key_file}" in member["entrypoint"][2]  # written from the environment first
        volumes.add(named_volume(member, "/data/db"))
        assert member["healthcheck"]["test"]
    assert set_names == {"rs0"} and len(volumes) == 3
    # only the member the set is initiated on creates the root user: the others must be empty
    assert (
        services["mongo-1"]["environment"]["MONGO_INITDB_ROOT_PASSWORD"]
        == BASE_SECRETS["MONGO_ROOT_PASSWORD"]
    )
    assert not any("MONGO_INITDB" in k for m in MEMBERS[1:] for k in services[m]["environment"])


def test_the_initiator_lists_the_three_members_and_waits_for_them(services):
    init = services["mongo-init"]
    env = init["environment"]
    assert env["MONGO_REPLICA_SET"] == "rs0"
    assert env["MONGO_MEMBERS"].split(",") == [f"{m}:27017" for m in MEMBERS]
    assert {k: v["condition"] for k, v in init["depends_on"].items()} == dict.fromkeys(
        MEMBERS, "service_healthy"
    )
    script = bind_source(init, "/mongo-init.js").read_text()
    assert init["command"][-1] == "/mongo-init.js" and init["command"][0] == "mongosh"
    # idempotent: initiates only a set that is not yet initiated
    assert "NotYetInitialized" in script and "replSetInitiate" in script
    assert "process.env.MONGO_MEMBERS" in script and "process.env.MONGO_REPLICA_SET" in script


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_has_replicas_and_connects_through_the_cluster(services, name):
    service = services[name]
    assert service["deploy"]["replicas"] >= 2
    assert "ports" not in service  # replicas cannot share a host port; the proxy publishes it
    assert {k: v["condition"] for k, v in service["depends_on"].items()} == {
        **dict.fromkeys(BROKERS, "service_healthy"),
        "mongo-init": "service_completed_successfully",
        "proxy": "service_healthy",
    }
    env = service["environment"]
    url = urlsplit(env["MONGODB_URL"])
    assert url.scheme == "mongodb"
    assert url.password == BASE_SECRETS["MONGO_ROOT_PASSWORD"]
    hosts = url.netloc.rsplit("@", 1)[1].split(",")
    assert hosts == services["mongo-init"]["environment"]["MONGO_MEMBERS"].split(",")
    query = parse_qs(url.query)
    assert query["replicaSet"] == ["rs0"] and query["authSource"] == ["admin"]
    broker = urlsplit(env["RABBITMQ_URL"])
    assert broker.hostname == "proxy" and broker.port == 5672
    assert broker.password == BASE_SECRETS["RABBITMQ_PASSWORD"]
    assert env["CRM_PARTITIONS"] == "8"
    assert env["CRM_API_TOKENS"] == BASE_SECRETS["CRM_API_TOKENS"] and "CRM_DEV_NO_AUTH" not in env
    assert env["CRM_HTTP_PORT"] == str(SERVICES[name])
    assert service["healthcheck"]["test"]  # docker-compose.yml's, kept


def haproxy(path: Path) -> dict[str, list[str]]:
    """haproxy.cfg: each section's header line -> its lines."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not raw[0].isspace():
            current = sections.setdefault(line.strip(), [])
        else:
            current.append(line.strip())
    return sections


def test_the_proxy_reaches_every_broker_node_and_publishes_the_contract_ports(services):
    proxy = services["proxy"]
    assert proxy["image"].startswith("haproxy:")
    assert {int(p["published"]) for p in proxy["ports"]} == set(SERVICES.values())
    sections = haproxy(bind_source(proxy, "/usr/local/etc/haproxy/"))
    brokers = [line.split()[2] for line in sections["backend rabbitmq"] if line.startswith("server ")]
    assert brokers == [f"{n}:5672" for n in BROKERS]
    assert "bind :5672" in sections["frontend amqp"]
    for name, port in SERVICES.items():
        assert f"bind :{port}" in sections[f"frontend {name} from http"]
        (template,) = [
            line for line in sections[f"backend {name} from http"] if line.startswith("server-template")
        ]
        assert f"{name}:{port}" in template.split() and "check" in template.split()
    assert any(line.startswith("option httpchk GET /readyz") for line in sections["defaults http"])


def test_the_console_reaches_the_services_through_the_proxy_and_mongo_through_the_set(services):
    console = services["console"]
    env = console["environment"]
    assert {env[f"CRM_{s.upper()}_URL"] for s in SERVICES} == {f"http://proxy:{p}" for p in SERVICES.values()}
    assert env["MONGODB_URL"] == services["customers"]["environment"]["MONGODB_URL"]
    assert set(console["depends_on"]) == {"mongo-init", "proxy", "customers"}  # no single node
    assert console.get("deploy", {}).get("replicas") in (None, 1)


def test_docker_compose_yml_alone_starts_no_cluster_service_and_needs_no_cluster_secret():
    alone = ROOT / "docker-compose.yml"
    result = composecheck(alone, BASE_SECRETS)  # no profile, no cluster secret: as before
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == {"mongodb", "rabbitmq", "mailpit", "console", *SERVICES}
    for name, port in SERVICES.items():
        assert "deploy" not in services[name] or services[name]["deploy"].get("replicas") in (None, 1)
        assert "@mongodb:27017/" in services[name]["environment"]["MONGODB_URL"]
        assert "@rabbitmq:5672/" in services[name]["environment"]["RABBITMQ_URL"]
        assert any(int(p["published"]) == port for p in services[name]["ports"])
    every_profile = composecheck(alone, BASE_SECRETS, profiles="*")
    assert every_profile.returncode == 0, every_profile.stderr
    assert not CLUSTER_ONLY & set(json.loads(every_profile.stdout)["services"])
