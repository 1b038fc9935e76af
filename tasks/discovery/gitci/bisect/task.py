"""A dozen commits after the release tag, one silently breaks a helper. On odd seeds
another helper breaks and is fixed again earlier: bisecting on the whole suite instead of
the failing test finds the wrong commit."""

from gitlib import FUNCS, Project, World, baseline

MESSAGES = ["Refactor helpers", "Tidy code", "Small cleanups", "Simplify loops", "Polish docstrings"]
ANSWER = "FIRST_BAD_COMMIT.txt"


def scenario(ep):
    project = Project(ep.rng)
    target, other = ep.rng.sample(project.funcs, 2)
    n = 10 + ep.seed % 3 * 2
    bad = ep.rng.randint(4, n - 2)
    flaky = ep.rng.randint(1, bad - 2) if ep.seed % 2 else None
    return project, target, other, n, bad, flaky


def setup(ep):
    project, target, other, n, bad, flaky = scenario(ep)
    world = World(ep.workdir)
    world.start(project)
    world.git("tag", "-a", f"v{project.version}", "-m", f"Release {project.version}")
    notes = ""
    for i in range(1, n + 1):
        message = ep.rng.choice(MESSAGES)
        if i == flaky:
            project.broken.add(other)
        elif flaky and i == flaky + 1:
            project.broken.discard(other)
            message = f"Fix {other}"
        elif i == bad:
            project.broken.add(target)
        else:
            notes += f"- note {i}\n"
            world.commit(f"Update notes ({i})", {"docs/notes.md": notes})
            continue
        world.commit(message, {f"{project.pkg}/core.py": project.core()})
    world.git("push", "-q", "origin", "main", "--tags")
    ep.save_facts(baseline(world))


def first_bad(world: World, project: Project, target: str) -> str | None:
    """The first commit after the tag whose core.py carries the broken fragment."""
    broken = FUNCS[target][1][1]
    for sha in world.remote("rev-list", "--reverse", f"v{project.version}..main").split():
        if broken in (world.show(sha, f"{project.pkg}/core.py") or ""):
            return sha
    return None


def check(ep, v):
    project, target, *_ = scenario(ep)
    world, facts = World(ep.workdir), ep.facts()
    answer = ep.path(ANSWER).read_text().strip() if ep.path(ANSWER).is_file() else ""
    v.subgoal("first bad commit recorded", answer == first_bad(world, project, target))
    git_dir = world.repo / ".git"
    head = world.git("symbolic-ref", "-q", "HEAD", check=False)
    v.subgoal("repository back on main, no bisect in progress",
              head == "refs/heads/main" and not (git_dir / "BISECT_LOG").exists())
    if world.rev("refs/heads/main") != facts["main"] or world.git("rev-parse", "main") != facts["main"]:
        v.collateral("main was changed")


def oracle(ep, steps):
    project, target, *_ = scenario(ep)
    world = World(ep.workdir)
    steps.call("tests", "run")
    steps.call("git", "tag")
    steps.call("git", "bisect", "start", "main", f"v{project.version}")
    steps.call("git", "bisect", "run", "python3", "-m", "unittest", f"tests.test_core.CoreTests.test_{target}")
    steps.call("git", "bisect", "reset")
    sha = first_bad(world, project, target)
    steps.call("fs", "write", ANSWER, sha + "\n")
    steps.finish(f"{sha} broke {target}; recorded it in {ANSWER}")
