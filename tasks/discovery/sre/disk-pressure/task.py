"""The volume is at ~96%. Old backups alone free too little; old backups plus rotated
logs (or plus temp files and core dumps, present on some seeds) are enough."""

import os
import time

from srelib import GB, Paths, World, backup_day

TARGET = 0.70


def scenario(ep, today: float):
    """(world, capacity, volume files, files that must survive, files the oracle removes);
    backup names carry dates counted back from `today` (setup's clock, kept in the facts)."""
    rng = ep.rng
    world = World(rng)
    cap = rng.choice([800, 1000, 1200]) * GB
    n = len(world.services)
    files, keep, junk = {}, [], []

    def add(rel, fraction, age, keeper):
        files[rel] = (int(fraction * cap), age)
        (keep if keeper else junk).append(rel)

    for s in world.services:
        add(f"data/{s}.db", 0.36 / n, 0, True)
        add(f"data/{s}.wal", 0.04 / n, 0, True)
        add(f"backups/{s}-{backup_day(today, 0)}.tar", 0.10 / n, 0, True)
        for age in (1, 2, 3):
            add(f"backups/{s}-{backup_day(today, age)}.tar", 0.24 / n / 3, age, False)
        for i in (1, 2, 3, 4):
            add(f"log/{s}.log.{i}.gz", 0.14 / n / 4, i, False)
    extra = ["tmp/upload-%04x.part" % rng.getrandbits(16) for _ in range(3)]
    if ep.seed % 2:
        extra[2] = "core/core.%d" % rng.randint(2000, 30000)
    for rel in extra:
        files[rel] = (int(0.08 / 3 * cap), 1)
    return world, cap, files, keep, junk


def setup(ep):
    today = time.time()
    world, cap, files, _, _ = scenario(ep, today)
    paths = world.write(ep, files, cap)
    ep.save_facts({"today": today, "log_inodes": {s: paths.log(s).stat().st_ino for s in world.services}})


def check(ep, v):
    facts = ep.facts()
    world, cap, files, keep, _ = scenario(ep, facts["today"])
    paths = Paths(ep.workdir)
    used = sum(f.stat().st_size for f in paths.volume.rglob("*") if f.is_file())
    v.subgoal("volume below 70%", used < TARGET * cap)
    lost = [rel for rel in keep if not (paths.volume / rel).is_file()
            or (paths.volume / rel).stat().st_size != files[rel][0]]
    lost += [f"log/{s}.log" for s, ino in facts["log_inodes"].items()
             if not paths.log(s).is_file() or paths.log(s).stat().st_ino != ino]
    v.subgoal("everything that must be kept is intact", not lost)
    for rel in lost:
        v.collateral(f"removed or changed prod/var/{rel}")
    if not all(os.path.exists(paths.config(s)) for s in world.services):
        v.collateral("a service config was deleted")


def oracle(ep, steps):
    _, _, _, _, junk = scenario(ep, ep.facts()["today"])
    steps.call("disk", "usage")
    steps.call("disk", "usage", "prod/var/backups")
    steps.call("disk", "usage", "prod/var/log")
    steps.call("disk", "clean", *[f"prod/var/{rel}" for rel in junk if rel.startswith("backups/")],
               "prod/var/log/*.gz")
    steps.call("disk", "usage")
    steps.finish("removed old backups (kept the newest per service) and rotated logs; volume below 70%")
