"""constraints.txt (./crm lock) pins every dependency every package and the test tools ask for,
so that ./crm install, CI and the images install one known set; a dependency added without
locking again fails here."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_every_dependency_is_pinned():
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            package, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pinned[package.lower().replace("_", "-")] = version
    wanted = set()
    for project in [ROOT / "contracts", ROOT / "servicekit", *sorted((ROOT / "services").iterdir())]:
        deps = tomllib.loads((project / "pyproject.toml").read_text())["project"].get("dependencies", [])
        wanted |= {name(d) for d in deps if not name(d).startswith("crm-")}
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            wanted.add(name(line))
    assert wanted - set(pinned) == set(), "run ./crm lock"
    dockerfiles = sorted((ROOT / "services").glob("*/Dockerfile"))
    assert dockerfiles and all("-c /app/constraints.txt" in d.read_text() for d in dockerfiles)
