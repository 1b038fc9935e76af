"""The latest push makes a service die at startup: a cache too large for its memory limit
(odd seeds) or a zero connection pool (even seeds); the supervisor loops."""

from srelib import Paths, World, judge_configs, model, stable, StartupError


def scenario(ep):
    world = World(ep.rng)
    svc = ep.rng.choice(world.services)
    cfg = world.config(svc)
    if ep.seed % 2:
        key, value = "cache_entries", (cfg["memory_limit_mb"] + 200) * 1000
    else:
        key, value = "max_conns", 0
    did = world.deploy(svc, 8, {key: value, "log_level": "debug"})
    return world, svc, did, key


def setup(ep):
    scenario(ep)[0].write(ep)


def check(ep, v):
    world, svc, _, key = scenario(ep)
    paths = Paths(ep.workdir)
    cfg = paths.load(svc)
    try:
        model(cfg)
        workable = True
    except StartupError:
        workable = False
    v.subgoal(f"{svc} config can start", workable)
    v.subgoal(f"{svc} stays up", stable(paths, svc) is not None)
    if cfg.get("memory_limit_mb") != world.config(svc)["memory_limit_mb"]:
        v.collateral(f"raised the memory limit of {svc}")
    judge_configs(v, paths, world, {}, {f"{svc}.{key}", f"{svc}.log_level", f"{svc}.memory_limit_mb"})


def oracle(ep, steps):
    _, svc, did, key = scenario(ep)
    steps.call("service", "list")
    steps.call("logs", "tail", svc, "8")
    steps.call("config", "history", svc)
    steps.call("config", "rollback", svc, did, key)
    steps.finish(f"deploy {did} set {key} so {svc} could not start; rolled that key back, it stays up")
