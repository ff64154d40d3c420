"""The Grafana dashboard in the repository asks only for metrics the services export, so no
panel stays empty because of a typo or a renamed metric."""

import json
import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from crm_servicekit import metrics

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "infra/observability/grafana/dashboards/crm.json"


def exported() -> set[str]:
    names = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                names.add(family.name)
                if family.type in ("counter", "histogram"):
                    names.update({family.name + "_total", family.name + "_bucket", family.name + "_count"})
    return names


def test_every_panel_queries_metrics_the_services_export():
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert panels
    known = exported()
    for panel in panels:
        for target in panel["targets"]:
            used = set(re.findall(r"\bcrm_[a-z_]+", target["expr"]))
            assert used and used <= known, (panel["title"], used - known)
