"""Security headers on every response (OWASP API8): no MIME sniffing, no framing, no referrer.

Headers a handler set itself (e.g. the OAuth consent page's Content-Security-Policy) are kept.
Pages the gateway serves from a library (the /schema docs) get their policy by path prefix.
The gateway's edge (gateway/middleware.py) adds them in its one pass over a response's headers.
"""

from __future__ import annotations

from twitterclone.gateway.docs import DOCS_CSP

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
#: The same, as a response's raw header pairs.
SECURITY_HEADER_PAIRS = tuple((name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items())
CSP = b"content-security-policy"

#: Content-Security-Policy by path prefix, for pages whose handlers we do not write ourselves.
PAGE_POLICIES = (("/schema", DOCS_CSP),)
_PAGE_POLICY_PAIRS = tuple((prefix, policy.encode()) for prefix, policy in PAGE_POLICIES)


def page_policy(path: str) -> bytes | None:
    """The Content-Security-Policy the gateway sets for ``path`` unless its handler set one."""
    for prefix, policy in _PAGE_POLICY_PAIRS:
        if path.startswith(prefix):
            return policy
    return None
