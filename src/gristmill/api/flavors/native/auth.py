"""The native door authenticates with `Authorization: Bearer <key>`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gristmill.api.deps import bearer_token, get_hub
from gristmill.services.accounts import Principal, authenticate


def native_principal(request: Request) -> Principal:
    return authenticate(get_hub(request), bearer_token(request))


Caller = Annotated[Principal, Depends(native_principal)]
