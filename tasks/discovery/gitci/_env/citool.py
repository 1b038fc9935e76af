#!/usr/bin/env python3
"""`ci` and `tests`: run the project's tests the way CI does, or the quick local way."""

import os
import sys
from pathlib import Path

from gitlib import World, ci_run, run_tests

WORLD = World(Path(os.environ.get("APP_WORKDIR") or os.getcwd()).resolve())
CI_USAGE = "usage: ci run [REF] | ci status"
TESTS_USAGE = "usage: tests run [UNITTEST-ARGS...]   (default: discover -s tests -t .)"


def report(ok: bool, output: str, what: str) -> None:
    print(output)
    print(f"\n{what}: {'PASSED' if ok else 'FAILED'}")
    sys.exit(0 if ok else 1)


def ci(args: list[str]) -> None:
    if args[:1] == ["run"] and len(args) <= 2:
        ref = args[1] if len(args) == 2 else "HEAD"
        rev = WORLD.git("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
        if not rev:
            print(f"ci: unknown revision {ref} in repo/")
            sys.exit(2)
        ok, out = ci_run(WORLD.repo, rev)
        report(ok, out, f"CI run of {ref} ({rev[:10]}, committed files only)")
    elif args == ["status"]:
        rev = WORLD.rev("refs/heads/main")
        if not rev:
            print("ci: origin has no main branch")
            sys.exit(1)
        ok, out = ci_run(WORLD.origin, rev)
        report(ok, out, f"CI on origin/main ({rev[:10]})")
    else:
        print(CI_USAGE)
        sys.exit(2)


def tests(args: list[str]) -> None:
    if args[:1] != ["run"]:
        print(TESTS_USAGE)
        sys.exit(2)
    ok, out = run_tests(WORLD.repo, [], {}, args[1:])
    report(ok, out, "local test run")


if __name__ == "__main__":
    {"ci": ci, "tests": tests}.get(sys.argv[1] if len(sys.argv) > 1 else "", lambda a: sys.exit(2))(sys.argv[2:])
