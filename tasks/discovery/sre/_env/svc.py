"""One production service: loads its config, refuses to start (exit) when the config
cannot work, otherwise serves /metrics and /health on a loopback port."""

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from srelib import Paths, StartupError, model, stamp
from episode import write_atomic

SVC = sys.argv[1]
PATHS = Paths(os.environ.get("APP_WORKDIR") or os.getcwd())


def log(level: str, msg: str) -> None:
    with open(PATHS.log(SVC), "a") as f:
        f.write(f"{stamp(time.time())} {level} {msg}\n")


def main() -> int:
    cfg = PATHS.load(SVC)
    try:
        metrics = model(cfg)
    except StartupError as e:
        log("FATAL", str(e))
        return e.code
    body = json.dumps({"service": SVC, "version": cfg["version"], "pid": os.getpid(), **metrics,
                       "config": cfg}).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            data = body if self.path == "/metrics" else b'{"ok": true}'
            self.send_response(200 if self.path in ("/metrics", "/health") else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = HTTPServer(("127.0.0.1", 0), Handler)
    write_atomic(PATHS.run / f"{SVC}.port", str(server.server_address[1]))
    write_atomic(PATHS.run / f"{SVC}.pid", str(os.getpid()))
    log("INFO", f"started version {cfg['version']} (pid {os.getpid()}), mem {metrics['mem_mb']} MB")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
