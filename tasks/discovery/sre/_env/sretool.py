#!/usr/bin/env python3
"""The SRE tools: `service`, `metrics`, `logs`, `config`, `alerts`, `disk` (first argument)."""

import glob
import json
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path

from srelib import Paths, fires, live, stamp
from episode import pid_alive, read_int, wait_for

PATHS = Paths(Path(os.environ.get("APP_WORKDIR") or os.getcwd()).resolve())
USAGE = {
    "service": "usage: service list | service status [SERVICE] | service restart SERVICE",
    "metrics": "usage: metrics list | metrics query SERVICE METRIC [MINUTES]",
    "logs": "usage: logs tail SERVICE [N] | logs search SERVICE REGEX [N]",
    "config": "usage: config show SERVICE | config history [SERVICE] | config set SERVICE KEY VALUE\n"
              "       config rollback SERVICE DEPLOY_ID [KEY]",
    "alerts": "usage: alerts list | alerts show NAME | alerts edit NAME FIELD VALUE | alerts silence NAME",
    "disk": "usage: disk usage [DIR] | disk clean PATH...   (paths relative to the workspace; globs allowed)",
}
METRICS = ("error_rate", "p99_ms", "mem_mb")


def die(msg: str, code: int = 1) -> None:
    print(msg)
    sys.exit(code)


def service_name(name: str) -> str:
    if name not in PATHS.names():
        die(f"unknown service {name} (services: {', '.join(PATHS.names())})")
    return name


# ---------------------------------------------------------------- service

def restart(svc: str) -> str:
    """Ask the supervisor for a fresh process and wait for the outcome."""
    if not pid_alive(read_int(PATHS.run / "svcd.pid")):
        return "the supervisor is not running"
    old, crashes = read_int(PATHS.run / f"{svc}.pid"), PATHS.counter(svc, "crashes")
    if pid_alive(old):
        os.kill(old, signal.SIGTERM)

    def outcome():
        if PATHS.counter(svc, "crashes") > crashes:
            return "failed to start (see its log)"
        body = live(PATHS, svc)
        return "restarted, now running" if body and body["pid"] != old else None

    return wait_for(outcome, 5.0) or "did not come back within 5s"


def service(args: list[str]) -> None:
    if args == ["list"] or args[:1] == ["status"] and len(args) <= 2:
        names = [service_name(args[1])] if len(args) == 2 else PATHS.names()
        print(f"{'SERVICE':<10} {'STATE':<10} {'PID':>7} {'RESTARTS':>8} {'CRASHES':>8}  VERSION")
        for svc in names:
            body = live(PATHS, svc)
            state = "running" if body else ("crashing" if PATHS.counter(svc, "crashes") else "down")
            print(f"{svc:<10} {state:<10} {body['pid'] if body else '-':>7} {PATHS.counter(svc, 'restarts'):>8} "
                  f"{PATHS.counter(svc, 'crashes'):>8}  {body['version'] if body else '-'}")
    elif args[:1] == ["restart"] and len(args) == 2:
        print(f"{args[1]}: {restart(service_name(args[1]))}")
    else:
        die(USAGE["service"], 2)


# ---------------------------------------------------------------- metrics and logs

def metrics(args: list[str]) -> None:
    if args == ["list"]:
        print(f"services: {', '.join(PATHS.names())}\nmetrics: {', '.join(METRICS)} (one sample a minute)")
        return
    if args[:1] != ["query"] or len(args) not in (3, 4) or args[2] not in METRICS:
        die(USAGE["metrics"] + f"\nMETRIC is one of {', '.join(METRICS)}", 2)
    svc = service_name(args[1])
    minutes = int(args[3]) if len(args) == 4 and args[3].isdigit() else 30
    rows = [json.loads(x) for x in (PATHS.metrics / f"{svc}.jsonl").read_text().splitlines()]
    for row in rows[-minutes:]:
        print(f"{row['time']}  {row[args[2]]}")
    body = live(PATHS, svc)
    print(f"now (live)            {body[args[2]] if body else 'no data: service not running'}")


