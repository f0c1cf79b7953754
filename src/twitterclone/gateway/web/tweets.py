"""Web pages about tweets: the home timeline, compose, a tweet with its thread, and acting on one.

Every action is an ordinary form (it works without JavaScript: a 303 back to the page it came
from); with HTMX the like/retweet forms swap the tweet in place and compose prepends the new
tweet, from the same handlers (``request.htmx`` tells them apart).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, PathParameter, QueryParameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from boundaries._kernel.errors import DomainError, InvalidInput
from boundaries._kernel.pagination import DEFAULT_PAGE_SIZE, PageRequest
from boundaries.media.dto import Upload, Variant
from boundaries.media.port import MediaPort
from boundaries.timeline.port import TimelinePort
from boundaries.tweets.dto import PostTweet, Tweet
from boundaries.tweets.errors import TweetNotFound
from boundaries.tweets.port import TweetsPort
from twitterclone.gateway.di import FromDishka, inject
from twitterclone.gateway.params import ID_PATTERN, Cursor, MediaId, TweetId
from twitterclone.gateway.ratelimit import RateRule, limited
from twitterclone.gateway.routes.media import image_response, upload_body_limit
from twitterclone.gateway.web.common import Form, media_alts, read_form
from twitterclone.gateway.web.render import back, page, safe_next
from twitterclone.gateway.web.session import WebSession
from twitterclone.settings import Settings

OptionalId = Annotated[str | None, QueryParameter(pattern=ID_PATTERN, required=False)]


class TweetPages(Controller):
    """Home, compose, tweets and the actions on them."""

    path = "/"
    include_in_schema = False

    @get("/", name="web-home")
    @inject
    async def home(
        self,
        request: HTMXRequest,
        web: NamedDependency[WebSession | None],
        timeline: FromDishka[TimelinePort],
        media: FromDishka[MediaPort],
        settings: FromDishka[Settings],
        cursor: Cursor = None,
    ) -> Template:
        if web is None:
            return page(request, None, "welcome.html")
        # One hydrated page call, as the JSON home route makes (and the images' alt text, if any).
        items = await timeline.home_timeline(web.user_id, PageRequest(cursor=cursor, limit=DEFAULT_PAGE_SIZE))
        context: dict[str, Any] = {
            "tweets": items.items,
            "alts": await media_alts(media, items.items, web.user_id),
            "next_url": f"/?cursor={items.next_cursor}" if items.next_cursor else None,
            "max_length": settings.tweet_max_length,
        }
        if request.htmx and cursor:  # the next page of an infinite scroll
            return page(request, web, "_feed.html", **context)
        newest = items.items[0].id if items.items else None
        live_url = f"/live?home=1&after={newest}" if newest else "/live?home=1"
        return page(request, web, "home.html", live_url=live_url, **context)

    @get("/compose", name="web-compose")
    @inject
    async def compose(
        self,
        request: HTMXRequest,
        me: NamedDependency[WebSession],
        tweets: FromDishka[TweetsPort],
        media: FromDishka[MediaPort],
        settings: FromDishka[Settings],
        reply_to: OptionalId = None,
        quote: OptionalId = None,
    ) -> Template:
        reply_tweet = await tweets.get(reply_to, me.user_id) if reply_to else None
        quoted = await tweets.get(quote, me.user_id) if quote else None
        shown = [t for t in (reply_tweet, quoted) if t is not None]
        return page(
            request,
            me,
            "compose.html",
            alts=await media_alts(media, shown, me.user_id),
            reply_tweet=reply_tweet,
            quoted=quoted,
            max_length=settings.tweet_max_length,
            errors={},
            values={},
        )

    @post(
        "/compose",
        name="web-post",
        guards=[upload_body_limit],
        request_max_body_size=None,  # the guard enforces the upload's own limit
        opt=limited(RateRule.POST),
    )
    @inject
    async def post_tweet(
        self,
        request: HTMXRequest,
        me: NamedDependency[WebSession],
        tweets: FromDishka[TweetsPort],
        media: FromDishka[MediaPort],
        settings: FromDishka[Settings],
    ) -> Template | Redirect:
        form = await read_form(request, me)
        text, reply_to, quote = form.text("text", strip=False), form.text("reply_to"), form.text("quote_of")
        values = {"text": text, "alt": form.text("alt"), "spoiler_text": form.text("spoiler_text")}
        errors: dict[str, str] = {}
        media_ids: list[str] = []
        try:
            image = form.file("image")
            if image is not None:
                uploaded = await media.upload(
                    Upload(
                        owner_id=me.user_id,
                        filename=image.filename,
                        data=await image.read(),
                        description=values["alt"] or None,
                    )
                )
                media_ids.append(uploaded.id)
            command = msgspec.convert(
                {
                    "text": text.strip(),
                    "reply_to_id": reply_to or None,
                    "quote_of_id": quote or None,
                    "media_ids": media_ids,
                    "spoiler_text": values["spoiler_text"],
                },
                PostTweet,
            )
            posted = await tweets.post(me.user_id, command, None)
        except msgspec.ValidationError as exc:
            errors["text"] = str(exc).split(" - at", 1)[0]
        except DomainError as exc:
            if exc.status >= 500 or exc.status == 429:
                raise
            errors["image" if exc.code.startswith(("media", "unsupported", "corrupt")) else "text"] = (
                exc.detail
            )
        if errors:
            reply_tweet = await _maybe(tweets, reply_to, me.user_id)
            quoted = await _maybe(tweets, quote, me.user_id)
            if request.htmx:  # the form again, errors and all, in place of the one posted
                form_page = page(
                    request,
                    me,
                    "_compose.html",
                    compose_inline=True,
                    compose_next=form.text("next"),
                    reply_tweet=reply_tweet,
                    quoted=quoted,
                    max_length=settings.tweet_max_length,
                    errors=errors,
                    values=values,
                )
                form_page.headers.update({"HX-Retarget": "form.compose", "HX-Reswap": "outerHTML"})
                return form_page
            return page(
                request,
                me,
                "compose.html",
                status=422,
                reply_tweet=reply_tweet,
                quoted=quoted,
                max_length=settings.tweet_max_length,
                errors=errors,
                values=values,
            )
        if request.htmx and form.text("next") == "/":
            return page(
                request,
                me,
                "_tweet_new.html",
                tweet=posted,
                alts=await media_alts(media, [posted], me.user_id),
            )
        return back(request, form.text("next"), f"/tweets/{posted.id}")

    @get("/media/{media_id:str}/{variant:str}", name="web-image")
    @inject
    async def image(
        self,
        media_id: MediaId,
        variant: Annotated[Variant, PathParameter()],
        web: NamedDependency[WebSession | None],
        media: FromDishka[MediaPort],
        tweets: FromDishka[TweetsPort],
        if_none_match: Annotated[str | None, HeaderParameter(name="If-None-Match")] = None,
    ) -> Response[bytes]:
        """An image's bytes for the signed-in reader (the API's route knows no session): the
        image of a followers-only tweet shows to its followers here as there."""
        return await image_response(
            media, tweets, media_id, variant, web.user_id if web else None, if_none_match
        )

    @get("/tweets/{tweet_id:str}", name="web-tweet")
    @inject
    async def tweet(
        self,
        request: HTMXRequest,
        tweet_id: TweetId,
        web: NamedDependency[WebSession | None],
        tweets: FromDishka[TweetsPort],
        media: FromDishka[MediaPort],
        settings: FromDishka[Settings],
    ) -> Template:
        viewer = web.user_id if web else None
        tweet = await tweets.get(tweet_id, viewer)
        thread = await tweets.context(tweet_id, viewer)
        return page(
            request,
            web,
            "tweet.html",
            tweet=tweet,
            ancestors=thread.ancestors,
            replies=thread.descendants,
            alts=await media_alts(media, [tweet, *thread.ancestors, *thread.descendants], viewer),
            max_length=settings.tweet_max_length,
            errors={},
            values={},
        )

    @post("/tweets/{tweet_id:str}/like", name="web-like")
    @inject
    async def like(
        self,
        request: HTMXRequest,
        tweet_id: TweetId,
        me: NamedDependency[WebSession],
        tweets: FromDishka[TweetsPort],
        media: FromDishka[MediaPort],
    ) -> Template | Redirect:
        form = await read_form(request, me)
        tweet = await tweets.like(me.user_id, tweet_id)
        return await _acted(request, me, form, tweet, media)

    @post("/tweets/{tweet_id:str}/unlike", name="web-unlike")
    @inject
    async def unlike(
        self,
        request: HTMXRequest,
        tweet_id: TweetId,
        me: NamedDependency[WebSession],
        tweets: FromDishka[TweetsPort],
        media: FromDishka[MediaPort],
    ) -> Template | Redirect:
        form = await read_form(request, me)
        tweet = await tweets.unlike(me.user_id, tweet_id)
        return await _acted(request, me, form, tweet, media)

    @post("/tweets/{tweet_id:str}/retweet", name="web-retweet", opt=limited(RateRule.POST))
    @inject
    async def retweet(
        self,
        request: HTMXRequest,
        tweet_id: TweetId,
        me: NamedDependency[WebSession],
        tweets: FromDishka[TweetsPort],
        media: FromDishka[MediaPort],
    ) -> Template | Redirect:
        form = await read_form(request, me)
        await tweets.retweet(me.user_id, tweet_id)
        return await _acted(request, me, form, await tweets.get(tweet_id, me.user_id), media)

    @post("/tweets/{tweet_id:str}/unretweet", name="web-unretweet")
    @inject
    async def unretweet(
        self,
        request: HTMXRequest,
        tweet_id: TweetId,
        me: NamedDependency[WebSession],
        tweets: FromDishka[TweetsPort],
        media: FromDishka[MediaPort],
    ) -> Template | Redirect:
        form = await read_form(request, me)
        await tweets.undo_retweet(me.user_id, tweet_id)
        return await _acted(request, me, form, await tweets.get(tweet_id, me.user_id), media)

    @post("/tweets/{tweet_id:str}/delete", name="web-delete")
    @inject
    async def delete(
        self,
        request: HTMXRequest,
        tweet_id: TweetId,
        me: NamedDependency[WebSession],
        tweets: FromDishka[TweetsPort],
    ) -> Template | Redirect:
        form = await read_form(request, me)
        await tweets.delete(me.user_id, tweet_id)
        if request.htmx:
            return page(request, me, "_deleted.html")
        next_path = safe_next(form.text("next"))
        return back(request, "/" if next_path.startswith(f"/tweets/{tweet_id}") else next_path)


async def _maybe(tweets: TweetsPort, tweet_id: str | None, viewer: str | None) -> Tweet | None:
    if not tweet_id:
        return None
    try:
        return await tweets.get(tweet_id, viewer)
    except (TweetNotFound, InvalidInput):
        return None


async def _acted(
    request: HTMXRequest, me: WebSession, form: Form, tweet: Tweet, media: MediaPort
) -> Template | Redirect:
    """The tweet again (HTMX swaps it in place), or back to the page the form was on."""
    if request.htmx:
        return page(
            request, me, "_tweet.html", tweet=tweet, alts=await media_alts(media, [tweet], me.user_id)
        )
    return back(request, form.text("next"), f"/tweets/{tweet.id}")
