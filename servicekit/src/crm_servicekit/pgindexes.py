"""FerretDB 1.24 on PostgreSQL: the expression indexes that let its equality filters use an index.

Workaround for FerretDB issue 4646. FerretDB pushes a top-level equality down to PostgreSQL as
`_jsonb -> 'field' @> value`. The btree indexes it makes for createIndexes cannot serve `@>`, so
the query still scans the whole table. A GIN index with `jsonb_path_ops` on the same expression
does serve it: `explain` then shows a Bitmap Index Scan.

This module adds one such index for `_id` and for the leading field of every index a store
declares. It is the only place in the project that talks to PostgreSQL directly, and it does so
only when CRM_FERRETDB_POSTGRESQL_URL is set. It is idempotent, and it is safe when replicas
start at the same time. On MongoDB it does nothing: there the declared indexes serve the queries.

FerretDB keeps each database as a PostgreSQL schema and each collection as a table, which it
records in `<db>._ferretdb_database_metadata` (`_jsonb->>'_id'` = collection, `->>'table'`).
FerretDB never lists these indexes; dropping the collection drops them with its table.
"""

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors, sql
from pymongo import IndexModel

log = logging.getLogger(__name__)


def served_fields(indexes: Sequence[IndexModel]) -> list[str]:
    """`_id` and the leading field of each index: the fields looked up by equality. Dotted
    paths are skipped, because FerretDB 1.x never pushes them down."""
    fields = ["_id"]
    for index in indexes:
        first = next(iter(index.document["key"]))
        if "." not in first and first not in fields:
            fields.append(first)
    return fields


def index_name(table: str, field: str) -> str:
    # PostgreSQL names are unique per schema and at most 63 bytes long.
    digest = hashlib.sha1(f"{table}\0{field}".encode()).hexdigest()[:10]
    return f"crm_gin_{table[:40]}_{digest}"


async def _table(conn: psycopg.AsyncConnection, database: str, collection: str) -> str | None:
    query = sql.SQL("SELECT _jsonb->>'table' FROM {}.{} WHERE _jsonb->>'_id' = %s").format(
        sql.Identifier(database), sql.Identifier("_ferretdb_database_metadata")
    )
    try:
        row = await (await conn.execute(query, (collection,))).fetchone()
    except errors.UndefinedTable:
        return None
    return row[0] if row else None


def libpq_url(url: str) -> str:
    """The URL without FerretDB's pool settings (`pool_max_conns`...), which libpq refuses."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if not k.startswith("pool_")]
    return urlunsplit(parts._replace(query=urlencode(query)))


async def ensure_gin_indexes(
    postgresql_url: str, database: str, spec: Mapping[str, Iterable[IndexModel]]
) -> int:
    """Create the missing GIN indexes for the collections in `spec` (which must exist by now).
    Returns how many statements ran."""
    ran = 0
    async with await psycopg.AsyncConnection.connect(libpq_url(postgresql_url), autocommit=True) as conn:
        for collection, indexes in spec.items():
            table = await _table(conn, database, collection)
            if table is None:
                log.warning("no FerretDB table for %s.%s; GIN indexes not created", database, collection)
                continue
            for field in served_fields(list(indexes)):
                statement = sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {} ON {}.{} USING gin ((_jsonb -> {}) jsonb_path_ops)"
                ).format(
                    sql.Identifier(index_name(table, field)),
                    sql.Identifier(database),
                    sql.Identifier(table),
                    sql.Literal(field),
                )
                try:
                    await conn.execute(statement)
                except (errors.UniqueViolation, errors.DuplicateTable):
                    pass  # another replica created it at the same moment
                ran += 1
    return ran
