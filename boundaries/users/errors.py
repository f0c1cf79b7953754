"""Errors the users port raises."""

from boundaries._kernel.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized


class UserNotFound(NotFound):
    code = "user-not-found"


class HandleTaken(Conflict):
    code = "handle-taken"


class EmailTaken(Conflict):
    code = "email-taken"


class InvalidCredentials(Unauthorized):
    code = "invalid-credentials"


class InvalidRefreshToken(Unauthorized):
    code = "invalid-refresh-token"


class CannotFollowSelf(InvalidInput):
    code = "cannot-follow-self"


class Blocked(Forbidden):
    code = "blocked"
