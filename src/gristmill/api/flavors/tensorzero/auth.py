"""TensorZero's gateway takes an optional `Authorization: Bearer <key>`; the `tensorzero` client
sends it when given `api_key=` or the `TENSORZERO_API_KEY` environment variable. Gristmill
must know the account, so here the Bearer key (a Gristmill key) is required."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from gristmill.api.deps import bearer_principal
from gristmill.services.accounts import Principal

Caller = Annotated[Principal, Depends(bearer_principal)]
