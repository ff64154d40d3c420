"""HTTP API of surveys: `router` (under /v1, staff) creates, sends and reports them; `public`
is the answer page a customer reaches from the survey mail, proven by the signed, expiring
token in its path (no JavaScript; a GET never records an answer, a POST does)."""

import html
import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from crm_contracts.types import UtcDatetime
from crm_engagement.api.mail import _after, _html, _page
from crm_engagement.context import Ctx
from crm_engagement.domain.surveys import SurveyDoc
from crm_engagement.schemas.surveys import (
    ResultsOut,
    SendIn,
    SendOut,
    SurveyIn,
    SurveyOut,
    SurveyPatch,
    SurveysPage,
)
from crm_servicekit.errors import Conflict, Forbidden, NotFound
from crm_servicekit.pagination import Cursor, Limit

router = APIRouter(tags=["surveys"])
public = APIRouter(tags=["survey answers"])

MAX_COMMENT = 2000


def _survey(doc: SurveyDoc) -> dict[str, Any]:
    return {"id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}


@router.post(
    "/surveys",
    status_code=201,
    response_model=SurveyOut,
    responses={404: {"description": "template (`template_id`) not found"}},
)
async def create_survey(body: SurveyIn, ctx: Ctx) -> dict[str, Any]:
    doc = await ctx.surveys.create(body.name, body.kind, body.question, body.template_id, body.after_orders)
    return _survey(doc)


@router.get("/surveys", response_model=SurveysPage)
async def list_surveys(ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    return _page(await ctx.surveys.page(_after(cursor), limit), limit, _survey)


@router.get("/surveys/{survey_id}", response_model=SurveyOut)
async def get_survey(survey_id: str, ctx: Ctx) -> dict[str, Any]:
    return _survey(await ctx.surveys.get(survey_id))


@router.patch("/surveys/{survey_id}", response_model=SurveyOut)
async def change_survey(survey_id: str, body: SurveyPatch, ctx: Ctx) -> dict[str, Any]:
    """Switches sending after each order on or off."""
    return _survey(await ctx.surveys.set_after_orders(survey_id, body.after_orders))


@router.post(
    "/surveys/{survey_id}/send",
    response_model=SendOut,
    responses={404: {"description": "survey, or its template, not found"}},
)
async def send_survey(survey_id: str, body: SendIn, ctx: Ctx) -> dict[str, Any]:
    """Queues the survey mail to the customers named or to the segment's members now; once per
    survey and customer, however often it is sent."""
    sent = await ctx.surveys.send(survey_id, body.customer_ids, body.segment_id)
    return {"queued": sent.queued, "not_found": sent.not_found}


@router.get("/surveys/{survey_id}/results", response_model=ResultsOut, response_model_exclude_none=False)
async def survey_results(
    survey_id: str,
    ctx: Ctx,
    period: str | None = Query(
        None, pattern="^(day|week|month)$", description="Also per day, ISO week or month"
    ),
    segment_id: str | None = Query(
        None, min_length=1, max_length=200, description="Answers of its members now"
    ),
    since: UtcDatetime | None = Query(None, description="Answers from (inclusive, RFC 3339 with offset)"),
    until: UtcDatetime | None = Query(None, description="Answers before (exclusive, RFC 3339 with offset)"),
) -> dict[str, Any]:
    """NPS = % promoters (9-10) - % detractors (0-6) of the answers, and the average score."""
    return await ctx.surveys.results(
        survey_id,
        period=period,  # type: ignore[arg-type]
        segment_id=segment_id,
        since=since,
        until=until,
    )


# --- the answer page (public) -------------------------------------------------------------


def _form(question: str, picked: int | None, error: str | None = None) -> str:
    options = "".join(
        f'<label style="margin-right:.6em"><input type="radio" name="score" value="{n}"'
        f"{' checked' if picked == n else ''} required> {n}</label>"
        for n in range(11)
    )
    warn = f'<p style="color:#b00">{html.escape(error)}</p>' if error else ""
    return (
        f'{warn}<p>{html.escape(question)}</p><form method="post"><p>{options}</p>'
        "<p>0 = not at all, 10 = extremely</p>"
        f'<p><label>Anything to add? (optional)<br><textarea name="comment" rows="4" cols="40" maxlength="{MAX_COMMENT}">'
        '</textarea></label></p><button type="submit">Send</button></form>'
    )


_INVALID = ("Link not valid", "<p>This survey link is not valid.</p>", 404)
_EXPIRED = ("Link expired", "<p>This survey link has expired. Thank you all the same.</p>", 403)
_ANSWERED = ("Answered already", "<p>You have answered this survey already. Thank you!</p>", 409)


@public.get("/survey/{token}", response_class=HTMLResponse, include_in_schema=False)
async def survey_page(token: str, ctx: Ctx, score: str | None = None) -> HTMLResponse:
    """The question, with the score picked in the mail preselected; a GET records nothing
    (link scanners follow links)."""
    try:
        survey, _, given = await ctx.surveys.open(token)
    except NotFound:
        return _html(*_INVALID)
    except Forbidden:
        return _html(*_EXPIRED)
    if given is not None:
        return _html(*_ANSWERED)
    return _html(survey["name"], _form(survey["question"], _score(score)))


def _score(raw: Any) -> int | None:
    """A score of 0-10 from a form field or a JSON number; None otherwise."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    return raw if isinstance(raw, int) and 0 <= raw <= 10 else None


async def _fields(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}


@public.post("/survey/{token}", response_class=HTMLResponse, include_in_schema=False)
async def answer_survey(token: str, request: Request, ctx: Ctx) -> HTMLResponse:
    """Records the answer: form fields (or JSON) `score` (0-10) and `comment` (optional). The
    signed token is the credential (no cookie, so no cross-site request can use one)."""
    fields = await _fields(request)
    score, comment = fields.get("score"), fields.get("comment")
    try:
        survey, _, _ = await ctx.surveys.open(token)
    except NotFound:
        return _html(*_INVALID)
    except Forbidden:
        return _html(*_EXPIRED)
    value = _score(score)
    if value is None:
        return _html(survey["name"], _form(survey["question"], None, "Pick a score from 0 to 10."), 422)
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        error = f"Comments up to {MAX_COMMENT} characters."
        return _html(survey["name"], _form(survey["question"], value, error), 422)
    try:
        await ctx.surveys.answer(token, value, (comment or "").strip() or None)
    except Conflict:
        return _html(*_ANSWERED)
    return _html("Thank you", "<p>Thank you for your answer!</p>")
