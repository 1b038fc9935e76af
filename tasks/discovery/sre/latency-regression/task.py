"""Four pushes to one service in the last hour each flip one flag; one of them enables a
slow code path (p99 x6). Fix: revert only that push (or only that flag)."""

from srelib import HARMLESS_FLAGS, SLOW_FLAGS, Paths, World, judge_configs, stable


def scenario(ep):
    rng = ep.rng
    world = World(rng)
    svc = rng.choice(world.services)
    slow = f"flags.{rng.choice(world.flags(svc, SLOW_FLAGS))}"
    harmless = [f"flags.{f}" for f in world.flags(svc, HARMLESS_FLAGS)]
    culprit_at = rng.randint(1, 2)
    ids = []
    for i, minutes_ago in enumerate((52, 41, 27, 12)):
        key = slow if i == culprit_at else harmless[i % len(harmless)]
        ids.append(world.deploy(svc, minutes_ago, {key: not world.config(svc)[key]}))
    if ep.seed % 2:  # distractor: the same slow flag name flipped on another service long ago
        other = next(s for s in world.services if s != svc)
        world.deploy(other, 35, {"log_level": "debug"})
    return world, svc, slow, ids[culprit_at]


def setup(ep):
    scenario(ep)[0].write(ep)


def check(ep, v):
    world, svc, slow, _ = scenario(ep)
    paths = Paths(ep.workdir)
    expected = world.config(svc)
    expected[slow] = False
    body = stable(paths, svc)
    v.subgoal(f"{slow} of {svc} reverted", paths.load(svc).get(slow) is False)
    v.subgoal(f"{svc} p99 back to normal", body is not None and body["p99_ms"] < 100)
    judge_configs(v, paths, world, {svc: expected}, {f"{svc}.{slow}"})


def oracle(ep, steps):
    _, svc, slow, did = scenario(ep)
    steps.call("alerts", "list")
    steps.call("metrics", "query", svc, "p99_ms", "60")
    steps.call("config", "history", svc)
    steps.call("config", "rollback", svc, did)
    steps.finish(f"deploy {did} turned on {slow} on {svc}, which raised p99; rolled it back")
