"""The Alembic migrations build exactly the schema the models declare, on both databases:
a model change without its migration fails here, not on an operator's upgrade."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from gristmill.store.metadata.db import upgrade
from gristmill.store.metadata.models import Base
from tests.support import Backend


def test_migrations_match_the_models(backend: Backend, tmp_path: Path) -> None:
    url = backend.env.get("GRISTMILL_DATABASE_URL") or f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()
