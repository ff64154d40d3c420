"""Settings from the environment. Nothing here has a default credential or token."""

from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Common settings; each service subclasses it to set its name, port and own options."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    service_name: str = Field(default="service", validation_alias="CRM_SERVICE_NAME")
    mongodb_url: str = Field(validation_alias="MONGODB_URL")
    mongodb_database: str | None = Field(
        default=None, validation_alias="MONGODB_DATABASE", description="default: crm_<service>"
    )
    ferretdb_postgresql_url: str | None = Field(
        default=None,
        validation_alias="CRM_FERRETDB_POSTGRESQL_URL",
        description="FerretDB's own PostgreSQL, when the database is FerretDB 1.24 on PostgreSQL: "
        "the services add there the GIN indexes that FerretDB needs (crm_servicekit.pgindexes)",
    )
    rabbitmq_url: str = Field(validation_alias="RABBITMQ_URL")
    api_tokens: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="CRM_API_TOKENS",
        description="Comma-separated bearer tokens accepted by the HTTP API",
    )
    dev_no_auth: bool = Field(
        default=False,
        validation_alias="CRM_DEV_NO_AUTH",
        description="Development run only: start with no tokens, which disables HTTP auth",
    )
    http_host: str = Field(default="127.0.0.1", validation_alias="CRM_HTTP_HOST")
    http_port: int = Field(default=8000, validation_alias="CRM_HTTP_PORT")
    http_reuse_port: bool = Field(
        default=False,
        validation_alias="CRM_HTTP_REUSE_PORT",
        description="Bind with SO_REUSEPORT, so that replicas of a service share its port and the "
        "kernel spreads connections over them (./crm up --replicas N)",
    )
    prefetch_count: int = Field(
        default=32,
        ge=1,
        validation_alias="CRM_PREFETCH",
        description="Live events handled at once (from <service>.events, or the intake)",
    )
    intake_prefetch_count: int = Field(
        default=256,
        ge=1,
        validation_alias="CRM_INTAKE_PREFETCH",
        description="Unacknowledged messages taken at once from <service>.events and the intake: "
        "bulk events among them are moved to the bulk lane (and, partitioned, live ones to their "
        "partition) without waiting for the CRM_PREFETCH live events being handled",
    )
    bulk_prefetch_count: int = Field(
        default=32,
        ge=1,
        validation_alias="CRM_BULK_PREFETCH",
        description="Bulk-lane messages handled at once, beside the live queue's CRM_PREFETCH",
    )
    partitions: int = Field(
        default=0,
        ge=0,
        le=256,
        validation_alias="CRM_PARTITIONS",
        description="Live events spread over this many partition queues per service, by "
        "customer, each handled by one replica at a time and in order (docs/scaling.md); 0: "
        "one queue. The same value for every replica of a service",
    )
    partition_prefetch_count: int = Field(
        default=8,
        ge=1,
        validation_alias="CRM_PARTITION_PREFETCH",
        description="Messages of one partition handled at once (one customer's one at a time)",
    )
    replica_index: int | None = Field(
        default=None,
        ge=0,
        validation_alias="CRM_REPLICA_INDEX",
        description="This process's place among its service's replicas (0..CRM_REPLICAS-1): "
        "which partitions it takes first; unset: all alike",
    )
    replicas: int = Field(default=1, ge=1, validation_alias="CRM_REPLICAS")
    partition_standby_seconds: float = Field(
        default=5.0,
        ge=0,
        validation_alias="CRM_PARTITION_STANDBY_SECONDS",
        description="How long after its start a replica also subscribes to the partitions that "
        "are not its own, as a standby (on RabbitMQ 3.x the first subscriber is the active one)",
    )
    delivery_limit: int = Field(
        default=50,
        ge=2,
        validation_alias="CRM_DELIVERY_LIMIT",
        description="Deliveries of one message before it is dead-lettered",
    )
    max_message_bytes: int = Field(default=1_000_000, validation_alias="CRM_MAX_MESSAGE_BYTES")
    outbox_poll_seconds: float = Field(default=1.0, gt=0, validation_alias="CRM_OUTBOX_POLL_SECONDS")
    outbox_orphan_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias="CRM_OUTBOX_ORPHAN_SECONDS",
        description="How long a record another replica wrote may wait in the outbox before this "
        "replica's relay publishes it too (its process died or is stuck)",
    )
    gauges_seconds: float = Field(
        default=15.0,
        gt=0,
        validation_alias="CRM_GAUGES_SECONDS",
        description="How often the outbox backlog and queue depths reported at /metrics are sampled",
    )
    outbox_relay: bool = Field(
        default=True,
        validation_alias="CRM_OUTBOX_RELAY",
        description="Run the outbox relay in this process (off: events wait in the outbox)",
    )
    retention_days: float = Field(
        default=30,
        ge=0,
        validation_alias="CRM_RETENTION_DAYS",
        description="Processed event ids and published change records older than this are "
        "pruned (FerretDB has no TTL indexes); 0 keeps them forever",
    )
    log_level: str = Field(default="INFO", validation_alias="CRM_LOG_LEVEL")

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: object) -> object:
        if isinstance(value, str):
            return [t.strip() for t in value.split(",") if t.strip()]
        return value

    @model_validator(mode="after")
    def _tokens_required(self) -> "ServiceSettings":
        if not self.api_tokens and not self.dev_no_auth:
            raise ValueError(
                "CRM_API_TOKENS is empty: set at least one token "
                "(or CRM_DEV_NO_AUTH=1 for a development run without auth)"
            )
        short = [t for t in self.api_tokens if len(t) < 16]
        if short:
            raise ValueError("every token in CRM_API_TOKENS must have at least 16 characters")
        return self

    @property
    def database_name(self) -> str:
        return self.mongodb_database or f"crm_{self.service_name}"
