"""The messaging gateway: loads and validates config, loads plugins, serves HTTP on loopback.

Deliberately fragile like the real thing: a plugin whose manifest requires a config key
that is missing crashes the whole process at startup (the watchdog then loops)."""

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from gwlib import Paths, config_sha, load_config, validate
from episode import write_atomic

PATHS = Paths(os.environ.get("APP_WORKDIR") or os.getcwd())
LOG = open(PATHS.log, "a", buffering=1)


def log(level: str, msg: str) -> None:
    LOG.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [{level}] {msg}\n")


def load_plugins(cfg: dict) -> list[str]:
    loaded = []
    for name, entry in sorted(cfg.get("plugins", {}).items()):
        if not entry["enabled"]:
            continue
        manifest = json.loads(PATHS.manifest(name).read_text())
        for key in manifest.get("requires", []):
            if key not in entry.get("config", {}):
                raise RuntimeError(f"plugin {name}: required config key '{key}' is missing "
                                   f"(plugins.{name}.config.{key})")
        log("info", f"plugin {name} loaded")
        loaded.append(name)
    return loaded


class Handler(BaseHTTPRequestHandler):
    cfg: dict = {}
    plugins: list[str] = []

    def log_message(self, fmt, *args):  # requests are not worth a log line each
        pass

    def reply(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.cfg['gateway']['auth_token']}":
            return True
        who = self.headers.get("X-Client", "unknown")
        log("warn", f"auth failed for client '{who}': token mismatch ({self.command} {self.path})")
        self.reply(401, {"error": "unauthorized: token mismatch"})
        return False

    def do_GET(self):
        if self.path == "/health":
            return self.reply(200, {"ok": True})
        if self.path == "/status" and self.authorized():
            active = {n: c for n, c in self.cfg.get("channels", {}).items() if c.get("enabled", True)}
            return self.reply(200, {"pid": os.getpid(), "channels": active, "plugins": self.plugins,
                                    "gateway": {k: v for k, v in self.cfg["gateway"].items() if k != "auth_token"},
                                    "config_sha": config_sha(self.cfg)})
        if self.path not in ("/health", "/status"):
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/send":
            return self.reply(404, {"error": "not found"})
        if not self.authorized():
            return
        try:
            msg = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            channel = msg["channel"]
        except (ValueError, KeyError, TypeError):
            return self.reply(400, {"error": "expected {\"channel\": ..., \"text\": ...}"})
        if channel not in self.cfg.get("channels", {}) or not self.cfg["channels"][channel].get("enabled", True):
            return self.reply(404, {"error": f"no active channel {channel}"})
        with open(PATHS.gw / "messages.jsonl", "a") as f:
            f.write(json.dumps({"client": self.headers.get("X-Client"), **msg}) + "\n")
        log("info", f"delivered message from '{self.headers.get('X-Client')}' to {channel}")
        self.reply(200, {"ok": True, "channel": channel})


def main() -> int:
    log("info", f"gateway starting (pid {os.getpid()})")
    cfg, err = load_config(PATHS)
    errors = [err] if err else validate(cfg, PATHS)
    if errors:
        for e in errors:
            log("error", f"config invalid: {e}")
        log("error", "refusing to start with an invalid config (run: config validate)")
        return 78
    try:
        Handler.plugins = load_plugins(cfg)
    except Exception as e:
        log("error", f"fatal: {type(e).__name__}: {e}")
        log("error", "gateway crashed while loading plugins")
        return 1
    Handler.cfg = cfg
    port = cfg["gateway"]["port"]
    try:
        server = HTTPServer(("127.0.0.1", port), Handler)
    except OSError as e:
        log("error", f"cannot listen on 127.0.0.1:{port}: {e.strerror.lower()}")
        return 1
    write_atomic(PATHS.run / "port", str(server.server_address[1]))
    write_atomic(PATHS.run / "gateway.pid", str(os.getpid()))
    log("info", f"listening on 127.0.0.1:{server.server_address[1]} with "
        f"{len(Handler.plugins)} plugins, channels: {', '.join(sorted(cfg.get('channels', {})))}")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
