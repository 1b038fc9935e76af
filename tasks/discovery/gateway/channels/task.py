"""Add one channel and retire another; the change must be live (needs a restart)."""

import copy

from gwlib import CHANNEL_POOL, Paths, base_config, build, judge_config


def scenario(ep):
    cfg = base_config(ep.rng)
    names = sorted(cfg["channels"])
    retire = ep.rng.choice(names)
    if ep.seed % 2:  # distractor: a paused channel that must stay paused
        cfg["channels"][ep.rng.choice([n for n in names if n != retire])]["enabled"] = False
    new = ep.rng.choice([n for n in CHANNEL_POOL if n not in names])
    kind = ep.rng.choice(["irc", "matrix"])
    target = f"#{new}-team" if kind == "irc" else f"!{new}-team:chat.local"
    expected = copy.deepcopy(cfg)
    del expected["channels"][retire]
    expected["channels"][new] = {"type": kind, "target": target, "enabled": True}
    return cfg, expected, retire, (new, kind, target)


def setup(ep):
    cfg, _, retire, (new, kind, target) = scenario(ep)
    ep.ticket(f"""# Channel change request

- Add a new {kind} channel named `{new}` that posts to `{target}`.
- Retire the `{retire}` channel (remove it completely).
""")
    build(ep, cfg)


def check(ep, v):
    _, expected, _, _ = scenario(ep)
    judge_config(v, Paths(ep.workdir), expected, ("channels.",))


def oracle(ep, steps):
    _, _, retire, (new, kind, target) = scenario(ep)
    steps.call("fs", "read", "TICKET.md")
    steps.call("gateway", "channels", "add", new, kind, target)
    steps.call("gateway", "channels", "remove", retire)
    steps.call("gateway", "restart")
    steps.finish(f"added channel {new}, removed {retire}, restarted the gateway")
