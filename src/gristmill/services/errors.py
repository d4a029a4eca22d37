"""Errors raised by services. Each door renders them in its own envelope."""

from __future__ import annotations


class ServiceError(Exception):
    """A request-level failure that a caller can fix; never a server fault."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidRequest(ServiceError):
    status = 400
    code = "invalid_request"


class Unauthenticated(ServiceError):
    status = 401
    code = "invalid_api_key"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


class NotImplementedYet(ServiceError):
    status = 501
    code = "not_implemented"
