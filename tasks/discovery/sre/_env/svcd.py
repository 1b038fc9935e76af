"""The supervisor: runs every service in prod/services/ and restarts any that exits, with
a backoff after crashes. A SIGTERM to a service (a requested restart) restarts it at once.
Per service in prod/run/: NAME.restarts (all restarts), NAME.crashes."""

import os
import signal
import subprocess
import sys
import time

from srelib import ENV, Paths, stamp
from episode import write_atomic

PATHS = Paths(os.environ.get("APP_WORKDIR") or os.getcwd())


class Slot:
    def __init__(self, name: str):
        self.name, self.proc, self.next_start, self.streak, self.started = name, None, 0.0, 0, 0.0

    def bump(self, what: str) -> None:
        write_atomic(PATHS.run / f"{self.name}.{what}", str(PATHS.counter(self.name, what) + 1))

    def tick(self, now: float) -> None:
        if self.proc is None:
            if now >= self.next_start:
                self.proc = subprocess.Popen([sys.executable, "-S", str(ENV / "svc.py"), self.name],
                                             stdin=subprocess.DEVNULL)
                self.started = now
            return
        rc = self.proc.poll()
        if rc is None:
            return
        self.proc = None
        self.bump("restarts")
        if rc == -signal.SIGTERM:
            self.next_start = now
            return
        self.bump("crashes")
        self.streak = 0 if now - self.started > 5 else self.streak + 1
        delay = min(0.1 * 2 ** self.streak, 1.0)
        self.next_start = now + delay
        with open(PATHS.log(self.name), "a") as f:
            f.write(f"{stamp(time.time())} WARN supervisor: {self.name} exited with status {rc}; "
                    f"restart #{PATHS.counter(self.name, 'restarts')} in {delay:.1f}s\n")


def main() -> None:
    write_atomic(PATHS.run / "svcd.pid", str(os.getpid()))
    slots = [Slot(name) for name in PATHS.names()]

    def stop(signum, frame):
        for slot in slots:
            if slot.proc:
                slot.proc.send_signal(signal.SIGTERM)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    while True:
        now = time.monotonic()
        for slot in slots:
            slot.tick(now)
        time.sleep(0.05)


if __name__ == "__main__":
    main()
