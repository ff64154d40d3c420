"""Shopify's named RFM groups (`rfm_group = 'champions'`), from the same RFM quintile scores as
GET /analytics/rfm (domain/analytics.py), over every active customer.

Each buyer has recency R, frequency F and monetary M scores 1 to 5; FM = ceil((F + M) / 2). The
group is read from R and FM (first row that fits):

| group | R | FM |
|---|---|---|
| champions | 5 | 4-5 |
| loyal | 3-4 | 4-5 |
| active | 4-5 | 3 |
| new | 5 | 1-2 |
| promising | 4 | 1-2 |
| needs_attention | 3 | 1-3 |
| previously_loyal | 1-2 | 5 |
| at_risk | 1-2 | 4 |
| almost_lost | 2 | 1-3 |
| dormant | 1 | 1-3 |
| prospects | customers with no order yet | |

A score is 1 + floor(5 * w / n), w the buyers with a strictly worse value, n the buyers; so a
value v scores at least s exactly when more than the k-th smallest value, k = ceil((s - 1) * n / 5).
Those thresholds (RfmBands) turn a group into plain range conditions on last_order_date,
number_of_orders and amount_spent, the same for the MongoDB filter and the predicate.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

GROUPS = (
    "champions",
    "loyal",
    "active",
    "new",
    "promising",
    "needs_attention",
    "previously_loyal",
    "at_risk",
    "almost_lost",
    "dormant",
    "prospects",
)

METRICS = ("last_order_date", "number_of_orders", "amount_spent")
"""Recency, frequency and monetary: for each, a higher value is better."""


def group_name(text: str) -> str | None:
    """'Needs attention', 'NEEDS_ATTENTION' and 'needs-attention' all name needs_attention."""
    name = "_".join(text.strip().lower().replace("-", " ").replace("_", " ").split())
    return name if name in GROUPS else None


def group_of(r: int, f: int, m: int) -> str:
    fm = (f + m + 1) // 2
    if r == 5 and fm >= 4:
        return "champions"
    if r >= 3 and fm >= 4:
        return "loyal"
    if r >= 4 and fm == 3:
        return "active"
    if r == 5:
        return "new"
    if r == 4:
        return "promising"
    if r == 3:
        return "needs_attention"
    if fm == 5:
        return "previously_loyal"
    if fm == 4:
        return "at_risk"
    return "almost_lost" if r == 2 else "dormant"


def cells(group: str) -> Iterator[tuple[int, int, int]]:
    """Every (R, F, M) score triple of a buyers' group."""
    for r in range(1, 6):
        for f in range(1, 6):
            for m in range(1, 6):
                if group_of(r, f, m) == group:
                    yield r, f, m


def thresholds(counts: Counter[Any]) -> tuple[Any, ...]:
    """For scores 2..5, the value a score needs to be above (None: no value reaches it)."""
    values = sorted(counts)
    n = sum(counts.values())
    out: list[Any] = []
    for s in range(2, 6):
        k = -(-(s - 1) * n // 5)  # ceil
        if n == 0 or k == 0:
            out.append(None if n == 0 else values[0])
            continue
        seen = 0
        for v in values:
            seen += counts[v]
            if seen >= k:
                out.append(v)
                break
    return tuple(out)


@dataclass(frozen=True)
class RfmBands:
    """Per metric, the thresholds of scores 2..5 (see thresholds())."""

    recency: tuple[Any, ...] = (None, None, None, None)
    frequency: tuple[Any, ...] = (None, None, None, None)
    monetary: tuple[Any, ...] = (None, None, None, None)

    @classmethod
    def of(cls, recency: Counter[Any], frequency: Counter[Any], monetary: Counter[Any]) -> "RfmBands":
        return cls(thresholds(recency), thresholds(frequency), thresholds(monetary))

    def bands(self, metric: str) -> tuple[Any, ...]:
        return {"last_order_date": self.recency, "number_of_orders": self.frequency}.get(
            metric, self.monetary
        )

    def score(self, metric: str, value: Any) -> int:
        return 1 + sum(1 for t in self.bands(metric) if t is not None and value > t)

    def range_of(self, metric: str, score: int) -> tuple[Any, Any] | None:
        """(above, at_most) bounds of the values scoring exactly `score`; None bounds are open;
        None if no value scores it."""
        b = self.bands(metric)
        above = None if score == 1 else b[score - 2]
        if score > 1 and above is None:
            return None
        at_most = b[score - 1] if score < 5 else None
        return above, at_most
