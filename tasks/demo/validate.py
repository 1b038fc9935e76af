#!/usr/bin/env python3
"""Validate the bundled demo tasks (stdlib only).

For every ``<instance_id>/`` directory next to this script:

* ``task.toml`` has the required fields and a matching ``instance_id``;
  ``repo/`` contains no caches or VCS metadata; ``problem.md`` has a title.
* ``gold.patch`` applies cleanly (``git apply --check``) to a pristine copy of
  ``repo/`` and touches no file under ``tests/``; ``test.patch`` touches only
  ``tests/``.
* The project's own test suite passes on the buggy code.
* With ``test.patch`` applied, every FAIL_TO_PASS test does not pass and every
  PASS_TO_PASS test passes.
* With ``gold.patch`` applied as well, every FAIL_TO_PASS and PASS_TO_PASS
  test passes.
* PASS_TO_PASS is complete: every test in the files touched by ``test.patch``
  that passes in both runs is listed (in one of the two lists), and nothing
  in those files fails after the fix.

The grading command is ``python3 -m pytest -rA <test files from test.patch>``
run from the repository root.

Usage: python3 validate.py [instance_id ...]
Exit status is non-zero if any task fails validation.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSTANCE_RE = re.compile(r"^demo__[a-z0-9_]+-[0-9]+$")
REQUIRED = {
    "instance_id": str,
    "repo": str,
    "version": str,
    "created_at": str,
    "hints_text": str,
    "FAIL_TO_PASS": list,
    "PASS_TO_PASS": list,
}
STATUS_RE = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (.+)$")
FORBIDDEN = {"__pycache__", ".pytest_cache", ".git", ".mypy_cache"}
ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


class TaskError(Exception):
    pass


def run(args, cwd, check=True):
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=ENV)
    if check and proc.returncode != 0:
        raise TaskError(f"`{' '.join(map(str, args))}` failed:\n{proc.stdout}{proc.stderr}")
    return proc


def git(cwd, *args, check=True):
    return run(["git", "-c", "core.quotepath=off", "-c", "user.name=validate",
                "-c", "user.email=validate@example.invalid", *args], cwd, check)


def patch_files(patch_text: str) -> list[str]:
    files = []
    for a, b in re.findall(r"^diff --git a/(\S+) b/(\S+)$", patch_text, flags=re.M):
        for path in (a, b):
            if path not in files:
                files.append(path)
    return files


def pytest_results(cwd: Path, files: list[str]) -> tuple[dict[str, str], str]:
    proc = run([sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", *files],
               cwd, check=False)
    results: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        m = STATUS_RE.match(line)
        if not m:
            continue
        status, rest = m.groups()
        if status == "SKIPPED":  # "SKIPPED [1] path:line: reason" - no node id
            continue
        node = rest.split(" - ", 1)[0].strip()
        # a test that both fails and errors (e.g. in teardown) counts as not passed
        if results.get(node) in (None, "PASSED"):
            results[node] = status
    return results, proc.stdout


def fresh_copy(repo: Path, dest: Path) -> Path:
    work = dest / "repo"
    shutil.copytree(repo, work)
    git(work, "init", "-q")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "base")
    return work


def check_static(task_dir: Path) -> dict:
    for name in ("task.toml", "problem.md", "gold.patch", "test.patch", "repo"):
        if not (task_dir / name).exists():
            raise TaskError(f"missing {name}")
    meta = tomllib.loads((task_dir / "task.toml").read_text(encoding="utf-8"))
    for key, typ in REQUIRED.items():
        if not isinstance(meta.get(key), typ):
            raise TaskError(f"task.toml: {key} missing or not a {typ.__name__}")
    if meta["instance_id"] != task_dir.name or not INSTANCE_RE.match(task_dir.name):
        raise TaskError(f"bad instance_id {meta['instance_id']!r} for dir {task_dir.name!r}")
    f2p, p2p = meta["FAIL_TO_PASS"], meta["PASS_TO_PASS"]
    if not f2p:
        raise TaskError("FAIL_TO_PASS is empty")
    if len(set(f2p)) != len(f2p) or len(set(p2p)) != len(p2p):
        raise TaskError("duplicate test ids")
    if set(f2p) & set(p2p):
        raise TaskError(f"tests in both lists: {sorted(set(f2p) & set(p2p))}")
    for path in (task_dir / "repo").rglob("*"):
        if path.name in FORBIDDEN or path.suffix == ".pyc":
            raise TaskError(f"repo contains {path.relative_to(task_dir)}")
    title = (task_dir / "problem.md").read_text(encoding="utf-8").lstrip().splitlines()
    if not title or not title[0].startswith("# "):
        raise TaskError("problem.md must start with a '# ' title line")
    return meta


def validate(task_dir: Path) -> str:
    started = time.monotonic()
    meta = check_static(task_dir)
    f2p, p2p = meta["FAIL_TO_PASS"], meta["PASS_TO_PASS"]
    gold = (task_dir / "gold.patch").read_text(encoding="utf-8")
    test = (task_dir / "test.patch").read_text(encoding="utf-8")
    gold_files, test_files = patch_files(gold), patch_files(test)
    if not gold_files or any(f.startswith("tests/") or "/tests/" in f for f in gold_files):
        raise TaskError(f"gold.patch must touch only non-test files: {gold_files}")
    if not test_files or not all(f.startswith("tests/") for f in test_files):
        raise TaskError(f"test.patch must touch only tests/: {test_files}")
    for node in f2p + p2p:
        if node.split("::", 1)[0] not in test_files:
            raise TaskError(f"{node} is not in a file touched by test.patch")

    with tempfile.TemporaryDirectory(prefix="demo-validate-") as tmp:
        tmp = Path(tmp)
        (tmp / "gold.patch").write_text(gold, encoding="utf-8")
        (tmp / "test.patch").write_text(test, encoding="utf-8")

        # gold.patch alone applies to a pristine copy; the buggy suite is green
        work = fresh_copy(task_dir / "repo", tmp / "clean")
        git(work, "apply", "--check", str(tmp / "gold.patch"))
        suite = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], work,
                    check=False)
        if suite.returncode != 0:
            raise TaskError(f"existing test suite fails on the buggy repo:\n{suite.stdout[-2000:]}")

        # (1) buggy code + new tests
        work = fresh_copy(task_dir / "repo", tmp / "graded")
        git(work, "apply", "--check", str(tmp / "test.patch"))
        git(work, "apply", str(tmp / "test.patch"))
        before, out_before = pytest_results(work, test_files)
        if not before:
            raise TaskError(f"no test results parsed before the fix:\n{out_before[-2000:]}")
        passing_f2p = [t for t in f2p if before.get(t) == "PASSED"]
        if passing_f2p:
            raise TaskError(f"FAIL_TO_PASS tests already pass before the fix: {passing_f2p}")
        broken_p2p = [t for t in p2p if before.get(t) != "PASSED"]
        if broken_p2p:
            raise TaskError(f"PASS_TO_PASS tests not passing before the fix: {broken_p2p}")

        # (2) + gold.patch
        git(work, "apply", "--check", str(tmp / "gold.patch"))
        git(work, "apply", str(tmp / "gold.patch"))
        after, out_after = pytest_results(work, test_files)
        not_passing = [t for t in f2p + p2p if after.get(t) != "PASSED"]
        if not_passing:
            raise TaskError(f"tests not passing after the fix: {not_passing}\n{out_after[-3000:]}")

    # (3) completeness
    listed = set(f2p) | set(p2p)
    unlisted = [t for t, s in after.items() if s == "PASSED" and before.get(t) == "PASSED"
                and t not in listed]
    if unlisted:
        raise TaskError(f"PASS_TO_PASS incomplete, missing: {unlisted}")
    failing_after = [t for t, s in after.items() if s != "PASSED"]
    if failing_after:
        raise TaskError(f"tests failing after the fix in graded files: {failing_after}")
    unlisted_f2p = [t for t, s in after.items() if s == "PASSED" and t not in listed]
    if unlisted_f2p:
        raise TaskError(f"FAIL_TO_PASS incomplete, missing: {unlisted_f2p}")

    elapsed = time.monotonic() - started
    return (f"F2P {len(f2p):2d}  P2P {len(p2p):2d}  gold: {len(gold_files)} file(s)  "
            f"tests: {', '.join(test_files)}  ({elapsed:.1f}s)")


def main(argv: list[str]) -> int:
    if shutil.which("git") is None:
        print("git is required", file=sys.stderr)
        return 2
    dirs = sorted(p for p in HERE.iterdir() if p.is_dir() and (p / "task.toml").exists())
    if argv:
        wanted = set(argv)
        dirs = [d for d in dirs if d.name in wanted]
        missing = wanted - {d.name for d in dirs}
        if missing:
            print(f"unknown task(s): {', '.join(sorted(missing))}", file=sys.stderr)
            return 2
    if not dirs:
        print("no tasks found", file=sys.stderr)
        return 2
    failures = 0
    for task_dir in dirs:
        try:
            detail = validate(task_dir)
            print(f"ok    {task_dir.name:24s} {detail}")
        except (TaskError, tomllib.TOMLDecodeError) as exc:
            failures += 1
            print(f"FAIL  {task_dir.name:24s} {exc}")
        sys.stdout.flush()
    print(f"{len(dirs) - failures}/{len(dirs)} tasks valid")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
