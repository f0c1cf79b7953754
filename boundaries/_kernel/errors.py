"""Error kinds every port may raise; both bindings raise the same classes.

Each concrete error names a stable ``code`` (the problem ``type`` slug at the HTTP edge) and
derives from one kind below, which decides the HTTP status the gateway answers with.
"""

from typing import ClassVar


class DomainError(Exception):
    """Base of every error a port promises to raise."""

    kind: ClassVar[str] = "invalid"
    code: ClassVar[str] = "invalid-request"
    status: ClassVar[int] = 400

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(DomainError):
    """The request is well-formed but breaks a rule (422)."""

    kind = "invalid"
    code = "invalid-input"
    status = 422


class InvalidCursor(InvalidInput):
    """A page cursor this API did not hand out: edited, truncated or out of range (400)."""

    code = "invalid-cursor"
    status = 400


class NotFound(DomainError):
    """The thing asked for does not exist, or is not visible to the caller (404)."""

    kind = "not_found"
    code = "not-found"
    status = 404


class Conflict(DomainError):
    """The request conflicts with the current state (409)."""

    kind = "conflict"
    code = "conflict"
    status = 409


class Forbidden(DomainError):
    """The caller is known but may not do this (403)."""

    kind = "forbidden"
    code = "forbidden"
    status = 403


class Unauthorized(DomainError):
    """The caller could not be authenticated (401)."""

    kind = "unauthorized"
    code = "unauthorized"
    status = 401


class PayloadTooLarge(DomainError):
    """The content is larger than allowed (413)."""

    kind = "too_large"
    code = "payload-too-large"
    status = 413


class Unavailable(DomainError):
    """A dependency could not answer in time (503)."""

    kind = "unavailable"
    code = "service-unavailable"
    status = 503
