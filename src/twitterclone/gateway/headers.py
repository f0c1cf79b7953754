"""Security headers on every response (OWASP API8): no MIME sniffing, no framing, no referrer.

Headers a handler set itself (e.g. the OAuth consent page's Content-Security-Policy) are kept.
Pages the gateway serves from a library (the /schema docs) get their policy by path prefix.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from twitterclone.gateway.docs import DOCS_CSP

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}

#: Content-Security-Policy by path prefix, for pages whose handlers we do not write ourselves.
PAGE_POLICIES = (("/schema", DOCS_CSP),)


def security_headers_middleware(app: ASGIApp) -> ASGIApp:
    """Wrap an ASGI app so that every HTTP response carries SECURITY_HEADERS."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return

        path = scope["path"]
        policy = next((csp for prefix, csp in PAGE_POLICIES if path.startswith(prefix)), None)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if policy is not None and "content-security-policy" not in headers:
                    headers["content-security-policy"] = policy
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
