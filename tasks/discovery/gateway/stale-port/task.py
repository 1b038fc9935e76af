"""A leftover old gateway build still holds the configured port; the new gateway cannot
bind and the watchdog loops. Fix: stop the stale process (only it), let the gateway bind."""

import sys

from gwlib import ENV, Paths, base_config, build, judge_config, stable
from episode import PRIVATE, pid_alive, read_int, wait_for


def scenario(ep):
    return base_config(ep.rng), ep.seed != 1  # seeds 2.. also run an exporter that must survive


def _listener(ep, name: str) -> tuple[int, int]:
    portfile = ep.path(PRIVATE, f"{name}.port")
    pid = ep.spawn([sys.executable, "-S", str(ENV / "listener.py"), name, str(portfile)])
    port = wait_for(lambda: read_int(portfile), 5.0)
    if not port:
        raise SystemExit(f"setup: {name} did not start")
    return pid, port


def setup(ep):
    cfg, exporter = scenario(ep)
    ep.path(PRIVATE).mkdir()
    facts = {}
    facts["stale_pid"], cfg["gateway"]["port"] = _listener(ep, "gateway-0.9-legacy")
    if exporter:
        facts["exporter_pid"], _ = _listener(ep, "metrics-exporter")
    ep.save_facts(facts)
    build(ep, cfg, healthy=False)


def check(ep, v):
    cfg, exporter = scenario(ep)
    facts, paths = ep.facts(), Paths(ep.workdir)
    cfg["gateway"]["port"] = read_int(ep.path(PRIVATE, "gateway-0.9-legacy.port"))
    v.subgoal("stale process stopped", not pid_alive(facts["stale_pid"]))
    v.subgoal("gateway serves on its configured port",
              stable(paths) and read_int(paths.run / "port") == cfg["gateway"]["port"])
    v.subgoal("gateway supervised by the watchdog", pid_alive(read_int(paths.run / "watchdog.pid")))
    if exporter and not pid_alive(facts["exporter_pid"]):
        v.collateral("killed the unrelated metrics exporter")
    judge_config(v, paths, cfg)


def oracle(ep, steps):
    facts = ep.facts()
    port = read_int(ep.path(PRIVATE, "gateway-0.9-legacy.port"))
    steps.call("gateway", "logs", "tail", "5")
    steps.call("ports", "who-has", port)
    steps.call("proc", "kill", facts["stale_pid"])
    steps.call("gateway", "restart")
    steps.finish(f"an old gateway build (pid {facts['stale_pid']}) held port {port}; stopped it and restarted")
