"""The README stays honest: every setting the server reads is in its settings table, and the
table names no setting that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from gristmill.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_documented() -> None:
    prefix = Settings.model_config.get("env_prefix", "")
    settings = {f"{prefix}{name}".upper() for name in Settings.model_fields}
    table = [line for line in README.read_text().splitlines() if line.startswith("| `GRISTMILL_")]
    documented = {name for line in table for name in re.findall(r"`(GRISTMILL_[A-Z0-9_]+)`", line)}
    assert settings - documented == set(), "settings missing from the README's table"
    assert documented - settings == set(), "the README's table names unknown settings"
