#!/usr/bin/env python3
"""`git`: real git, run in the workspace's repo/ (arguments are passed through unchanged)."""

import os
import subprocess
import sys
from pathlib import Path

from gitlib import git_env

WORKDIR = Path(os.environ.get("APP_WORKDIR") or os.getcwd()).resolve()

if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: git ARGS...   (runs in repo/, e.g. git status, git log --oneline -5)")
        sys.exit(2)
    res = subprocess.run(["git", *sys.argv[1:]], cwd=WORKDIR / "repo", env=git_env(),
                         stdin=subprocess.DEVNULL, timeout=120)
    sys.exit(res.returncode)
