"""Green locally, red in CI. Odd seeds: code calls a deprecated helper (CI turns warnings
into errors). Even seeds: a data file the code needs is git-ignored, so CI's clean
checkout lacks it."""

from gitlib import Project, World, baseline, judge_remote

COMPAT = '''"""Old names kept for callers that have not moved yet."""

import warnings


def format_list(words):
    return ", ".join(str(w) for w in words)


def join_words(words):
    """Deprecated alias of format_list."""
    warnings.warn("join_words() is deprecated; use format_list()", DeprecationWarning, stacklevel=2)
    return format_list(words)
'''
DESCRIBE = '''

def describe(items):
    """One-line summary of a list."""
    from . import compat

    return "items: " + compat.join_words(items)
'''
UNITS = '''

def load_units():
    """Unit table shipped with the package."""
    import json
    from pathlib import Path

    return json.loads((Path(__file__).parent / "data" / "units.json").read_text())
'''


def scenario(ep):
    return Project(ep.rng), "deprecation" if ep.seed % 2 else "ignored-data"


def setup(ep):
    project, kind = scenario(ep)
    pkg, world = project.pkg, World(ep.workdir)
    files = project.files()
    if kind == "deprecation":
        files[f"{pkg}/compat.py"] = COMPAT
        files[f"{pkg}/core.py"] += DESCRIBE
        files["tests/test_extra.py"] = (f"import unittest\n\nfrom {pkg}.core import describe\n\n\n"
                                        "class DescribeTests(unittest.TestCase):\n    def test_describe(self):\n"
                                        '        self.assertEqual(describe([1, 2]), "items: 1, 2")\n')
    else:
        files[".gitignore"] += "# editor and tool output\n*.json\n"
        files[f"{pkg}/core.py"] += UNITS
        files[f"{pkg}/data/units.json"] = '{"km": 1000, "m": 1, "cm": 0.01}\n'
        files["tests/test_extra.py"] = (f"import unittest\n\nfrom {pkg}.core import load_units\n\n\n"
                                        "class UnitsTests(unittest.TestCase):\n    def test_units(self):\n"
                                        '        self.assertEqual(load_units()["km"], 1000)\n')
    world.create()
    world.commit("Initial helpers", files)
    world.push("main")
    ep.save_facts(baseline(world))


def check(ep, v):
    judge_remote(v, World(ep.workdir), ep.facts())


def oracle(ep, steps):
    project, kind = scenario(ep)
    steps.call("ci", "status")
    if kind == "deprecation":
        steps.call("fs", "replace", f"repo/{project.pkg}/core.py", "compat.join_words(", "compat.format_list(")
        steps.call("git", "commit", "-am", "Use format_list instead of the deprecated join_words")
    else:
        steps.call("git", "add", "-f", f"{project.pkg}/data/units.json")
        steps.call("git", "commit", "-m", "Track the unit table the package needs")
    steps.call("git", "push", "origin", "main")
    steps.call("ci", "status")
    steps.finish(f"CI failed because of {kind}; fixed and pushed, CI passes")
