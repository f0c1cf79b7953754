"""Schema migrations: one Alembic lineage per module, each with its own version table.

``migrations/<module>/`` holds a module's lineage. Its ``env.py`` calls
``run_migrations_in_env``; ``migrate`` below drives every local module's lineage to head
over the module's own store (its SQLite file, or its PostgreSQL schema).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, op
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from twitterclone.infra.store import INBOX_AGE_INDEX, INBOX_TABLE, ModuleStore
from twitterclone.manifest import MODULE_NAMES, Manifest
from twitterclone.settings import Settings

#: The lineages: inside the installed package (the wheel carries them, see pyproject.toml), else
#: the repository's top-level ``migrations/`` (a development checkout).
_PACKAGED = Path(__file__).resolve().parent / "migrations"
MIGRATIONS_DIR = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[2] / "migrations"


@dataclass(frozen=True)
class MigrationResult:
    """Where one module's schema was before and after."""

    module: str
    before: str | None
    after: str | None


def version_table(module: str) -> str:
    return f"alembic_version_{module}"


def _config(store: ModuleStore) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR / store.module))
    cfg.attributes["module"] = store.module
    cfg.attributes["schema"] = store.schema
    return cfg


@cache
def head_revision(module: str) -> str | None:
    """The newest revision of a module's lineage."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR / module))
    return ScriptDirectory.from_config(cfg).get_current_head()


def _current(conn: sa.Connection, module: str, schema: str | None) -> str | None:
    ctx = MigrationContext.configure(
        conn, opts={"version_table": version_table(module), "version_table_schema": schema}
    )
    return ctx.get_current_revision()


async def current_revision(store: ModuleStore) -> str | None:
    """The revision a module's store is at (None when never migrated)."""
    async with store.engine.connect() as conn:
        return await conn.run_sync(_current, store.module, store.schema)


async def migrate(store: ModuleStore, target: str = "head") -> MigrationResult:
    """Upgrade one module's store to ``target`` (head by default)."""
    cfg = _config(store)

    def upgrade(conn: sa.Connection) -> tuple[str | None, str | None]:
        if store.schema:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{store.schema}"'))
        before = _current(conn, store.module, store.schema)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
        return before, _current(conn, store.module, store.schema)

    async with store.engine.begin() as conn:
        before, after = await conn.run_sync(upgrade)
    return MigrationResult(store.module, before, after)


@cache
def known_revisions(module: str) -> frozenset[str]:
    """Every revision of a module's lineage that this code ships."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR / module))
    return frozenset(script.revision for script in ScriptDirectory.from_config(cfg).walk_revisions())


async def is_at_head(store: ModuleStore) -> bool:
    """Whether a module's schema serves this code (for /readyz).

    Ready at this code's head, and also at a revision this code does not know: a newer release
    migrated ahead of it during a rolling upgrade, and since schema changes are expand/contract
    (docs/upgrades.md) that newer schema still serves this version. Not ready while a revision
    this code ships is still to be applied (or nothing is migrated yet).
    """
    current = await current_revision(store)
    if current is None:
        return False
    return current == head_revision(store.module) or current not in known_revisions(store.module)


def run_migrations_in_env(target_metadata: Any = None, before: Callable[[], None] | None = None) -> None:
    """Body of every ``migrations/<module>/env.py``: run with the connection ``migrate`` passed."""
    from alembic import context

    cfg = context.config
    conn: sa.Connection | None = cfg.attributes.get("connection")
    if conn is None:
        raise RuntimeError("run migrations with `twitterclone migrate`, not the alembic command line")
    module = cfg.attributes["module"]
    schema = cfg.attributes.get("schema")
    if schema:
        # Unqualified names (including raw DDL such as ALTER TABLE) resolve into the module's
        # schema for this transaction only; the translate map covers Core constructs too.
        conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
        conn = conn.execution_options(schema_translate_map={None: schema})
    context.configure(
        connection=conn,
        target_metadata=target_metadata,
        version_table=version_table(module),
        version_table_schema=schema,
        render_as_batch=conn.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database an URL names when it does not exist; True if created."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql") or not parsed.database:
        return False
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            )
            if exists:
                return False
            quoted = parsed.database.replace('"', '""')
            await conn.execute(sa.text(f'CREATE DATABASE "{quoted}"'))
            return True
    finally:
        await admin.dispose()


async def migrate_deployment(
    manifest: Manifest, settings: Settings, modules: list[str] | None = None
) -> list[MigrationResult]:
    """Migrate every module of a deployment (or the ones named), creating databases as needed."""
    from twitterclone.composition import store_locations

    names = modules or list(MODULE_NAMES)
    unknown = [n for n in names if n not in MODULE_NAMES]
    if unknown:
        raise ValueError(f"unknown module {unknown[0]!r}; allowed: {', '.join(MODULE_NAMES)}")
    locations = store_locations(manifest, settings)
    results: list[MigrationResult] = []
    for url in sorted({locations[n][0] for n in names}):
        await ensure_database(url)
    for name in names:
        url, schema = locations[name]
        store = ModuleStore(name, url, schema=schema)
        try:
            results.append(await migrate(store))
        finally:
            await store.dispose()
    return results


def inbox_age_index() -> tuple[Callable[[], None], Callable[[], None]]:
    """``upgrade`` and ``downgrade`` of a module's migration that indexes its inbox by age.

    The kernel's purge deletes inbox rows older than the retention window; without the index
    every pass would read the whole inbox. Each consuming module's lineage has one such step.
    """

    def upgrade() -> None:
        op.create_index(INBOX_AGE_INDEX, INBOX_TABLE, ["processed_at"])

    def downgrade() -> None:
        op.drop_index(INBOX_AGE_INDEX, table_name=INBOX_TABLE)

    return upgrade, downgrade
