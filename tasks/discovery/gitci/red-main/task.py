"""The last commit on main broke one helper; fix the code, commit, push (no force)."""

from gitlib import FUNCS, Project, World, baseline, judge_remote


def scenario(ep):
    project = Project(ep.rng)
    return project, ep.rng.choice(project.funcs)


def setup(ep):
    project, bad = scenario(ep)
    world = World(ep.workdir)
    world.start(project)
    world.commit("Document how to run the tests", {"README.md": project.files()["README.md"] + "\nCI runs on every push.\n"})
    project.broken = {bad}
    world.commit("Tidy up helpers", {f"{project.pkg}/core.py": project.core()})
    world.push("main")
    if ep.seed % 2:  # distractor: an unrelated local work-in-progress branch
        world.git("checkout", "-q", "-b", "wip/experiment")
        world.commit("WIP: try a faster chunking", {"NOTES.md": "try itertools.batched\n"})
        world.git("checkout", "-q", "main")
    ep.save_facts(baseline(world))


def check(ep, v):
    judge_remote(v, World(ep.workdir), ep.facts())


def oracle(ep, steps):
    project, bad = scenario(ep)
    good, broken = FUNCS[bad][1]
    steps.call("tests", "run")
    steps.call("fs", "replace", f"repo/{project.pkg}/core.py", broken, good)
    steps.call("git", "commit", "-am", f"Fix {bad}")
    steps.call("git", "push", "origin", "main")
    steps.finish(f"fixed {bad} in {project.pkg}/core.py and pushed to main")
