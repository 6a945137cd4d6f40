"""What a long-running process of ours does once it has started (the controller in
controller.app, the HTTP front in controller.http.front): settle its memory.

Start-up (imports, the config's validation, the app's routes and models) leaves cyclic garbage
behind, and freed memory that malloc keeps. ``settle_after_start`` collects that garbage, hands
the free pages back to the kernel, and then freezes what is left: what start-up made lives as
long as the process, and out of the collector's sight a full collection scans only what came
after, instead of pausing the coordinators for tens of milliseconds (bench/api_load.py saw a
56 ms gen-2 pause before the freeze). The collection comes first because a frozen object is
never collected: garbage frozen with the rest would be held for the life of the process.
"""

from __future__ import annotations

import ctypes
import gc
import logging

log = logging.getLogger(__name__)


def settle_after_start() -> None:
    gc.collect()
    return_free_memory()
    gc.freeze()


def return_free_memory() -> None:
    """glibc's malloc_trim(0): free pages at the top of the heap and inside it go back to the
    kernel (a few MiB after start-up here; 5 MiB after a 5-minute live talk, whose 50 chunks
    a second malloc keeps for reuse). Nothing where there is no glibc. It walks the whole
    heap: outside start-up, call it from a worker thread."""
    try:
        ctypes.CDLL(None).malloc_trim(0)  # the process's own symbols: libc's among them
    except (OSError, AttributeError) as exc:
        log.debug("malloc_trim unavailable: %s", exc)
