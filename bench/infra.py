"""What every benchmark brings up and measures with: a RabbitMQ node and a FerretDB of their own
(infra/local.sh on ports no test or `./crm up` uses), the services as real processes, their
resident memory, FerretDB's command counters, and results as a table and JSON."""

import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TOKEN = "bench-token-" + uuid.uuid4().hex

# Ports and node of their own: never the tests' (5673/27018) nor `./crm up`'s (5672/27017).
BENCH_ENV = {
    "CRM_DATA": str(ROOT / ".data" / "bench"),
    "RABBIT_PORT": os.environ.get("CRM_BENCH_RABBIT_PORT", "5675"),
    "RABBITMQ_DIST_PORT": os.environ.get("CRM_BENCH_RABBIT_DIST_PORT", "25675"),
    "RABBITMQ_NODENAME": os.environ.get("CRM_BENCH_RABBIT_NODE", "crm-bench@localhost"),
    "FERRETDB_ADDR": os.environ.get("CRM_BENCH_FERRETDB_ADDR", "127.0.0.1:27020"),
    "PG_PORT": os.environ.get("CRM_BENCH_PG_PORT", "5445"),
    "MAILPIT_SMTP_PORT": os.environ.get("CRM_BENCH_MAILPIT_SMTP_PORT", "1029"),
    "MAILPIT_HTTP_PORT": os.environ.get("CRM_BENCH_MAILPIT_HTTP_PORT", "8029"),
    # Go's profiler in FerretDB (infra/ferretdb -pprof): where its CPU goes (FerretdbProfile).
    "FERRETDB_PPROF_ADDR": os.environ.get("CRM_BENCH_FERRETDB_PPROF_ADDR", "127.0.0.1:6061"),
}
# Values that would point local.sh at another installation's secrets or servers.
_INHERITED = (
    "MONGODB_URL",
    "RABBITMQ_URL",
    "CRM_API_TOKENS",
    "CRM_API_TOKEN",
    "CRM_RABBIT_USER",
    "CRM_RABBIT_PASSWORD",
    "CRM_TEST_RABBITMQCTL",
    "CRM_PG_PASSWORD",
    "CRM_FERRETDB_POSTGRESQL_URL",
)


def _shell(script: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in _INHERITED} | BENCH_ENV
    out = subprocess.run(
        ["bash", "-c", f"set -e; source '{ROOT}/infra/local.sh'; {script}"],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return out.stdout


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": os.getloadavg(),
    }


