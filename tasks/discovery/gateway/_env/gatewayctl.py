#!/usr/bin/env python3
"""`gateway`: inspect and control the messaging gateway of this workspace."""

import json
import os
import signal
import sys
from pathlib import Path

from gwlib import (CHANNEL_TYPES, Paths, config_sha, health, live_status, load_config,
                   start_watchdog, validate, write_config)
from episode import pid_alive, read_int, wait_for

WORKDIR = Path(os.environ.get("APP_WORKDIR") or os.getcwd()).resolve()
PATHS = Paths(WORKDIR)
USAGE = """usage: gateway status | start | stop | restart
       gateway channels list | channels add NAME TYPE TARGET | channels remove NAME
       gateway plugins list | plugins enable NAME | plugins disable NAME
       gateway config get [KEY] | config set KEY VALUE | config unset KEY | config validate
       gateway logs tail [N]"""


def die(msg: str, code: int = 1) -> None:
    print(msg)
    sys.exit(code)


def current_config() -> dict:
    cfg, err = load_config(PATHS)
    if cfg is None:
        die(err)
    return cfg


def editable() -> tuple[dict, dict]:
    """The config to edit and an untouched copy to validate the edit against."""
    cfg = current_config()
    return cfg, json.loads(json.dumps(cfg))


def token() -> str:
    cfg, _ = load_config(PATHS)
    try:
        return cfg["gateway"]["auth_token"]
    except (TypeError, KeyError):
        return ""


# ---------------------------------------------------------------- lifecycle

def status(_args) -> None:
    wd, gw = read_int(PATHS.run / "watchdog.pid"), read_int(PATHS.run / "gateway.pid")
    print(f"watchdog: {'running (pid %d)' % wd if pid_alive(wd) else 'not running'}")
    up = health(PATHS)
    port = read_int(PATHS.run / "port")
    print(f"gateway: {'running (pid %d), listening on 127.0.0.1:%d' % (gw, port) if up else 'not serving'}")
    print(f"starts: {PATHS.counter('starts')}, crashes: {PATHS.counter('crashes')}, "
          f"last exit: {(PATHS.run / 'last_exit').read_text() if (PATHS.run / 'last_exit').exists() else '-'}")
    cfg, err = load_config(PATHS)
    problems = [err] if err else validate(cfg, PATHS)
    print("config: " + ("valid" if not problems else f"INVALID ({len(problems)} problems; see config validate)"))
    live = live_status(PATHS, token()) if up else None
    if live and cfg and live.get("config_sha") != config_sha(cfg):
        print("note: the config on disk differs from the running config (restart to apply)")
    if live:
        print(f"active channels: {', '.join(sorted(live['channels'])) or '-'}; "
              f"loaded plugins: {', '.join(live['plugins']) or '-'}")


def ensure_watchdog() -> bool:
    """Start the watchdog when none runs; True when one was started."""
    if pid_alive(read_int(PATHS.run / "watchdog.pid")):
        return False
    old = read_int(PATHS.run / "watchdog.pid")
    start_watchdog(WORKDIR)
    wait_for(lambda: read_int(PATHS.run / "watchdog.pid") not in (None, old), 3.0)
    return True


def wait_start(old_pid: int | None) -> None:
    """Block until a new gateway serves, or report that it did not come up."""
    crashes = PATHS.counter("crashes")

    def settled():
        if PATHS.counter("crashes") > crashes:
            return "crashed"
        pid = read_int(PATHS.run / "gateway.pid")
        return "up" if pid != old_pid and health(PATHS) else None

    result = wait_for(settled, 5.0)
    if result == "up":
        print(f"gateway running (pid {read_int(PATHS.run / 'gateway.pid')}) on 127.0.0.1:{read_int(PATHS.run / 'port')}")
    else:
        die("gateway did not come up" + (" (it exited during startup)" if result else "") + "; see `gateway logs tail`")


def start(_args) -> None:
    old = read_int(PATHS.run / "gateway.pid") if health(PATHS) else None
    if old:
        die(f"gateway already running (pid {old})", 0)
    ensure_watchdog()
    wait_start(None)


def restart(_args) -> None:
    old = read_int(PATHS.run / "gateway.pid")
    if not ensure_watchdog() and pid_alive(old):
        os.kill(old, signal.SIGTERM)
    wait_start(old)


def stop(_args) -> None:
    wd = read_int(PATHS.run / "watchdog.pid")
    if not pid_alive(wd):
        die("watchdog is not running", 0)
    os.kill(wd, signal.SIGTERM)
    wait_for(lambda: not pid_alive(wd), 3.0)
    print("gateway stopped")


# ---------------------------------------------------------------- config edits

