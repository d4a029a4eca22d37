"""Gristmill: a self-hosted hub for LLM fine-tuning and evaluation datasets."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Client"]


def __getattr__(name: str) -> Any:
    # the server never needs the client: import it only when asked for
    if name == "Client":
        from gristmill.client import Client

        return Client
    raise AttributeError(name)