class Infra:
    """RabbitMQ + FerretDB on PostgreSQL for benchmarks; stops at the end only what it started."""

    def __init__(self) -> None:
        self.started = False
        self.rabbit_url = ""
        self.mongo_url = ""
        self.pg_url = ""  # FerretDB's PostgreSQL: the services add their GIN indexes there
        self.vhost = f"bench-{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> "Infra":
        external = os.environ.get("CRM_BENCH_MONGODB_URL"), os.environ.get("CRM_BENCH_RABBITMQ_URL")
        if all(external):  # e.g. MongoDB 7 and RabbitMQ from docker compose: used as they are
            self.mongo_url, self.rabbit_url = external  # type: ignore[assignment]
            self.vhost = ""
            log("using CRM_BENCH_MONGODB_URL and CRM_BENCH_RABBITMQ_URL")
            return self
        running = _shell("load_secrets; rabbit_running && ferretdb_running && echo yes || true").strip()
        if running != "yes":
            log(
                "starting RabbitMQ and FerretDB for benchmarks (ports "
                f"{BENCH_ENV['RABBIT_PORT']}, {BENCH_ENV['FERRETDB_ADDR']})"
            )
            self.started = True
        urls = _shell(
            "infra_start >&2; echo $RABBITMQ_URL; echo $MONGODB_URL; echo $CRM_FERRETDB_POSTGRESQL_URL"
        ).split()
        self.rabbit_url, self.mongo_url, self.pg_url = urls[0], urls[1], urls[2]
        user = urlsplit(self.rabbit_url).username or ""
        # A vhost per run: no queue or message of an earlier (perhaps aborted) run is shared.
        _shell(
            f"rabbitmqctl -q add_vhost {self.vhost}; "
            f"rabbitmqctl -q set_permissions -p {self.vhost} {user} '.*' '.*' '.*'"
        )
        parts = urlsplit(self.rabbit_url)
        self.rabbit_url = urlunsplit(parts._replace(path="/" + quote(self.vhost, safe="")))
        return self

    def new_vhost(self) -> None:
        """Deletes this run's vhost and points rabbit_url at a fresh one: a benchmark that brings
        services up several times starts each time without queues or messages of the time before."""
        if not self.vhost:
            return
        user = urlsplit(self.rabbit_url).username or ""
        try:
            _shell(f"rabbitmqctl -q delete_vhost {self.vhost}")
        except subprocess.CalledProcessError:
            pass
        self.vhost = f"bench-{uuid.uuid4().hex[:8]}"
        _shell(
            f"rabbitmqctl -q add_vhost {self.vhost}; "
            f"rabbitmqctl -q set_permissions -p {self.vhost} {user} '.*' '.*' '.*'"
        )
        parts = urlsplit(self.rabbit_url)
        self.rabbit_url = urlunsplit(parts._replace(path="/" + quote(self.vhost, safe="")))

    def __exit__(self, *exc: object) -> None:
        if not self.vhost:
            return
        try:
            _shell(f"rabbitmqctl -q delete_vhost {self.vhost}")
        except subprocess.CalledProcessError:
            pass
        if self.started and not os.environ.get("CRM_BENCH_KEEP_INFRA"):
            log("stopping the benchmark RabbitMQ and FerretDB")
            _shell("infra_stop")

    def restart_ferretdb(self) -> None:
        """Stops and starts this benchmark's FerretDB (one that stopped answering)."""
        if self.vhost:
            _shell("load_secrets; ferretdb_stop; ferretdb_start >&2")

    def rabbitmqctl(self, *args: str) -> str:
        return _shell("rabbitmqctl -q " + " ".join(f"'{a}'" for a in args))

    def mongo(self) -> MongoClient:
        return MongoClient(self.mongo_url, tz_aware=True)

    def command_counts(self) -> dict[str, int]:
        """FerretDB counts every command it served (serverStatus.metrics.commands)."""
        with self.mongo() as c:
            cmds = c.admin.command("serverStatus").get("metrics", {}).get("commands", {})
        return {k: int(v.get("total", 0)) for k, v in cmds.items() if isinstance(v, dict)}

    def drop_databases(self, prefix: str) -> None:
        with self.mongo() as c:
            for name in c.list_database_names():
                if name.startswith(prefix):
                    c.drop_database(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Service:
    name: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    rss_peak: float = 0.0
    module: str = ""  # the service's package (crm_<module>) when `name` names one of its replicas

    @property
    def service(self) -> str:
        return self.module or self.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid

    def start(self) -> "Service":
        return self.launch().wait_ready()

    def launch(self) -> "Service":
        """Starts the process without waiting for it (wait_ready does)."""
        env = {**os.environ, **self.env, "CRM_HTTP_PORT": str(self.port)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"crm_{self.service}"],
            env=env,
            stdout=open(self.log_path, "ab"),
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self) -> "Service":
        assert self.proc
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready; see {self.log_path}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss(self) -> float:
        value = rss_mib(self.pid)
        self.rss_peak = max(self.rss_peak, value)
        return value

    def operations(self) -> dict[str, float]:
        """The service's own counts from /metrics: database commands and broker operations."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        out = {"db_commands": 0.0, "broker_operations": 0.0}
        for line in text.splitlines():
            for prefix, key in (
                ("crm_db_commands_total{", "db_commands"),
                ("crm_broker_operations_total{", "broker_operations"),
            ):
                if line.startswith(prefix):
                    out[key] += float(line.rsplit(" ", 1)[1])
        return out

    def client(self, timeout: float = 60) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=timeout
        )


class Services:
    """The services of one benchmark run, each on a database of its own (prefix `run`)."""

    def __init__(self, infra: Infra, run: str, **extra_env: str) -> None:
        self.infra = infra
        self.run = run
        self.logs = ROOT / ".data" / "bench" / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.extra = extra_env
        self.procs: dict[str, Service] = {}

    def database(self, name: str) -> str:
        return f"{self.run}_{name}"

    def _env(self, name: str, **env: str) -> dict[str, str]:
        return {
            "MONGODB_URL": self.infra.mongo_url,
            "MONGODB_DATABASE": self.database(name),
            "RABBITMQ_URL": self.infra.rabbit_url,
            "CRM_API_TOKENS": TOKEN,
            **({"CRM_FERRETDB_POSTGRESQL_URL": self.infra.pg_url} if self.infra.pg_url else {}),
            **self.extra,
            **env,
        }

    def start(self, *names: str, **env: str) -> None:
        for name in names:
            svc = Service(name, self._env(name, **env), self.logs / f"{self.run}-{name}.log")
            self.procs[name] = svc.start()

    def start_replicas(self, name: str, n: int, wait: bool = True, **env: str) -> list[Service]:
        """n processes of one service on its one database, each on an HTTP port of its own, with
        CRM_REPLICA_INDEX and CRM_REPLICAS as `./crm up --replicas n` sets them. The first is
        `self[name]`, the others `self[f"{name}.2"]`... With wait=False they are only launched
        (wait_ready on each)."""
        started = []
        for i in range(n):
            key = name if i == 0 else f"{name}.{i + 1}"
            svc = Service(
                key,
                self._env(name, CRM_REPLICA_INDEX=str(i), CRM_REPLICAS=str(n), **env),
                self.logs / f"{self.run}-{key}.log",
                module=name,
            )
            self.procs[key] = svc.launch()
            started.append(svc)
        if wait:
            for svc in started:
                svc.wait_ready()
        return started

    def __getitem__(self, name: str) -> Service:
        return self.procs[name]

    def stop(self) -> None:
        for svc in self.procs.values():
            svc.stop()

    @contextmanager
    def sampling_rss(self, every: float = 0.5) -> Iterator[dict[str, float]]:
        """Peak RSS (MiB) of each service while the block runs."""
        peaks = {n: 0.0 for n in self.procs}
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                for n, svc in self.procs.items():
                    try:
                        peaks[n] = max(peaks[n], svc.rss())
                    except (FileNotFoundError, ProcessLookupError):
                        pass
                stop.wait(every)

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        try:
            yield peaks
        finally:
            stop.set()
            t.join()


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
        return str(v)

    cells = [[fmt(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    lines = [
        title,
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=False)))
        for r in cells
    ]
    return "\n".join(lines)


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {"benchmark": name, "finished_at": stamp, "machine": machine(), **result}
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    shutil.copyfile(path, RESULTS / f"{name}-latest.json")
    return path


def run_id(name: str) -> str:
    return f"b{name[:3]}{uuid.uuid4().hex[:6]}"


def py_spy(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    """A sampling profile of a running service (py-spy from requirements-dev.txt)."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        log("py-spy not installed: no profile")
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "50",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# What FerretDB's CPU goes to, by the function whose subtree it is in (a sample may count in
# several: decoding happens inside a find).
FERRETDB_PARTS = {
    "garbage collection": "runtime.gcBgMarkWorker",
    "memory allocation": "runtime.mallocgc",
    "find": "handler.(*Handler).MsgFind",
    "update": "handler.(*Handler).MsgUpdate",
    "insert": "handler.(*Handler).MsgInsert",
    "delete": "handler.(*Handler).MsgDelete",
    "decoding stored JSON (sjson.Unmarshal)": "handler/sjson.Unmarshal",
    "PostgreSQL transactions (pgx BeginFunc)": "pgx/v5.BeginFunc",
    "system calls (network)": "syscall.Syscall",
}


