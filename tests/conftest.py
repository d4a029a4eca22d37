"""Fixtures: every API test runs on SQLite + local blobs and on PostgreSQL + SeaweedFS S3."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import (
    S3_ACCESS_KEY,
    S3_SECRET_KEY,
    Backend,
    LiveServer,
    SeaweedS3,
    create_pg_database,
    drop_pg_database,
    postgres_available,
    start_server,
)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    s3 = SeaweedS3(tmp_path_factory.mktemp("seaweed"))
    s3.start()
    yield s3
    s3.stop()


def _backend(kind: str, request: pytest.FixtureRequest) -> Iterator[Backend]:
    if kind == "sqlite":
        yield Backend(name="sqlite")
        return
    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("CI must have PostgreSQL on 127.0.0.1:5432 (.ci/run starts it)")
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432")
    seaweed: SeaweedS3 = request.getfixturevalue("seaweed")
    db_url = create_pg_database()
    bucket = seaweed.new_bucket()
    try:
        yield Backend(
            name="postgres",
            env={
                "GRISTMILL_DATABASE_URL": db_url,
                "GRISTMILL_BLOB_URL": f"s3://{bucket}/blobs",
                "GRISTMILL_S3_ENDPOINT_URL": seaweed.endpoint,
                "GRISTMILL_S3_ACCESS_KEY_ID": S3_ACCESS_KEY,
                "GRISTMILL_S3_SECRET_ACCESS_KEY": S3_SECRET_KEY,
            },
        )
    finally:
        drop_pg_database(db_url)


BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS, scope="module")
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from _backend(request.param, request)


@pytest.fixture(scope="module")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp(f"server-{backend.name}"), backend.env)
    yield live
    live.stop()


@pytest.fixture
def tmp_data(tmp_path: Path) -> Path:
    return tmp_path
