"""Customer analytics over every customer or one segment: lifetime value, average order, repeat
rate, churn, new against returning, countries and RFM groups, with bar charts."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crm_console.backend import ApiError
from crm_console.domain.charts import BarChart, horizontal_bars
from crm_console.web import Reader, api, form_errors, page

router = APIRouter()

COUNTRIES_SHOWN = 10
RFM_SHOWN = 10


def _charts(figures: dict[str, Any]) -> dict[str, BarChart]:
    no_order = figures["customers"] - figures["buyers"]
    kinds = [
        ("New (1 order)", figures["new_customers"]),
        ("Returning (2+)", figures["returning_customers"]),
        ("No order yet", no_order),
    ]
    countries = figures["countries"][:COUNTRIES_SHOWN]
    return {
        "kinds": horizontal_bars("Customers by orders placed", [(k, v, str(v)) for k, v in kinds]),
        "countries": horizontal_bars(
            "Customers per country",
            [(c["country"] or "unknown", c["customers"], str(c["customers"])) for c in countries],
        ),
    }


@router.get("/analytics")
async def analytics(request: Request, who: Reader, segment_id: str = "", churn_days: str = "90") -> Response:
    a = api(request)
    listed = await a.get("segments", "/v1/segments", params={"limit": 500})
    values = {"segment_id": segment_id, "churn_days": churn_days}
    errors: dict[str, str] = {}
    days = int(churn_days) if churn_days.strip().isdigit() else None
    if days is None or not 1 <= days <= 36500:
        errors["churn_days"] = "A whole number of days from 1 to 36500"
        days = 90
    try:
        figures = await a.get(
            "segments", "/v1/analytics", params={"segment_id": segment_id, "churn_days": days}
        )
    except ApiError as e:
        if e.status != 422:
            raise
        errors.update(form_errors(e, {"churn_days", "segment_id"}))
        figures = await a.get("segments", "/v1/analytics", params={"segment_id": segment_id})
    chosen = next((s for s in listed["items"] if s["id"] == segment_id), None)
    return page(
        request,
        "segments/analytics.html",
        422 if errors else 200,
        figures=figures,
        charts=_charts(figures),
        rfm_groups=sorted(figures["rfm_groups"], key=lambda g: -g["customers"])[:RFM_SHOWN],
        segments=listed["items"],
        chosen=chosen,
        values=values,
        errors=errors,
    )
