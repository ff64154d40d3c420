"""Issue 19: under `./crm up` a service process that dies is started again by itself
(infra/supervise.sh), and stopping the supervisor stops the process with it."""

import os
import signal
import subprocess
import time
from pathlib import Path

from harness import ROOT

CHILD = (
    "import os, pathlib, sys, time; pathlib.Path(sys.argv[1]).write_text(str(os.getpid())); time.sleep(60)"
)


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_process_is_started_again_and_stops_with_its_supervisor(tmp_path: Path):
    pidfile, log = tmp_path / "pid", tmp_path / "demo.log"
    loop = subprocess.Popen(
        [
            "bash",
            "-c",
            f'source "{ROOT}/infra/supervise.sh"; supervise demo "{log}" python3 -c "$0" "{pidfile}"',
            CHILD,
        ],
        stderr=subprocess.PIPE,
    )
    try:
        first = int(wait_for(lambda: pidfile.exists() and pidfile.read_text()))
        os.kill(first, signal.SIGKILL)  # a crash, as the fault tests do
        second = int(wait_for(lambda: pidfile.read_text() != str(first) and pidfile.read_text()))
        assert second != first and alive(second)
        assert "demo exited (status 137); started again in 1 s" in log.read_text()

        loop.send_signal(signal.SIGTERM)
        assert loop.wait(10) == 0
        wait_for(lambda: not alive(second), timeout=5)
    finally:
        loop.kill()
