"""A hand edit broke the strict config in two of four ways; the gateway refuses to start.
Each edit shows its intent (a '120/min' rate, a misspelt key, 'warning', 'no'), so the
fix keeps the intended value in the valid form."""

import copy
import itertools

from gwlib import Paths, base_config, build, judge_config, stable

EDITS = ("rate", "typo", "level", "flag")


def scenario(ep):
    """(valid original, broken file, intended config, oracle's repairs as gateway args)."""
    cfg = base_config(ep.rng)
    broken, intended, repairs = copy.deepcopy(cfg), copy.deepcopy(cfg), []
    kinds = list(itertools.combinations(EDITS, 2))[ep.seed % 6]
    chan_a, chan_b = ep.rng.sample(sorted(cfg["channels"]), 2)
    if "rate" in kinds:
        rate = cfg["gateway"]["rate_limit"] * 2
        broken["gateway"]["rate_limit"] = f"{rate}/min"
        intended["gateway"]["rate_limit"] = rate
        repairs.append(["config", "set", "gateway.rate_limit", str(rate)])
    if "typo" in kinds:
        target = cfg["channels"][chan_a]["target"] + "-new"
        del broken["channels"][chan_a]["target"]
        broken["channels"][chan_a]["taget"] = target
        intended["channels"][chan_a]["target"] = target
        repairs += [["config", "unset", f"channels.{chan_a}.taget"],
                    ["config", "set", f"channels.{chan_a}.target", target]]
    if "level" in kinds:
        broken["gateway"]["log_level"] = "warning"
        intended["gateway"]["log_level"] = "warn"
        repairs.append(["config", "set", "gateway.log_level", "warn"])
    if "flag" in kinds:
        broken["channels"][chan_b]["enabled"] = "no"
        intended["channels"][chan_b]["enabled"] = False
        repairs.append(["config", "set", f"channels.{chan_b}.enabled", "false"])
    return cfg, broken, intended, repairs


def setup(ep):
    _, broken, _, _ = scenario(ep)
    build(ep, broken, healthy=False)


def check(ep, v):
    _, _, intended, repairs = scenario(ep)
    paths = Paths(ep.workdir)
    v.subgoal("gateway runs", stable(paths))
    judge_config(v, paths, intended, tuple(r[2] for r in repairs))


def oracle(ep, steps):
    _, _, _, repairs = scenario(ep)
    steps.call("gateway", "config", "validate")
    for args in repairs:
        steps.call("gateway", *args)
    steps.call("gateway", "restart")
    steps.finish("repaired the hand-edited config (kept the intended values) and restarted the gateway")