class FerretdbProfile:
    """Go's CPU profile of the benchmark's FerretDB while a phase runs: consecutive 3 s profiles
    (the endpoint takes a fixed duration) until stopped, merged by `go tool pprof`."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.files: list[Path] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="ferretdb-pprof")

    def __enter__(self) -> "FerretdbProfile":
        self.out.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        url = f"http://{BENCH_ENV['FERRETDB_PPROF_ADDR']}/debug/pprof/profile?seconds=3"
        while not self._stop.is_set():
            try:
                response = httpx.get(url, timeout=10)
            except httpx.HTTPError:
                return  # no profiler (an external FerretDB or MongoDB): no profile
            if response.status_code != 200:
                return  # something else on that port: not a profile
            path = self.out / f"{len(self.files)}.pprof"
            path.write_bytes(response.content)
            self.files.append(path)

    def shares(self) -> dict[str, float]:
        """Share of FerretDB's CPU samples in each of FERRETDB_PARTS (empty without a profile)."""
        go = shutil.which("go") or "/usr/local/go/bin/go"
        if not self.files or not Path(go).exists():
            return {}
        text = subprocess.run(
            [go, "tool", "pprof", "-top", "-cum", "-nodecount=400", *map(str, self.files)],
            capture_output=True,
            text=True,
        ).stdout
        total = next((_seconds(m) for m in _PPROF_TOTAL.findall(text)), 0.0)
        found: dict[str, float] = {}
        for line in text.splitlines():
            cols = line.split()
            if len(cols) < 6 or not total:
                continue
            for part, function in FERRETDB_PARTS.items():
                if cols[5].endswith(function) and part not in found:
                    found[part] = round(_seconds(cols[3]) / total, 3)
        return dict(sorted(found.items(), key=lambda kv: -kv[1]))


