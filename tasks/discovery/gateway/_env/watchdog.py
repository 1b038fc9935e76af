"""Keeps the gateway running: restarts it when it exits, with a short backoff after crashes.

Counters in gateway/run/: starts, crashes, last_exit. A SIGTERM to the gateway child (what
`gateway restart` does) restarts it at once and is not counted as a crash."""

import os
import signal
import subprocess
import sys
import time

from gwlib import ENV, Paths
from episode import write_atomic

PATHS = Paths(os.environ.get("APP_WORKDIR") or os.getcwd())
child: subprocess.Popen | None = None


def bump(name: str) -> None:
    write_atomic(PATHS.run / name, str(PATHS.counter(name) + 1))


def stop(signum, frame):
    # No Popen.wait() here: the main loop may be inside one, holding its lock.
    if child:
        try:
            os.kill(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    os._exit(0)


def main() -> None:
    global child
    signal.signal(signal.SIGTERM, stop)
    write_atomic(PATHS.run / "watchdog.pid", str(os.getpid()))
    streak = 0
    while True:
        started = time.monotonic()
        bump("starts")
        child = subprocess.Popen([sys.executable, "-S", str(ENV / "gateway.py")], stdin=subprocess.DEVNULL)
        rc = child.wait()
        write_atomic(PATHS.run / "last_exit", f"{rc} at {time.strftime('%H:%M:%S')}")
        if rc == -signal.SIGTERM:
            streak = 0
            continue
        bump("crashes")
        streak = 0 if time.monotonic() - started > 5 else streak + 1
        time.sleep(min(0.1 * 2 ** streak, 1.0))


if __name__ == "__main__":
    main()
