"""An updated plugin now requires a config key the config lacks: the gateway crashes at
startup and the watchdog loops. Fix: disable that plugin, or give it the key."""

import copy
import json

from gwlib import PLUGIN_POOL, Paths, base_config, build, judge_config, stable

KEY = "owner_id"


def scenario(ep):
    cfg = base_config(ep.rng)
    enabled = sorted(n for n, p in cfg["plugins"].items() if p["enabled"])
    bad = ep.rng.choice(enabled)
    manifests = {bad: PLUGIN_POOL[bad][1] + [KEY]}
    if ep.seed % 2:  # distractor: the disabled plugin would crash too if someone enabled it
        off = next(n for n, p in cfg["plugins"].items() if not p["enabled"])
        manifests[off] = PLUGIN_POOL[off][1] + [KEY]
    return cfg, bad, manifests


def setup(ep):
    cfg, _, manifests = scenario(ep)
    build(ep, cfg, manifests=manifests, healthy=False)


def check(ep, v):
    cfg, bad, _ = scenario(ep)
    paths = Paths(ep.workdir)
    disabled = copy.deepcopy(cfg)
    disabled["plugins"][bad]["enabled"] = False
    configured = copy.deepcopy(cfg)
    configured["plugins"][bad]["config"][KEY] = _owner(paths, bad)
    v.subgoal("gateway stays up (no crash loop)", stable(paths))
    judge_config(v, paths, [disabled, configured], (f"plugins.{bad}.",))


def _owner(paths, bad):
    """Whatever non-empty owner the agent set counts as a fix."""
    try:
        value = json.loads(paths.config.read_text())["plugins"][bad]["config"][KEY]
    except (OSError, ValueError, KeyError, TypeError):
        return "<missing>"
    return value if value not in ("", None) else "<missing>"


def oracle(ep, steps):
    _, bad, _ = scenario(ep)
    steps.call("gateway", "logs", "tail", "15")
    steps.call("gateway", "plugins", "disable", bad)
    steps.call("gateway", "restart")
    steps.finish(f"plugin {bad} crashed the gateway at startup (missing {KEY}); disabled it and restarted")
