"""The latest push changed three keys; one of them (a too-small timeout or connection
pool) makes requests fail. Fix: roll back that key only."""

from srelib import HARMLESS_FLAGS, Paths, World, judge_configs, stable


def scenario(ep):
    world = World(ep.rng)
    svc = ep.rng.choice(world.services)
    cfg = world.config(svc)
    bad_key, bad_value = ep.rng.choice([("timeout_ms", 40), ("max_conns", 10)])
    flag = f"flags.{ep.rng.choice(world.flags(svc, HARMLESS_FLAGS))}"
    changes = {bad_key: bad_value, "log_level": "warn", flag: not cfg[flag]}
    if ep.seed % 2:  # distractor: a harmless push to another service a few minutes later
        other = next(s for s in world.services if s != svc)
        world.deploy(other, 9, {"cache_entries": world.config(other)["cache_entries"] + 10000})
    did = world.deploy(svc, 14, changes)
    return world, svc, did, bad_key, cfg[bad_key]


def setup(ep):
    scenario(ep)[0].write(ep)


def check(ep, v):
    world, svc, _, bad_key, good_value = scenario(ep)
    paths = Paths(ep.workdir)
    expected = world.config(svc)
    expected[bad_key] = good_value
    body = stable(paths, svc)
    v.subgoal(f"{bad_key} of {svc} rolled back", paths.load(svc).get(bad_key) == good_value)
    v.subgoal(f"{svc} serves without errors", body is not None and body["error_rate"] < 0.01)
    judge_configs(v, paths, world, {svc: expected}, {f"{svc}.{bad_key}"})


def oracle(ep, steps):
    _, svc, did, bad_key, _ = scenario(ep)
    steps.call("alerts", "list")
    steps.call("config", "history", svc)
    steps.call("config", "rollback", svc, did, bad_key)
    steps.finish(f"rolled back {bad_key} of deploy {did} on {svc}; errors are gone")
