"""The controller: street lights and the commune radio (docs/architecture.md)."""

import sys

# httpx imports its command-line client at import time (click, rich, pygments: about 5 MiB
# and tens of milliseconds), which the controller never uses; a None in sys.modules makes
# that import fail as it does where httpx[cli] is not installed, which httpx expects.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
