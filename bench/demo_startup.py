"""`communectl run --demo`: time to a ready API and resident memory, against the floor of
merely importing the libraries it is built on (measured in the same run).

Goal (issue): under 75 MB and 1.5 s to a ready API.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMUNECTL = Path(sys.executable).parent / "communectl"
ROUNDS = 5
IMPORTS = "import fastapi, uvicorn, pydantic, pymodbus.client, astral.sun, tinydb, holidays"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def pss_mib(pid: int) -> float:
    """Proportional set size: shared pages (the interpreter, libraries) split between the
    processes that map them, so the controller's and its HTTP front's add up honestly."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no Pss")


def tree_pss_mib(pid: int) -> tuple[float, float]:
    """(the controller's PSS, the PSS of its children: the HTTP front process)."""
    return pss_mib(pid), sum(pss_mib(child) for child in children(pid))


def import_floor() -> tuple[float, float]:
    code = f"import os,time;t=time.perf_counter();{IMPORTS};d=time.perf_counter()-t;" \
           "print(d, open('/proc/self/status').read().split('VmRSS:')[1].split()[0])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024


def demo_start() -> tuple[float, float, float, float, float]:
    """Time to a ready API, RSS then and 3 s later, and the PSS of the controller and its
    front."""
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        env = {**os.environ, "COMMUNECTL_CONFIG": str(Path(workdir) / "absent.toml")}
        started = time.perf_counter()
        proc = subprocess.Popen([str(COMMUNECTL), "run", "--demo", "--api-port", str(port)],
                                cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}/api/v1/health"
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=1) as reply:
                        if reply.status == 200:
                            break
                except OSError:
                    if proc.poll() is not None:
                        raise RuntimeError("the demo exited") from None
                    time.sleep(0.005)
            ready_s = time.perf_counter() - started
            rss_ready = rss_mib(proc.pid)
            time.sleep(3)  # a few reconcile cycles later
            rss_later = rss_mib(proc.pid)
            core_pss, front_pss = tree_pss_mib(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
    return ready_s, rss_ready, rss_later, core_pss, front_pss


def main() -> None:
    floors = [import_floor() for _ in range(ROUNDS)]
    runs = [demo_start() for _ in range(ROUNDS)]
    floor_s = statistics.median(f[0] for f in floors)
    floor_mib = statistics.median(f[1] for f in floors)
    ready_s = statistics.median(r[0] for r in runs)
    rss_ready = statistics.median(r[1] for r in runs)
    rss_later = max(r[2] for r in runs)
    core_pss = max(r[3] for r in runs)
    front_pss = max(r[4] for r in runs)
    print(f"baseline: importing the libraries: {floor_s:.3f} s, {floor_mib:.1f} MiB "
          f"(median of {ROUNDS})")
    print(f"communectl run --demo: ready API in {ready_s:.3f} s (median of {ROUNDS}), "
          f"RSS {rss_ready:.1f} MiB at ready, {rss_later:.1f} MiB 3 s later (max)")
    print(f"ratio to the import floor: time x{ready_s / floor_s:.2f}, "
          f"memory x{rss_later / floor_mib:.2f}")
    print(f"with its HTTP front process (api.front_process, the default): PSS {core_pss:.1f} "
          f"MiB controller + {front_pss:.1f} MiB front = {core_pss + front_pss:.1f} MiB (max)")
    print(f"goal: < 1.5 s and < 75 MB (71.5 MiB): the controller process "
          f"{'met' if ready_s < 1.5 and rss_later < 71.5 else 'NOT met'}; with its front "
          f"{'met' if ready_s < 1.5 and core_pss + front_pss < 71.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
