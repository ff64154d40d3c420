"""The HTTP request and response models of the preference centre."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Topic = Literal["newsletter", "offers", "product_news"]
Channel = Literal["email", "sms"]


class PreferenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: Topic
    channel: Channel
    granted: bool


class PreferencesIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "preferences": [
                        {"topic": "newsletter", "channel": "email", "granted": True},
                        {"topic": "offers", "channel": "sms", "granted": False},
                    ],
                    "source": "storefront-account",
                }
            ]
        },
    )

    preferences: list[PreferenceIn] = Field(min_length=1, max_length=6)
    source: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        default="api", description="Where the customer stated it (storefront-account, phone...)"
    )


class PreferenceOut(BaseModel):
    topic: Topic
    channel: Channel
    granted: bool
    at: datetime | None = Field(description="When it was stated; null: never (not granted)")
    source: str | None


class PreferencesOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "cus_7d3f9a2c5b8e4d1fa6c0b2d9e4f71a35",
                    "preferences": [
                        {
                            "topic": "newsletter",
                            "channel": "email",
                            "granted": True,
                            "at": "2026-12-01T10:00:00Z",
                            "source": "storefront-account",
                        },
                        {
                            "topic": "offers",
                            "channel": "sms",
                            "granted": False,
                            "at": "2026-12-01T10:00:00Z",
                            "source": "storefront-account",
                        },
                    ],
                }
            ]
        }
    )

    customer_id: str
    preferences: list[PreferenceOut]


class PreferenceLinkOut(BaseModel):
    url: str
    expires_at: datetime
