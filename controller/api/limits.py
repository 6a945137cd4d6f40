"""How large a request body may be, by path: the one rule that both the API
(controller.api.bodies) and the HTTP front process (controller.api.front) apply, so that the
front refuses a too-large upload before reading a byte of it. No FastAPI or pydantic here: the
front imports this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_JSON_BODY_BYTES = 64 * 1024  # a programme of 48 windows is about 5 KB
FIRMWARE_MAX_BYTES = 32 * 1024 * 1024  # an ESP32 image is 1-4 MB


@dataclass(frozen=True)
class BodyLimits:
    """``default`` for every path under ``path_prefix``; ``uploads`` maps exact paths (file
    uploads) to their own limits. Paths outside the prefix are not limited here."""

    default: int = MAX_JSON_BODY_BYTES
    path_prefix: str = "/api/v1"
    uploads: dict[str, int] = field(default_factory=dict)

    def for_path(self, path: str) -> int | None:
        if not path.startswith(self.path_prefix):
            return None
        return self.uploads.get(path.rstrip("/"), self.default)

    def declared_too_large(self, path: str, content_length: bytes) -> int | None:
        """The limit that a declared ``Content-Length`` passes, else None."""
        limit = self.for_path(path)
        declared = content_length.strip()
        if limit is not None and declared.isdigit() and int(declared) > limit:
            return limit
        return None


def too_large_message(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"the body is larger than {limit // (1024 * 1024)} MB"
    return f"the body is larger than {limit} bytes"
