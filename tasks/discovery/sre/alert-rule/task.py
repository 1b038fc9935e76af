"""A latency rule is wrong: threshold written in seconds (0.3 for 300 ms) or the comparison
reversed. Judged by behaviour: it must fire on a sustained incident and stay quiet on a
healthy day with a two-minute spike."""

import json

from srelib import Paths, World, default_rules, fires

HEALTHY = [45, 48, 52, 47, 310, 330, 50, 46, 44, 49, 51, 47, 45, 46, 48]
INCIDENT = [45, 48, 340, 360, 420, 390, 410, 380, 400, 395, 370, 365, 50, 47, 46]


def scenario(ep):
    world = World(ep.rng)
    svc = ep.rng.choice(world.services)
    name = f"HighLatency-{svc}"
    rule = next(r for r in world.rules if r["name"] == name)
    field, value = ("threshold", rule["threshold"] / 1000) if ep.seed % 2 else ("op", "<")
    rule[field] = value
    return world, svc, name, field, default_rules(svc)[1][field]


def setup(ep):
    scenario(ep)[0].write(ep)


def check(ep, v):
    world, svc, name, _, _ = scenario(ep)
    rules = {r["name"]: r for r in json.loads(Paths(ep.workdir).rules.read_text())}
    rule = rules.get(name)
    if not v.subgoal("rule still exists", rule is not None):
        return
    v.subgoal("rule not silenced", not rule.get("silenced"))
    v.subgoal("fires on a sustained latency incident", fires(rule, INCIDENT))
    v.subgoal("quiet on a healthy day with a short spike", not fires(rule, HEALTHY))
    if rule.get("service") != svc or rule.get("metric") != "p99_ms":
        v.collateral(f"{name} now watches something else")
    for other in world.rules:
        if other["name"] != name and rules.get(other["name"]) != other:
            v.collateral(f"rule {other['name']} was changed or deleted")


def oracle(ep, steps):
    _, svc, name, field, right = scenario(ep)
    steps.call("alerts", "list")
    steps.call("alerts", "show", name)
    steps.call("fs", "read", f"prod/runbooks/{svc}.md")
    steps.call("alerts", "edit", name, field, right)
    steps.finish(f"{name} had a wrong {field}; set it to {right} as the runbook says")
