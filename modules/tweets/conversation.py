"""A tweet's conversation context: the reply chain above it and the replies under it."""

from __future__ import annotations

import sqlalchemy as sa

from boundaries._kernel.ids import Id
from boundaries.tweets.dto import Context
from boundaries.tweets.errors import TweetNotFound
from modules.tweets.reading import TweetReader
from modules.tweets.tables import tweets
from twitterclone.infra.store import ModuleStore

#: The most ancestors a context lists (the ones nearest the tweet).
MAX_ANCESTORS = 40
#: The most descendants a context lists (in thread order, so the nearest come first).
MAX_DESCENDANTS = 200
#: The most replies of a conversation read to find a tweet's descendants.
_SCAN = 4000


class Conversations:
    """Builds ``Context`` from the reply links (``reply_to_id``) within a conversation."""

    def __init__(self, tweets: TweetReader, store: ModuleStore) -> None:
        self._tweets = tweets
        self._store = store

    async def context(self, tweet_id: int, viewer_id: Id | None) -> Context:
        # Only around a tweet the viewer may see (hydration decides, as for any read).
        if not await self._tweets.get_many([str(tweet_id)], viewer_id):
            raise TweetNotFound(f"no tweet {tweet_id}")
        t = tweets
        async with self._store.read() as conn:
            row = (
                await conn.execute(
                    sa.select(t.c.id, t.c.reply_to_id, t.c.conversation_id, t.c.retweet_of_id).where(
                        t.c.id == tweet_id
                    )
                )
            ).first()
            if row is None:
                raise TweetNotFound(f"no tweet {tweet_id}")
            if row.retweet_of_id is not None:  # a retweet has no thread of its own
                return Context()
            ancestors: list[int] = []
            parent = row.reply_to_id
            while parent is not None and len(ancestors) < MAX_ANCESTORS:
                up = (await conn.execute(sa.select(t.c.reply_to_id).where(t.c.id == parent))).first()
                if up is None:  # the parent was deleted: the chain ends here
                    break
                ancestors.append(int(parent))
                parent = up.reply_to_id
            replies = (
                await conn.execute(
                    sa.select(t.c.id, t.c.reply_to_id)
                    .where(t.c.conversation_id == row.conversation_id, t.c.id > tweet_id)
                    .order_by(t.c.id)
                    .limit(_SCAN)
                )
            ).all()
        children: dict[int, list[int]] = {}
        for reply in replies:
            if reply.reply_to_id is not None:
                children.setdefault(int(reply.reply_to_id), []).append(int(reply.id))
        descendants: list[int] = []
        stack = list(reversed(children.get(tweet_id, [])))
        while stack and len(descendants) < MAX_DESCENDANTS:
            current = stack.pop()
            descendants.append(current)
            stack.extend(reversed(children.get(current, [])))
        ancestors.reverse()
        found = await self._tweets.get_many([str(i) for i in ancestors + descendants], viewer_id)
        by_id = {tw.id: tw for tw in found}
        return Context(
            ancestors=[by_id[str(i)] for i in ancestors if str(i) in by_id],
            descendants=[by_id[str(i)] for i in descendants if str(i) in by_id],
        )
