"""Next minor release: version in pyproject, the package and (odd seeds) docs/conf.py,
changelog section, annotated tag, push of commit and tag, older tags untouched."""

from gitlib import Project, World, baseline, is_ancestor, judge_remote

CHANGES = ["feat: add a --quiet flag to the report", "fix: handle empty input in mean",
           "feat: parse durations with seconds", "fix: keep trailing words in chunk",
           "docs: explain the settings"]


def scenario(ep):
    project = Project(ep.rng)
    major, minor, _ = project.version.split(".")
    return project, f"{major}.{int(minor) + 1}.0", ep.rng.sample(CHANGES, 3), bool(ep.seed % 2)


def declared(project: Project, version: str, docs: bool) -> dict[str, str]:
    """Every file that states the version, with the line that states it."""
    places = {"pyproject.toml": f'version = "{version}"', f"{project.pkg}/__init__.py": f'__version__ = "{version}"'}
    if docs:
        places["docs/conf.py"] = f'release = "{version}"'
    return places


def setup(ep):
    project, _, changes, docs = scenario(ep)
    world = World(ep.workdir)
    files = project.files()
    if docs:
        files["docs/conf.py"] = f'project = "{project.pkg}"\nrelease = "{project.version}"\n'
    world.create()
    world.commit(f"Release {project.version}", files)
    world.git("tag", "-a", f"v{project.version}", "-m", f"Release {project.version}")
    entries = ""
    for change in changes:
        entries += f"- {change}\n"
        log = f"# Changelog\n\n## Unreleased\n\n{entries}\n## {project.version}\n\n- Initial set of helpers.\n"
        world.commit(change, {"CHANGELOG.md": log})
    world.git("push", "-q", "origin", "main", "--tags")
    ep.save_facts({**baseline(world), "old_tag": world.rev(f"refs/tags/v{project.version}")})


def check(ep, v):
    project, new, changes, docs = scenario(ep)
    world, facts = World(ep.workdir), ep.facts()
    judge_remote(v, world, facts)
    if world.rev(f"refs/tags/v{project.version}") != facts["old_tag"]:
        v.collateral(f"the earlier release tag v{project.version} was moved or deleted")
    tag = world.rev(f"refs/tags/v{new}")
    if not v.subgoal(f"tag v{new} on the server", tag is not None):
        return
    v.subgoal("tag is annotated", world.remote("cat-file", "-t", f"refs/tags/v{new}") == "tag")
    main = world.rev("refs/heads/main")
    v.subgoal("release commit is on main", main is not None and is_ancestor(world, tag, main))
    v.subgoal("version bumped everywhere",
              all(line in (world.show(tag, path) or "") for path, line in declared(project, new, docs).items()))
    log = world.show(tag, "CHANGELOG.md") or ""
    section = log.split(f"## {new}", 1)[1].split("\n## ", 1)[0] if f"## {new}" in log else ""
    unreleased = log.split("## Unreleased", 1)[1].split("\n## ", 1)[0] if "## Unreleased" in log else ""
    v.subgoal("changelog has the new version's entries",
              all(c in section for c in changes) and not any(c in unreleased for c in changes))


def oracle(ep, steps):
    project, new, _, docs = scenario(ep)
    steps.call("git", "tag", "-n")
    steps.call("git", "grep", "-n", project.version)
    for path, line in declared(project, project.version, docs).items():
        steps.call("fs", "replace", f"repo/{path}", line, line.replace(project.version, new))
    steps.call("fs", "replace", "repo/CHANGELOG.md", "## Unreleased\n", f"## {new}\n")
    steps.call("git", "commit", "-am", f"Release {new}")
    steps.call("git", "tag", "-a", f"v{new}", "-m", f"Release {new}")
    steps.call("git", "push", "origin", "main", f"v{new}")
    steps.finish(f"released {new}: versions bumped, changelog section, annotated tag v{new} pushed")
