"""Loaded by the services that a benchmark starts with PYTHONPATH=bench/hooks and
CRM_BENCH_DB_PROFILE=<file>: pymongo command monitoring that adds up, per command, collection
and filter shape, how many ran and how long they took (as the driver sees them, so including
the wait for the server), and writes the totals to <file> every 2 seconds. No effect otherwise."""

import os

_path = os.environ.get("CRM_BENCH_DB_PROFILE")
if _path:
    import json
    import threading

    from pymongo import monitoring

    _totals: dict[str, list[float]] = {}
    _pending: dict[tuple[int, int], str] = {}
    _lock = threading.Lock()

    def _shape(cmd: dict) -> str:
        name = next(iter(cmd))
        coll = cmd.get(name)
        spec = cmd.get("filter") or cmd.get("q") or cmd.get("query")
        if name in ("update", "delete") and cmd.get("updates" if name == "update" else "deletes"):
            spec = (cmd.get("updates") or cmd.get("deletes"))[0].get("q")
        if name == "aggregate" and cmd.get("pipeline"):
            spec = next((s["$match"] for s in cmd["pipeline"] if "$match" in s), None)
        keys = ",".join(sorted(spec)) if isinstance(spec, dict) else ""
        return f"{name} {coll} {{{keys}}}"

    class _Listener(monitoring.CommandListener):
        def started(self, event: monitoring.CommandStartedEvent) -> None:
            if event.command_name in ("ismaster", "hello", "ping", "endSessions"):
                return
            with _lock:
                _pending[(event.request_id, event.operation_id or 0)] = _shape(event.command)

        def _done(self, event: object, failed: bool) -> None:
            with _lock:
                key = _pending.pop((event.request_id, event.operation_id or 0), None)  # type: ignore[attr-defined]
                if key:
                    t = _totals.setdefault(key, [0, 0.0, 0])
                    t[0] += 1
                    t[1] += event.duration_micros / 1e6  # type: ignore[attr-defined]
                    t[2] += failed

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            self._done(event, False)

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            self._done(event, True)

    monitoring.register(_Listener())

    def _dump() -> None:
        while True:
            with _lock:
                data = {
                    k: {"count": v[0], "seconds": round(v[1], 3), "failed": v[2]} for k, v in _totals.items()
                }
            tmp = _path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(data, f)
            os.replace(tmp, _path)
            threading.Event().wait(2)

    threading.Thread(target=_dump, daemon=True, name="bench-db-profile").start()
