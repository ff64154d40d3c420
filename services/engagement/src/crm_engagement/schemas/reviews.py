"""The HTTP request and response models of product reviews."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

Id = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReviewIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "product_id": "prod_8841",
                    "sku": "SHOE-RED-38",
                    "customer_id": "cus_7d3f9a2c5b8e4d1fa6c0b2d9e4f71a35",
                    "author_name": "Maria S.",
                    "rating": 5,
                    "title": "Comfortable from day one",
                    "body": "True to size and very comfortable; I walked all day in them.",
                    "external_id": "storefront-review-55120",
                }
            ]
        }
    )

    product_id: Id = Field(description="The storefront's product id")
    sku: Id | None = None
    customer_id: Id | None = Field(default=None, description="The customer (or `email`, or both)")
    email: EmailStr | None = None
    author_name: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="The name shown with the review"
    )
    rating: Annotated[int, Field(strict=True, ge=1, le=5)] = Field(description="1 to 5 stars")
    title: Annotated[str, Field(min_length=1, max_length=200)]
    body: Annotated[str, Field(max_length=10_000)] = ""
    external_id: Id | None = Field(
        default=None, description="The storefront's review id: submitted again, the first one is kept"
    )


class RejectIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Contains a phone number and a link to another shop."}]}
    )

    reason: Annotated[str, Field(min_length=1, max_length=1000)]


class ReviewReplyIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"body": "Thank you, Maria! Enjoy your new shoes.", "author": "Joana Ferreira"}]
        }
    )

    body: Annotated[str, Field(min_length=1, max_length=5000)]
    author: Annotated[str, Field(min_length=1, max_length=320)] | None = Field(
        default=None, description="Default: the X-CRM-Operator header"
    )


class ReviewReplyOut(BaseModel):
    body: str
    author: str | None
    at: datetime


class ReviewOut(BaseModel):
    id: str
    version: int
    product_id: str
    sku: str | None
    customer_id: str | None
    email: str | None
    author_name: str | None
    rating: int
    title: str
    body: str
    status: Literal["pending", "published", "rejected"]
    reject_reason: str | None
    moderated_by: str | None
    moderated_at: datetime | None
    published_at: datetime | None
    reply: ReviewReplyOut | None
    created_at: datetime
    updated_at: datetime
    erased: bool = Field(default=False, description="The author was erased: no name, title or text")


class ReviewsPage(BaseModel):
    items: list[ReviewOut]
    next_cursor: str | None
