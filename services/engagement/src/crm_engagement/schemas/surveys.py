"""The HTTP request and response models of surveys."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Id = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SurveyIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "NPS after delivery",
                    "kind": "nps",
                    "question": "How likely are you to recommend Shop to a friend or colleague?",
                    "template_id": "tpl_survey",
                    "after_orders": True,
                }
            ]
        }
    )

    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["nps", "satisfaction"] = "nps"
    question: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        default=None, description="Default: the usual NPS or satisfaction question"
    )
    template_id: Id = Field(
        default="tpl_survey", description="The mail; it may use survey_url, survey_question"
    )
    after_orders: bool = Field(default=False, description="Also sent to the customer of each order placed")


class SurveyPatch(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"after_orders": False}]})

    after_orders: bool


class SurveyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "srv_1b3d5f7a9c0e2b4d6f8a",
                    "name": "NPS after delivery",
                    "kind": "nps",
                    "question": "How likely are you to recommend Shop to a friend or colleague?",
                    "template_id": "tpl_survey",
                    "after_orders": True,
                    "created_at": "2026-12-01T10:00:00Z",
                    "updated_at": "2026-12-01T10:00:00Z",
                }
            ]
        }
    )

    id: str
    name: str
    kind: str
    question: str
    template_id: str
    after_orders: bool
    created_at: datetime
    updated_at: datetime


class SurveysPage(BaseModel):
    items: list[SurveyOut]
    next_cursor: str | None


class SendIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"segment_id": "seg_4e6a8c0b2d1f4a3c5e7b9d1f3a5c7e9b"}]}
    )

    customer_ids: list[Id] | None = Field(default=None, min_length=1, max_length=10_000)
    segment_id: Id | None = None


class SendOut(BaseModel):
    queued: int = Field(
        description="Mails queued now; a customer sent this survey before is not sent it again"
    )
    not_found: int = Field(description="Customers this service does not know")


class Summary(BaseModel):
    responses: int
    promoters: int = Field(description="Scores 9-10")
    passives: int = Field(description="Scores 7-8")
    detractors: int = Field(description="Scores 0-6")
    nps: float | None = Field(description="% promoters - % detractors, one decimal; null without answers")
    average: float | None


class PeriodSummary(Summary):
    period: str = Field(description="2026-12-01 (day), 2026-W49 (ISO week) or 2026-12 (month), UTC")


class ResultsOut(Summary):
    survey_id: str
    kind: str
    segment_id: str | None
    periods: list[PeriodSummary] | None = None