def logs(args: list[str]) -> None:
    if len(args) < 2 or args[0] not in ("tail", "search"):
        die(USAGE["logs"], 2)
    lines = PATHS.log(service_name(args[1])).read_text().splitlines()
    if args[0] == "tail" and len(args) <= 3:
        n = int(args[2]) if len(args) == 3 and args[2].isdigit() else 20
        print("\n".join(lines[-n:]))
    elif args[0] == "search" and len(args) in (3, 4):
        try:
            pattern = re.compile(args[2], re.I)
        except re.error as e:
            die(f"bad regex: {e}", 2)
        hits = [line for line in lines if pattern.search(line)]
        n = int(args[3]) if len(args) == 4 and args[3].isdigit() else 30
        print("\n".join(hits[-n:]) or "no matching lines")
        if len(hits) > n:
            print(f"({len(hits) - n} earlier matches not shown)")
    else:
        die(USAGE["logs"], 2)


# ---------------------------------------------------------------- config

def apply(svc: str, changes: dict, note: str) -> None:
    """A deploy: write the config, record it in the history, restart the service."""
    cfg = PATHS.load(svc)
    record = {"id": "d-" + os.urandom(2).hex(), "time": stamp(time.time()), "service": svc,
              "author": "you", "changes": {k: [cfg.get(k), v] for k, v in changes.items()}, "note": note}
    cfg.update(changes)
    PATHS.config(svc).write_text(json.dumps(cfg, indent=2) + "\n")
    with open(PATHS.deploys, "a") as f:
        f.write(json.dumps(record) + "\n")
    summary = ", ".join(f"{k}: {json.dumps(o)} -> {json.dumps(n)}" for k, (o, n) in record["changes"].items())
    print(f"deploy {record['id']} ({note}): {summary}\n{svc}: {restart(svc)}")


def config(args: list[str]) -> None:
    cmd = args[0] if args else ""
    if cmd == "show" and len(args) == 2:
        print(json.dumps(PATHS.load(service_name(args[1])), indent=2))
    elif cmd == "history" and len(args) <= 2:
        for d in PATHS.history():
            if len(args) == 2 and d["service"] != service_name(args[1]):
                continue
            changes = ", ".join(f"{k}: {json.dumps(o)} -> {json.dumps(n)}" for k, (o, n) in d["changes"].items())
            print(f"{d['id']}  {d['time']}  {d['service']:<9} by {d['author']:<10} {changes}")
    elif cmd == "set" and len(args) == 4:
        svc = service_name(args[1])
        if args[2] not in PATHS.load(svc):
            die(f"{svc} has no config key {args[2]} (see config show {svc})")
        try:
            value = json.loads(args[3])
        except ValueError:
            value = args[3]
        apply(svc, {args[2]: value}, "manual change")
    elif cmd == "rollback" and len(args) in (3, 4):
        svc = service_name(args[1])
        deploy = next((d for d in PATHS.history() if d["id"] == args[2] and d["service"] == svc), None)
        if deploy is None:
            die(f"no deploy {args[2]} for {svc} (see config history {svc})")
        keys = [args[3]] if len(args) == 4 else list(deploy["changes"])
        if any(k not in deploy["changes"] for k in keys):
            die(f"deploy {args[2]} did not change {args[3]}")
        apply(svc, {k: deploy["changes"][k][0] for k in keys}, f"rollback of {args[2]}")
    else:
        die(USAGE["config"], 2)


# ---------------------------------------------------------------- alerts

