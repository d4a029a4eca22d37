"""Adaption authenticates with `Authorization: Bearer <key>`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from gristmill.api.deps import bearer_principal
from gristmill.services.accounts import Principal

Caller = Annotated[Principal, Depends(bearer_principal)]
