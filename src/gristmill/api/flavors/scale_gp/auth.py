"""Scale GP authenticates with `x-api-key`; `x-selected-account-id` names the account to act in."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gristmill.api.deps import authenticated
from gristmill.services.accounts import Principal
from gristmill.services.errors import Forbidden


def check_account(caller: Principal, account_id: str | None, param: str) -> None:
    """A key acts in its own account only; naming another one is refused, whether it exists
    or not, so the answer says nothing about other accounts."""
    if account_id is not None and account_id != caller.account_id:
        raise Forbidden(f"{param} {account_id!r} is not the account of this API key.", param=param)


async def scale_principal(request: Request) -> Principal:
    caller = await authenticated(request, request.headers.get("x-api-key"))
    check_account(caller, request.headers.get("x-selected-account-id"), "x-selected-account-id")
    return caller


Caller = Annotated[Principal, Depends(scale_principal)]