_PPROF_TOTAL = re.compile(r"Total samples = ([0-9.]+[a-z]+)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "mins": 60.0, "hrs": 3600.0}


def _seconds(value: str) -> float:
    """pprof's durations: 850ms, 9.89s, 1.2mins."""
    number = value.rstrip("abcdefghijklmnopqrstuvwxyz")
    return float(number) * _UNITS.get(value[len(number) :], 0.0)


def _module(frame: str) -> str:
    where = frame.split(" (", 1)[1].rstrip(")") if " (" in frame else ""
    return where.rsplit(":", 1)[0].split("/site-packages/")[-1].split("/src/")[-1]


def top_frames(raw: Path, n: int = 12) -> dict[str, list[tuple[str, float]]]:
    """From py-spy's collapsed stacks: the share of samples in which each of our functions
    (crm_*) is on the stack, and the share of samples whose innermost frame is in each package."""
    ours: dict[str, int] = {}
    leaf: dict[str, int] = {}
    total = 0
    if not raw.exists():
        return {"ours": [], "leaf_packages": []}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        total += c
        frames = stack.split(";")
        for key in {
            f"{f.split(' (')[0]} ({_module(f)})"
            for f in frames
            if _module(f).startswith("crm_") and "__main__" not in f and "Service.run" not in f
        }:
            ours[key] = ours.get(key, 0) + c
        package = _module(frames[-1]).split("/")[0].removesuffix(".py") or "?"
        leaf[package] = leaf.get(package, 0) + c
    rank = lambda d: [(k, round(v / total, 3)) for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:n]]  # noqa: E731
    return (
        {"samples": total, "ours": rank(ours), "leaf_packages": rank(leaf)}
        if total
        else {"ours": [], "leaf_packages": []}
    )


def cpu_seconds(pid: int, tree: bool = False) -> float:
    """User + system CPU of a process; with `tree`, also of its children, living (PostgreSQL's
    backends, one per connection) and ended."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if tree:
        ticks += int(fields[13]) + int(fields[14])
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                child = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(child[1]) == pid:
                ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def infra_pids() -> dict[str, int]:
    data = Path(BENCH_ENV["CRM_DATA"])
    out = {}
    for name, f in (
        ("ferretdb", data / "ferretdb.pid"),
        ("rabbitmq", data / "rabbitmq" / "rabbit.pid"),
        ("postgresql", data / "postgres" / "postmaster.pid"),
    ):
        try:
            out[name] = int(f.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


class CpuMeter:
    """CPU seconds each process (services, FerretDB, PostgreSQL, RabbitMQ, this driver) used in a block."""

    def __init__(self, pids: dict[str, int], infra: "Infra | None" = None) -> None:
        self.pids = {**pids, **infra_pids(), "bench driver": os.getpid()}
        self.infra = infra
        self.commands: dict[str, int] = {}

    def __enter__(self) -> "CpuMeter":
        self.start = {n: cpu_seconds(p, tree=n == "postgresql") for n, p in self.pids.items()}
        self.commands0 = self.infra.command_counts() if self.infra else {}
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        self.used = {
            n: round(cpu_seconds(p, tree=n == "postgresql") - self.start[n], 1) for n, p in self.pids.items()
        }
        if self.infra:
            after = self.infra.command_counts()
            self.commands = {
                k: v - self.commands0.get(k, 0)
                for k, v in after.items()
                if v - self.commands0.get(k, 0) and k not in ("ismaster", "hello", "ping", "serverStatus")
            }

    def summary(self) -> dict[str, Any]:
        return {
            "wall_seconds": round(self.wall, 1),
            "cpu_seconds": self.used,
            "database_commands": self.commands,
        }


def bare_pipeline(
    infra: "Infra",
    database: str,
    events: int,
    orders: int,
    hops: int,
    inserts: float,
    updates: float,
    reads: float,
    timeout: float,
) -> dict[str, Any]:
    """Runs bench/bare_pipeline.py (the baselines) and returns its figures; on failure, the
    reason with NaN figures, so that the caller keeps its own."""
    cmd = [
        sys.executable,
        "-m",
        "bench.bare_pipeline",
        "--rabbit",
        infra.rabbit_url,
        "--mongo",
        infra.mongo_url,
        "--database",
        database,
        "--events",
        str(events),
        "--hops",
        str(hops),
        "--inserts",
        f"{inserts:.4f}",
        "--updates",
        f"{updates:.4f}",
        "--reads",
        f"{reads:.4f}",
        "--orders",
        str(orders),
    ]
    try:
        out = subprocess.run(
            cmd,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError) as e:
        log(f"baseline failed: {e}")
        return {
            "failed": str(e)[:300],
            "orders_per_second": float("nan"),
            "seconds": None,
            "hops": hops,
            "inserts_per_event": inserts,
            "updates_per_event": updates,
            "reads_per_event": reads,
        }
