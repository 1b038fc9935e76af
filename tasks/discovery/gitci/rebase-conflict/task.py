"""main and the feature branch both added a setting at the same place; the rebase stopped
on the conflict. Fix: resolve with both settings, continue, push the branch (linear)."""

from gitlib import Project, World, baseline, is_ancestor, judge_remote

MAIN_KEYS = [("region", '"eu-west"'), ("log_format", '"json"'), ("max_body_kb", "512")]
FEATURE_KEYS = [("cache_size", "256"), ("pool_size", "8"), ("retry_backoff", "1.5")]


def settings(*entries) -> str:
    body = "".join(f'    "{k}": {v},\n' for k, v in (("timeout", "30"), ("retries", "3"), *entries))
    return f'"""Default settings."""\n\nDEFAULTS = {{\n{body}}}\n'


def test_for(pkg: str, key: str, value: str) -> str:
    return (f"import unittest\n\nfrom {pkg}.settings import DEFAULTS\n\n\n"
            f"class {key.title().replace('_', '')}Tests(unittest.TestCase):\n"
            f"    def test_default(self):\n        self.assertEqual(DEFAULTS[\"{key}\"], {value})\n")


def scenario(ep):
    project, feature = Project(ep.rng), ep.rng.choice(FEATURE_KEYS)
    return project, ep.rng.choice(MAIN_KEYS), feature, "feature/" + feature[0].replace("_", "-")


def setup(ep):
    project, (mk, mv), (fk, fv), branch = scenario(ep)
    pkg = project.pkg
    world = World(ep.workdir)
    world.create()
    world.commit("Initial helpers and settings", {**project.files(), f"{pkg}/settings.py": settings()})
    world.push("main")
    world.git("checkout", "-q", "-b", branch)
    world.commit(f"Add {fk} setting", {f"{pkg}/settings.py": settings((fk, fv)),
                                       f"tests/test_{fk}.py": test_for(pkg, fk, fv)})
    if ep.seed % 2:  # a second feature commit that replays cleanly after the conflict
        world.commit(f"Document {fk}", {"README.md": project.files()["README.md"] + f"\n`{fk}` defaults to {fv}.\n"})
    world.git("checkout", "-q", "main")
    world.commit(f"Add {mk} setting", {f"{pkg}/settings.py": settings((mk, mv)),
                                       f"tests/test_{mk}.py": test_for(pkg, mk, mv)})
    world.push("main")
    world.git("checkout", "-q", branch)
    world.git("rebase", "main", check=False)
    ep.save_facts(baseline(world))


def check(ep, v):
    project, (mk, mv), (fk, fv), branch = scenario(ep)
    world, facts = World(ep.workdir), ep.facts()
    git_dir = world.repo / ".git"
    v.subgoal("rebase finished", not (git_dir / "rebase-merge").exists() and not (git_dir / "rebase-apply").exists())
    if world.rev("refs/heads/main") != facts["main"]:
        v.collateral("main on the server was changed")
    tip = judge_remote(v, world, facts, f"refs/heads/{branch}", frozen_tests=False)
    if tip is None:
        return
    v.subgoal("branch sits on top of the latest main", is_ancestor(world, facts["main"], tip))
    v.subgoal("no merge commits", world.remote("rev-list", "--merges", f"{facts['main']}..{tip}") == "")
    text = world.show(tip, f"{project.pkg}/settings.py") or ""
    v.subgoal("both settings kept, no conflict markers",
              f'"{mk}": {mv},' in text and f'"{fk}": {fv},' in text
              and not any(m in text for m in ("<<<<<<<", "=======", ">>>>>>>")))
    v.subgoal("feature's test kept", world.show(tip, f"tests/test_{fk}.py") is not None)


def oracle(ep, steps):
    project, main_kv, feature_kv, branch = scenario(ep)
    steps.call("git", "status")
    steps.call("fs", "write", f"repo/{project.pkg}/settings.py", settings(main_kv, feature_kv))
    steps.call("git", "add", f"{project.pkg}/settings.py")
    steps.call("git", "rebase", "--continue")
    steps.call("git", "push", "-u", "origin", branch)
    steps.finish(f"resolved the settings conflict keeping both keys, finished the rebase, pushed {branch}")
