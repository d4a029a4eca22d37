"""Cloudflare authenticates with `Authorization: Bearer <token>`, or with `X-Auth-Key` plus
`X-Auth-Email`; either carries a Gristmill API key. The account in the path must be the key's
own: any other answers 404, as a missing one does."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gristmill.api.deps import authenticated, bearer_token
from gristmill.services.accounts import Principal
from gristmill.services.errors import NotFound, Unauthenticated


async def cloudflare_principal(request: Request, account_id: str) -> Principal:
    key = bearer_token(request)
    if key is None and request.headers.get("x-auth-key"):
        if not request.headers.get("x-auth-email"):
            raise Unauthenticated("X-Auth-Key needs X-Auth-Email beside it.")
        key = request.headers["x-auth-key"]
    caller = await authenticated(request, key)
    if account_id != caller.account_id:
        raise NotFound(f"Account {account_id} not found.", param="account_id")
    return caller


Caller = Annotated[Principal, Depends(cloudflare_principal)]
