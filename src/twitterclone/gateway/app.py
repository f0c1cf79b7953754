"""The gateway application factory: the public REST API in front of the modules' ports."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from boundaries.users.port import UsersPort
from twitterclone.composition import Runtime, build_runtime, service_keys_dir
from twitterclone.gateway.admission import Admission, BodyLimits, admission_middleware
from twitterclone.gateway.auth import AUTH_DEPENDENCIES, TokenVerifier
from twitterclone.gateway.docs import LocalSwaggerUI, docs_assets_router
from twitterclone.gateway.guards import guard_in_place
from twitterclone.gateway.internal import internal_app as create_internal_app
from twitterclone.gateway.mastodon.errors import mastodon_aware
from twitterclone.gateway.mastodon.router import document_mastodon_errors, mastodon_router
from twitterclone.gateway.media_urls import MediaUrls
from twitterclone.gateway.middleware import ResponseHeaders, gateway_edge_middleware
from twitterclone.gateway.ops.routes import TEMPLATES as OPS_TEMPLATES
from twitterclone.gateway.ops.routes import OpsController, ops_assets_router, ops_lifespan
from twitterclone.gateway.problems import EXCEPTION_HANDLERS, document_errors
from twitterclone.gateway.ratelimit import (
    LIMITED_PREFIXES,
    LoginThrottle,
    RatePolicy,
    build_limiter,
    rate_limit_headers,
    rate_limit_middleware,
    route_finder,
)
from twitterclone.gateway.request_metrics import request_metrics
from twitterclone.gateway.responses import JsonResponse
from twitterclone.gateway.routes.admin import AdminController
from twitterclone.gateway.routes.analytics import AnalyticsController
from twitterclone.gateway.routes.content import MyCollectionsController, TweetContentController
from twitterclone.gateway.routes.health import HealthController
from twitterclone.gateway.routes.media import MULTIPART_OVERHEAD_BYTES, MediaController
from twitterclone.gateway.routes.notifications import NotificationsController
from twitterclone.gateway.routes.oauth import (
    AuthorizedAppsController,
    OAuthClientsController,
    OAuthController,
)
from twitterclone.gateway.routes.timeline import TimelineController
from twitterclone.gateway.routes.tweets import TweetsController
from twitterclone.gateway.routes.users import AuthController, JwksController, UsersController
from twitterclone.gateway.streams import StreamGate
from twitterclone.gateway.web import build_session_store, session_user_id, web_handlers, web_template_config
from twitterclone.gateway.web.render import browser_aware
from twitterclone.gctuning import tune_for_serving
from twitterclone.internal_api import port_routes, serve_local_ports
from twitterclone.listeners import InternalListener, server_tls
from twitterclone.logs import configure_logging
from twitterclone.manifest import Manifest
from twitterclone.runtime_metrics import MetricsController, RuntimeMetrics
from twitterclone.settings import Settings, load_deployment

log = logging.getLogger("twitterclone.gateway")

#: Route groups under /api, one Controller each (see README: "where each route lives").
API_CONTROLLERS: list[type] = [
    AuthController,
    UsersController,
    TweetsController,
    MediaController,
    NotificationsController,
    TimelineController,
    AnalyticsController,
    OAuthClientsController,
    AdminController,
    AuthorizedAppsController,
    TweetContentController,
    MyCollectionsController,
]

#: Route groups outside /api (e.g. /.well-known/jwks.json; /ops, the operations view).
PUBLIC_CONTROLLERS: list[type] = [JwksController, OAuthController, OpsController]


def create_app(
    settings: Settings | None = None,
    manifest: Manifest | None = None,
    runtime: Runtime | None = None,
) -> Litestar:
    """Build the gateway for one process from settings (env) and a manifest (file)."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    manifest = manifest or load_deployment(settings)
    runtime = runtime or build_runtime(manifest, settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await runtime.start()
        await serve_local_ports(port_server, runtime)
        app.state.dishka_container = runtime.container
        app.state.runtime = runtime
        # Read in this process by the ops view, never published on the public /metrics.
        app.state.runtime_metrics = RuntimeMetrics(runtime)
        app.state.token_verifier = TokenVerifier(
            lambda: runtime.get(UsersPort),
            jwks_max_age_s=settings.jwks_max_age_s,
            status_cache_s=settings.access_status_cache_s,
        )
        kernel = runtime.kernel  # web sessions in Redis when the manifest has it (every replica sees them)
        app.state.web_sessions = build_session_store(
            kernel.redis if kernel.has_redis else None,
            kernel.key_prefix,
            settings.refresh_token_ttl_days * 86_400,
        )
        listener: InternalListener | None = None
        if runtime.is_split and "TWITTERCLONE_SERVICE_PORT" in os.environ:  # started by `serve`/`up`
            host = os.environ.get("TWITTERCLONE_SERVICE_HOST", manifest.gateway.host)
            port = int(os.environ["TWITTERCLONE_SERVICE_PORT"])
            internal: tuple[str, int] | None = None
            if internal_app is not None:
                internal = manifest.gateway_internal_address(host, port)
                internal_app.state.runtime = runtime
                internal_app.state.dishka_container = runtime.container
                listener = InternalListener(
                    internal_app,
                    *internal,
                    server_tls(manifest, settings, "gateway"),
                    header_read_s=settings.header_read_timeout_s,
                )
                await listener.start()
                log.info("internal listener ready", extra={"address": listener.address})
            await runtime.register(host, port, internal=internal)
        tune_for_serving()
        log.info("gateway ready", extra={"manifest": manifest.name, "modules": runtime.local_modules})
        try:
            yield
        finally:
            if listener is not None:
                await runtime.deregister()  # callers stop choosing the internal listener first
                await listener.stop()
            await runtime.stop()

    # In a split deployment the modules hosted here are called by other services too: on the
    # internal listener only (its own app, sharing this runtime), never on the public one.
    port_server, port_router = port_routes(runtime)
    internal_app = (
        create_internal_app(port_router, "twitterclone", lifespan=None, metrics=False)
        if manifest.gateway_serves_ports
        else None
    )
    api = Router(path="/api", route_handlers=API_CONTROLLERS, dependencies=dict(AUTH_DEPENDENCIES))
    mastodon = mastodon_router()  # the Mastodon client API (/api/v1, /api/v2), see docs/mastodon.md
    assets = docs_assets_router()  # Swagger UI 5 (renders OpenAPI 3.1) from a local package
    docs = LocalSwaggerUI()
    cors = settings.cors_origin_list
    app = Litestar(
        route_handlers=[
            api,
            mastodon,
            HealthController,
            *PUBLIC_CONTROLLERS,
            assets,
            ops_assets_router(),
            MetricsController,
            *web_handlers(),
        ],
        lifespan=[lifespan, ops_lifespan],
        # One Jinja environment for every server-rendered face: the web client's and the ops view's.
        template_config=web_template_config(OPS_TEMPLATES),
        # Unrouted requests: Mastodon-shaped under /api/v1, a page for a browser elsewhere.
        exception_handlers=browser_aware(mastodon_aware(EXCEPTION_HANDLERS)),
        middleware=[request_metrics("twitterclone")],  # per route: twitterclone_requests_total...
        # A handler's data answered as JSON without Litestar's header container (gateway/responses.py).
        response_class=JsonResponse,
        cors_config=CORSConfig(allow_origins=cors, allow_credentials=False) if cors else None,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="twitterclone",
            version="0.1.0",
            description="A Twitter-like backend: one codebase, any topology.",
            path="/schema",
            render_plugins=[docs],
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                }
            ),
        ),
        dependencies={"settings": Provide(lambda: settings, sync_to_thread=False)},
        debug=False,
    )
    guard_in_place(app)  # each request's guards without a copy of its handler (gateway/guards.py)
    # Every operation lists the error answers it can give (derived from its guards and inputs).
    document_errors(app, rate_limited=LIMITED_PREFIXES if settings.rate_limit_enabled else ())
    document_mastodon_errors(app, rate_limited=LIMITED_PREFIXES if settings.rate_limit_enabled else ())
    response_headers: list[ResponseHeaders] = []
    if settings.rate_limit_enabled:  # inside the request id, so that a 429 carries one
        limiter, policy = build_limiter(settings, runtime.kernel), RatePolicy(settings)
        app.state.login_throttle = LoginThrottle(limiter, policy)  # handlers charge accounts with it
        app.asgi_handler = rate_limit_middleware(
            app.asgi_handler,
            limiter=limiter,
            policy=policy,
            verifier=lambda: getattr(app.state, "token_verifier", None),
            route_of=route_finder(app),
            cookie_user=session_user_id,
        )
        response_headers.append(rate_limit_headers)
    admission = Admission(
        settings.admission_max_active, settings.admission_max_wait_s, settings.admission_max_queue
    )
    app.state.admission = admission
    app.state.internal_app = internal_app  # what the internal listener serves (split: hosted ports)
    app.state.streams = StreamGate(settings.streams_per_user, settings.streams_max)
    # Signs the URLs of restricted images for apps that fetch them without the token.
    app.state.media_urls = MediaUrls(service_keys_dir(settings))
    # The largest body any route accepts: the app-wide limit, or an upload's (routes check their own).
    body = BodyLimits(
        max_bytes=max(settings.max_body_bytes, settings.media_max_bytes + MULTIPART_OVERHEAD_BYTES),
        timeout_s=settings.body_read_timeout_s,
        min_rate_bytes_s=settings.body_min_rate_bytes_s,
    )
    gated = admission_middleware(
        app.asgi_handler, admission, request_timeout_s=settings.request_timeout_s, body=body
    )
    # The edge outside admission, so that even unrouted requests (404, 405) and the middlewares'
    # own answers (408, 503, 504) carry a request id and the security headers; it makes the path
    # canonical before anything looks at it (see gateway/paths.py) and sets the trace first, so
    # the request's log line carries it.
    app.asgi_handler = gateway_edge_middleware(gated, response_headers=response_headers)
    return app
