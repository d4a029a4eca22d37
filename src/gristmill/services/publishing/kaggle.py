"""Publish to Kaggle with the official `kaggle` package (being written)."""

from __future__ import annotations

from typing import Any

from gristmill.services.publishing.base import Attempt, PublishFailed, text_field
from gristmill.settings import Settings


class Kaggle:
    name: str = "kaggle"
    secret_fields: tuple[str, ...] = ("key",)

    def check(self, spec: dict[str, Any], settings: Settings) -> None:
        text_field(spec, "dataset")

    def data_format(self, spec: dict[str, Any]) -> str:
        return "parquet"

    def publish(self, attempt: Attempt) -> tuple[str, str]:
        raise PublishFailed("Kaggle publishing is not available yet.")