def alerts(args: list[str]) -> None:
    rules = json.loads(PATHS.rules.read_text())
    by_name = {r["name"]: r for r in rules}
    cmd = args[0] if args else ""
    if cmd == "list" and len(args) == 1:
        for r in rules:
            state = "silenced" if r.get("silenced") else ("FIRING" if fires(r, recent(r)) else "ok")
            print(f"{r['name']:<26} {state:<9} {r['metric']} {r['op']} {r['threshold']} for {r['for_minutes']}m")
        return
    if cmd not in ("show", "edit", "silence") or len(args) < 2 or args[1] not in by_name:
        die(USAGE["alerts"] + ("" if len(args) < 2 else f"\nno rule named {args[1]!r} (see alerts list)"), 2)
    rule = by_name[args[1]]
    if cmd == "show" and len(args) == 2:
        series = recent(rule)
        print(json.dumps(rule, indent=2))
        print(f"last {len(series)} samples of {rule['metric']}: {', '.join(str(x) for x in series[-10:])}")
        print(f"state: {'FIRING' if fires(rule, series) else 'ok'}")
    elif cmd == "edit" and len(args) == 4 and args[2] in ("metric", "op", "threshold", "for_minutes", "severity"):
        value = args[3]
        if args[2] in ("threshold", "for_minutes"):
            try:
                value = float(value) if args[2] == "threshold" else int(value)
            except ValueError:
                die(f"{args[2]} must be a number")
        if args[2] == "op" and value not in (">", ">=", "<", "<="):
            die("op must be one of > >= < <=")
        rule[args[2]] = value
        PATHS.rules.write_text(json.dumps(rules, indent=2) + "\n")
        print(f"{rule['name']}: {args[2]} = {json.dumps(value)}; now {'FIRING' if fires(rule, recent(rule)) else 'ok'}")
    elif cmd == "silence" and len(args) == 2:
        rule["silenced"] = True
        PATHS.rules.write_text(json.dumps(rules, indent=2) + "\n")
        print(f"{rule['name']} silenced")
    else:
        die(USAGE["alerts"] + "\nFIELD is one of metric, op, threshold, for_minutes, severity", 2)


def recent(rule: dict) -> list[float]:
    """The rule's metric over the last 15 minutes plus the live value."""
    try:
        rows = [json.loads(x) for x in (PATHS.metrics / f"{rule['service']}.jsonl").read_text().splitlines()]
    except OSError:
        return []
    series = [row[rule["metric"]] for row in rows[-15:] if rule["metric"] in row]
    body = live(PATHS, rule["service"])
    return series + ([body[rule["metric"]]] if body and rule["metric"] in body else [])


# ---------------------------------------------------------------- disk

def size_of(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return str(n)


def inside_volume(rel: str) -> Path:
    p = (PATHS.workdir / rel).resolve()
    if p != PATHS.volume and PATHS.volume not in p.parents:
        die(f"disk: {rel} is not on the data volume (prod/var)")
    return p


def disk(args: list[str]) -> None:
    disk_info = json.loads(PATHS.disk.read_text())
    cap, used = disk_info["capacity_bytes"], size_of(PATHS.volume)
    if args[:1] == ["usage"] and len(args) <= 2:
        print(f"volume prod/var: {human(used)} used of {human(cap)} ({100 * used / cap:.1f}%)")
        d = inside_volume(args[1]) if len(args) == 2 else PATHS.volume
        if d.is_dir():
            for child in sorted(d.iterdir()):
                mtime = time.strftime("%Y-%m-%d", time.gmtime(child.stat().st_mtime))
                print(f"{human(size_of(child)):>10}  {mtime}  {child.relative_to(PATHS.workdir)}{'/' if child.is_dir() else ''}")
    elif args[:1] == ["clean"] and len(args) >= 2:
        freed = 0
        for pattern in args[1:]:
            matches = sorted(glob.glob(str(PATHS.workdir / pattern))) or die(f"disk: nothing matches {pattern}")
            for m in matches:
                p = inside_volume(m)
                if p == PATHS.volume:
                    die("disk: refusing to remove the whole volume")
                freed += size_of(p)
                shutil.rmtree(p) if p.is_dir() else p.unlink()
                print(f"removed {p.relative_to(PATHS.workdir)}")
        used = size_of(PATHS.volume)
        print(f"freed {human(freed)}; volume now {100 * used / cap:.1f}% used")
    else:
        die(USAGE["disk"], 2)


if __name__ == "__main__":
    tools = {"service": service, "metrics": metrics, "logs": logs, "config": config, "alerts": alerts, "disk": disk}
    if len(sys.argv) < 2 or sys.argv[1] not in tools:
        die("usage: sretool.py service|metrics|logs|config|alerts|disk ARGS...", 2)
    tools[sys.argv[1]](sys.argv[2:])
