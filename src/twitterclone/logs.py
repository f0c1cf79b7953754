"""Structured (JSON lines) logging with the request id on every record; secrets never logged."""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

import msgspec

#: The current request id, for log records (set by the gateway's request-id middleware).
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
#: The current W3C traceparent (set at the gateway's edge or taken from an incoming call).
traceparent_var: ContextVar[str | None] = ContextVar("twitterclone_traceparent", default=None)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_REDACT = {"password", "token", "access_token", "refresh_token", "secret", "authorization", "client_secret"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            out["request_id"] = rid
        trace = traceparent_var.get()
        if trace:
            out["trace_id"] = trace[3:35]  # W3C: version-traceid-parentid-flags
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = "[redacted]" if key.lower() in _REDACT else value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return msgspec.json.encode(out, enc_hook=str).decode()


def configure_logging(level: str = "INFO") -> None:
    """Send twitterclone's logs to stderr as JSON lines (once per process)."""
    root = logging.getLogger("twitterclone")
    if getattr(root, "_configured", False):
        root.setLevel(level.upper())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    root.propagate = False
    # Readiness probes ask alembic for the schema version every second; keep that quiet.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    root._configured = True  # type: ignore[attr-defined]
