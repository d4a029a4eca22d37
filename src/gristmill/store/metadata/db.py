"""Engine and session factory; migrations applied through Alembic."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str) -> Engine:
    json_io: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        # One pooled connection per server thread: overflow connections are closed on return
        # and reopened (with their PRAGMAs) on the next request, which dominated point reads.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=48,
            max_overflow=16,
            **json_io,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **json_io)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


class Database:
    """One engine and its session factory; `session()` commits on success, rolls back on error."""

    def __init__(self, url: str, sqlite_readers: int):
        self.url = url
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        # sqlite3 lets go of the GIL on every row it steps, and takes it back only when the
        # running thread yields (up to 5 ms later): dozens of reader threads then convoy on the
        # GIL, and a few readers at a time serve more reads per second than many
        readers = sqlite_readers if self.is_sqlite else 0
        self._read_gate: AbstractContextManager[Any] = (
            threading.BoundedSemaphore(readers) if readers > 0 else nullcontext()
        )

    @property
    def _placeholder(self) -> str:
        return "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A bare connection for read-only Core queries: no ORM session to build and tear
        down, which is most of the cost of a point read."""
        with self._read_gate, self.engine.connect() as conn:
            yield conn

    def fetch_value(self, sql: str, params: tuple[Any, ...]) -> Any:
        """The first column of the first row of a tiny read (None if no row), on a bare
        DBAPI cursor: for a per-request check where a SQLAlchemy Connection's checkout and
        reset cost several times the query. `sql` uses `?` placeholders."""
        if self._placeholder != "?":
            sql = sql.replace("?", self._placeholder)
        with self._read_gate:
            conn = self.engine.raw_connection()
            try:
                cursor = conn.cursor()
                try:
                    cursor.execute(sql, params)
                    row = cursor.fetchone()
                finally:
                    cursor.close()
            finally:
                conn.close()
        return None if row is None else row[0]

    def dispose(self) -> None:
        self.engine.dispose()
