"""What every publishing target shares: the bundle it publishes (the version's files in the
target's format, and its dataset card) and the context of one attempt.

A target is small: `check` validates its `target_spec` before anything is queued (a 400 that
names the field), and `publish` pushes the bundle and answers the result URL and a message.
An attempt records each finished step in `state` (repo created, file uploaded) before the
next, so a retried attempt after a crash skips what was done and never publishes twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gristmill.services.errors import InvalidRequest, ServiceError
from gristmill.settings import Settings


class PublishFailed(ServiceError):
    """The target refused (bad token, repo exists, quota): retrying would not help."""

    status = 422
    code = "publish_failed"


@dataclass
class Bundle:
    dataset_name: str
    stem: str
    version_id: str
    version_number: int
    rows: int
    rows_skipped: int
    card: bytes
    # split ("train" / "validation") → local file in the target's format
    files: dict[str, Path] = field(default_factory=dict)
    file_format: str = "parquet"


@dataclass
class Attempt:
    publication_id: str
    spec: dict[str, Any]  # target_spec with its secrets back in
    settings: Settings
    bundle: Bundle
    state: dict[str, Any]
    save_state: Callable[[dict[str, Any]], None]

    def done(self, **steps: Any) -> None:
        self.state.update(steps)
        self.save_state(self.state)

    @property
    def title(self) -> str:
        """Names the publication where the target shows it, so a retry can find its work."""
        return f"Gristmill {self.publication_id}: version {self.bundle.version_number}"


class Target(Protocol):
    name: str
    secret_fields: tuple[str, ...]

    def check(self, spec: dict[str, Any], settings: Settings) -> None: ...

    def data_format(self, spec: dict[str, Any]) -> str: ...

    def publish(self, attempt: Attempt) -> tuple[str, str]: ...


def text_field(spec: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = spec.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(
            f"target_spec.{name} must be a non-empty string.", param=f"target_spec.{name}"
        )
    return value


def flag(spec: dict[str, Any], name: str, default: bool) -> bool:
    value = spec.get(name, default)
    if not isinstance(value, bool):
        raise InvalidRequest(
            f"target_spec.{name} must be true or false.", param=f"target_spec.{name}"
        )
    return value


def choice(spec: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    """A field that takes one of `allowed`; the first is the default."""
    chosen = spec.get(name, allowed[0])
    if chosen not in allowed:
        raise InvalidRequest(
            f"target_spec.{name} must be one of {', '.join(allowed)}.", param=f"target_spec.{name}"
        )
    return str(chosen)
