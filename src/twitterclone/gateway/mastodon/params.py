"""Parameters the Mastodon routes share: ids in paths, boolean flags, id lists."""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter

from twitterclone.gateway.params import ID_PATTERN

AccountId = Annotated[str, PathParameter(pattern=ID_PATTERN, description="An account id.")]
StatusId = Annotated[str, PathParameter(pattern=ID_PATTERN, description="A status id.")]
MediaId = Annotated[str, PathParameter(pattern=ID_PATTERN, description="A media attachment id.")]
NotificationId = Annotated[str, PathParameter(pattern=ID_PATTERN, description="A notification id.")]
#: A boolean query flag, as Rails reads one (true/false, 1/0).
Flag = Annotated[bool, QueryParameter(required=False)]
#: The hashtag of a hashtag stream (a leading # is dropped); a stream without one is refused.
StreamTag = Annotated[str | None, QueryParameter(required=False)]
#: A list of ids in the query (``id[]=1&id[]=2``).
IdList = list[str] | None

__all__ = ["AccountId", "Flag", "IdList", "MediaId", "NotificationId", "StatusId", "StreamTag"]
