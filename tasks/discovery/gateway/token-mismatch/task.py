"""One client config still carries the pre-rotation token; the gateway answers 401 and
logs which client failed. Fix: copy the gateway's current token into that client only."""

import json

from gwlib import Paths, base_config, build, default_clients, judge_config, send


def scenario(ep):
    cfg = base_config(ep.rng)
    token = cfg["gateway"]["auth_token"]
    clients = default_clients(ep.rng, token)
    victim = ep.rng.choice(sorted(clients))
    old = "%032x" % ep.rng.getrandbits(128)
    channel = next(n for n, c in sorted(cfg["channels"].items()) if c["enabled"])
    return cfg, clients, victim, old, channel


def setup(ep):
    cfg, clients, victim, old, channel = scenario(ep)
    paths = build(ep, cfg, clients={**clients, victim: old})
    if ep.seed % 2:  # distractor: a backup holding an even older token
        bak = json.loads(paths.client(victim).read_text())
        bak["token"] = "%032x" % ep.rng.getrandbits(128)
        (paths.clients / f"{victim}.json.bak").write_text(json.dumps(bak, indent=2) + "\n")
    for _ in range(2):  # the failed posts the bot made this morning, visible in the log
        send(paths, victim, old, channel, "daily report")


def check(ep, v):
    cfg, clients, victim, _, channel = scenario(ep)
    paths = Paths(ep.workdir)
    token = cfg["gateway"]["auth_token"]
    try:
        conf = json.loads(paths.client(victim).read_text())
    except (OSError, ValueError):
        conf = {}
    v.subgoal(f"{victim} uses the gateway's token", conf.get("token") == token)
    try:
        delivered = send(paths, victim, str(conf.get("token")), channel, "check")[0] == 200
    except OSError:
        delivered = False
    v.subgoal(f"{victim} can post again", delivered)
    for name in clients:
        if name != victim and paths.client(name).exists() and \
                json.loads(paths.client(name).read_text()).get("token") != token:
            v.collateral(f"client {name} no longer has the gateway's token")
        if not paths.client(name).exists():
            v.collateral(f"client {name}'s config was deleted")
    judge_config(v, paths, cfg)


def oracle(ep, steps):
    cfg, _, victim, old, channel = scenario(ep)
    steps.call("gateway", "logs", "tail", "5")
    steps.call("gateway", "config", "get", "gateway.auth_token")
    steps.call("fs", "replace", f"clients/{victim}.json", old, cfg["gateway"]["auth_token"])
    steps.call("client", "test", victim, channel)
    steps.finish(f"{victim} still had the old token; copied the gateway's current token into its config")