def save(cfg: dict, before: dict, what: str) -> None:
    """Refuse edits that add validation problems; an already broken file may be repaired stepwise."""
    old = set(validate(before, PATHS))
    new = validate(cfg, PATHS)
    added = [e for e in new if e not in old]
    if added:
        die("refused: the change would make the config invalid:\n  " + "\n  ".join(added))
    write_config(PATHS, cfg)
    print(f"{what}; restart the gateway to apply")
    if new:
        print(f"config still has {len(new)} problem(s); see `gateway config validate`")


def walk(cfg: dict, key: str, create: bool = False) -> tuple[dict, str]:
    parts = key.split(".")
    node = cfg
    for p in parts[:-1]:
        if not isinstance(node, dict) or (p not in node and not create):
            die(f"config: no key {key}")
        node = node.setdefault(p, {})
    if not isinstance(node, dict):
        die(f"config: no key {key}")
    return node, parts[-1]


def parse_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def config(args) -> None:
    cmd = args[0] if args else ""
    if cmd == "validate" and len(args) == 1:
        cfg, err = load_config(PATHS)
        problems = [err] if err else validate(cfg, PATHS)
        if problems:
            die("config is INVALID (the gateway refuses to start):\n  " + "\n  ".join(problems))
        print("config is valid")
    elif cmd == "get" and len(args) <= 2:
        cfg = current_config()
        if len(args) == 1:
            print(json.dumps(cfg, indent=2))
            return
        node, leaf = walk(cfg, args[1])
        if leaf not in node:
            die(f"config: no key {args[1]}")
        print(json.dumps(node[leaf], indent=2))
    elif cmd == "set" and len(args) == 3:
        cfg, before = editable()
        node, leaf = walk(cfg, args[1], create=True)
        node[leaf] = parse_value(args[2])
        save(cfg, before, f"set {args[1]} = {json.dumps(node[leaf])}")
    elif cmd == "unset" and len(args) == 2:
        cfg, before = editable()
        node, leaf = walk(cfg, args[1])
        if leaf not in node:
            die(f"config: no key {args[1]}")
        del node[leaf]
        save(cfg, before, f"removed {args[1]}")
    else:
        die(USAGE, 2)


def channels(args) -> None:
    cfg, before = editable()
    chans = cfg.setdefault("channels", {})
    if args == ["list"]:
        live = live_status(PATHS, token()) if health(PATHS) else None
        for name, ch in sorted(chans.items()):
            state = "enabled" if ch.get("enabled", True) else "disabled"
            active = "" if live is None else ("  (active)" if name in live["channels"] else "  (not active)")
            print(f"{name:<14} {ch.get('type', '?'):<8} {ch.get('target', '?'):<24} {state}{active}")
    elif args[:1] == ["add"] and len(args) == 4:
        if args[1] in chans:
            die(f"channel {args[1]} already exists")
        if args[2] not in CHANNEL_TYPES:
            die(f"unknown channel type {args[2]} (one of {', '.join(CHANNEL_TYPES)})")
        chans[args[1]] = {"type": args[2], "target": args[3], "enabled": True}
        save(cfg, before, f"added channel {args[1]}")
    elif args[:1] == ["remove"] and len(args) == 2:
        if chans.pop(args[1], None) is None:
            die(f"no channel {args[1]}")
        save(cfg, before, f"removed channel {args[1]}")
    else:
        die(USAGE, 2)


def plugins(args) -> None:
    cfg, before = editable()
    plugs = cfg.setdefault("plugins", {})
    if args == ["list"]:
        live = live_status(PATHS, token()) if health(PATHS) else None
        for name, entry in sorted(plugs.items()):
            try:
                manifest = json.loads(PATHS.manifest(name).read_text())
            except (OSError, ValueError):
                manifest = {"description": "(manifest missing)", "requires": []}
            state = "enabled" if entry.get("enabled") else "disabled"
            loaded = "" if live is None else ("  loaded" if name in live["plugins"] else "  not loaded")
            print(f"{name:<16} {state:<9}{loaded:<12} {manifest.get('description', '')}"
                  f" (requires: {', '.join(manifest.get('requires', [])) or '-'})")
    elif args[:1] in (["enable"], ["disable"]) and len(args) == 2:
        if args[1] not in plugs:
            die(f"no plugin {args[1]} in the config")
        plugs[args[1]]["enabled"] = args[0] == "enable"
        save(cfg, before, f"{args[0]}d plugin {args[1]}")
    else:
        die(USAGE, 2)


def logs(args) -> None:
    if not args or args[0] != "tail" or len(args) > 2 or (len(args) == 2 and not args[1].isdigit()):
        die(USAGE, 2)
    n = int(args[1]) if len(args) == 2 else 20
    lines = PATHS.log.read_text().splitlines() if PATHS.log.exists() else []
    print("\n".join(lines[-n:]) if lines else "(log is empty)")


if __name__ == "__main__":
    commands = {"status": status, "start": start, "stop": stop, "restart": restart,
                "config": config, "channels": channels, "plugins": plugins, "logs": logs}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        die(USAGE, 2)
    commands[sys.argv[1]](sys.argv[2:])
