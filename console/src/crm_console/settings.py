"""The console's settings (environment variables). No default credential: the service token
comes from the environment, staff accounts from `python -m crm_console.admin`."""

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    http_host: str = Field(default="127.0.0.1", validation_alias="CRM_HTTP_HOST")
    http_port: int = Field(default=8000, validation_alias="CRM_HTTP_PORT")
    log_level: str = Field(default="INFO", validation_alias="CRM_LOG_LEVEL")
    mongodb_url: str = Field(validation_alias="MONGODB_URL")
    mongodb_database: str = Field(default="crm_console", validation_alias="CRM_CONSOLE_DATABASE")
    api_token: str | None = Field(
        default=None,
        validation_alias="CRM_CONSOLE_API_TOKEN",
        description="The bearer token the console sends to the services; default: the first of "
        "CRM_API_TOKENS. It never reaches a browser.",
    )
    api_tokens: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="CRM_API_TOKENS"
    )
    customers_url: str = Field(default="http://127.0.0.1:8001", validation_alias="CRM_CUSTOMERS_URL")
    groups_url: str = Field(default="http://127.0.0.1:8002", validation_alias="CRM_GROUPS_URL")
    ledger_url: str = Field(default="http://127.0.0.1:8003", validation_alias="CRM_LEDGER_URL")
    segments_url: str = Field(default="http://127.0.0.1:8004", validation_alias="CRM_SEGMENTS_URL")
    engagement_url: str = Field(default="http://127.0.0.1:8005", validation_alias="CRM_ENGAGEMENT_URL")
    backend_timeout_seconds: float = Field(default=10.0, gt=0, validation_alias="CRM_CONSOLE_BACKEND_TIMEOUT")
    session_hours: float = Field(
        default=12.0,
        gt=0,
        validation_alias="CRM_CONSOLE_SESSION_HOURS",
        description="A sign-in lasts this long",
    )
    lockout_failures: int = Field(
        default=5,
        ge=1,
        validation_alias="CRM_CONSOLE_LOCKOUT_FAILURES",
        description="Failed sign-ins to one account within the window that lock it",
    )
    lockout_minutes: float = Field(default=15.0, gt=0, validation_alias="CRM_CONSOLE_LOCKOUT_MINUTES")
    secure_cookies: Literal["auto", "always", "never"] = Field(
        default="auto",
        validation_alias="CRM_CONSOLE_SECURE_COOKIES",
        description="auto: Secure cookies when the request came over HTTPS (directly or as a "
        "proxy's X-Forwarded-Proto says)",
    )

    @model_validator(mode="before")
    @classmethod
    def _split_tokens(cls, values: dict[str, object]) -> dict[str, object]:
        raw = values.get("CRM_API_TOKENS")
        if isinstance(raw, str):
            values["CRM_API_TOKENS"] = [t.strip() for t in raw.split(",") if t.strip()]
        return values

    @property
    def service_token(self) -> str:
        token = self.api_token or (self.api_tokens[0] if self.api_tokens else None)
        if not token:
            raise ValueError(
                "set CRM_CONSOLE_API_TOKEN (or CRM_API_TOKENS): the token the console calls the services with"
            )
        return token

    @property
    def service_urls(self) -> dict[str, str]:
        return {
            "customers": self.customers_url,
            "groups": self.groups_url,
            "ledger": self.ledger_url,
            "segments": self.segments_url,
            "engagement": self.engagement_url,
        }
