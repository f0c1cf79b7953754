"""Errors the users port raises."""

from typing import ClassVar

from boundaries._kernel.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, Unauthorized


class UserNotFound(NotFound):
    code = "user-not-found"


class HandleTaken(Conflict):
    code = "handle-taken"


class HandleTooSimilar(HandleTaken):
    """The handle looks like one already taken (``a1ice`` for ``alice``): the same problem type."""

    code = "handle-taken"


class EmailTaken(Conflict):
    code = "email-taken"


class InvalidCredentials(Unauthorized):
    code = "invalid-credentials"


class WrongPassword(InvalidInput):
    """The current password given to change it is wrong (the caller's token stays valid)."""

    code = "wrong-password"


class InvalidRefreshToken(Unauthorized):
    code = "invalid-refresh-token"


class CannotFollowSelf(InvalidInput):
    code = "cannot-follow-self"


class Blocked(Forbidden):
    code = "blocked"


class AccountSuspended(Forbidden):
    code = "account-suspended"


class NotAdmin(Forbidden):
    code = "admin-only"


class OAuthClientNotFound(NotFound):
    """No such OAuth client among the caller's own (another user's client is not revealed)."""

    code = "oauth-client-not-found"


class SigningKeyNotFound(NotFound):
    code = "signing-key-not-found"


class SigningKeyInUse(Conflict):
    code = "signing-key-in-use"


class OAuthError(DomainError):
    """An OAuth 2.0 protocol error; ``error`` is its RFC 6749 code.

    ``redirectable`` says whether the authorization endpoint may report it to the client's
    redirect URI (it may not when the client or the redirect URI itself is in doubt).
    """

    code = "oauth-invalid-request"
    status = 400
    error: ClassVar[str] = "invalid_request"
    redirectable: ClassVar[bool] = True


class OAuthInvalidRequest(OAuthError):
    code = "oauth-invalid-request"
    error = "invalid_request"


class OAuthInvalidClient(OAuthError):
    code = "oauth-invalid-client"
    status = 401
    error = "invalid_client"


class OAuthInvalidGrant(OAuthError):
    code = "oauth-invalid-grant"
    error = "invalid_grant"


class OAuthUnauthorizedClient(OAuthError):
    code = "oauth-unauthorized-client"
    error = "unauthorized_client"


class OAuthUnsupportedGrantType(OAuthError):
    code = "oauth-unsupported-grant-type"
    error = "unsupported_grant_type"


class OAuthInvalidScope(OAuthError):
    code = "oauth-invalid-scope"
    error = "invalid_scope"


class OAuthUnsupportedResponseType(OAuthError):
    code = "oauth-unsupported-response-type"
    error = "unsupported_response_type"


class OAuthUnknownRedirect(OAuthError):
    """The client is unknown or the redirect URI is not one it registered: tell the user, not the URI."""

    code = "oauth-unknown-client-or-redirect"
    error = "invalid_request"
    redirectable = False


class OAuthAccessDenied(OAuthError):
    code = "oauth-access-denied"
    status = 403
    error = "access_denied"
