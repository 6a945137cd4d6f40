"""How large a request body may be, by path: the one rule that both the API
(controller.http.bodies) and the HTTP front process (controller.http.front) apply, so that the
front refuses a too-large upload before reading a byte of it. No FastAPI or pydantic here: the
front imports this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_JSON_BODY_BYTES = 64 * 1024  # a programme of 48 windows is about 5 KB
FIRMWARE_MAX_BYTES = 32 * 1024 * 1024  # an ESP32 image is 1-4 MB
LIVE_MAX_BYTES = 4 * 3600 * 22050 * 2  # a live talk's stream: four hours of house PCM
LIVE_PATH = "/api/v1/live"  # the page's WebSocket (front process); POST starts a talk


@dataclass(frozen=True)
class BodyLimits:
    """``default`` for every path under ``path_prefix``; ``by_path`` maps exact paths (file
    uploads; 0 for the endpoints that take no body) to their own limits. Nothing outside the
    prefix takes a body (the pages, the docs, metrics, media for field nodes)."""

    default: int = MAX_JSON_BODY_BYTES
    path_prefix: str = "/api/v1"
    by_path: dict[str, int] = field(default_factory=dict)

    def for_path(self, path: str) -> int:
        if not path.startswith(self.path_prefix):
            return 0
        return self.by_path.get(path.rstrip("/"), self.default)

    def declared_too_large(self, path: str, content_length: bytes) -> int | None:
        """The limit that a declared ``Content-Length`` passes, else None."""
        limit = self.for_path(path)
        declared = content_length.strip()
        if declared.isdigit() and int(declared) > limit:
            return limit
        return None


def too_large_message(limit: int) -> str:
    if limit == 0:
        return "this path takes no body"
    if limit >= 1024 * 1024:
        return f"the body is larger than {limit // (1024 * 1024)} MB"
    return f"the body is larger than {limit} bytes"
