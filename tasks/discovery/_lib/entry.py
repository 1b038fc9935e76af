#!/usr/bin/env -S python3 -S
"""The one implementation behind every task's `setup`, `check` and `oracle` (each is a
symlink to this file): it loads the task's task.py and calls the function named like the
link with an Episode. Keeps the per-task code down to the scenario itself."""

import importlib.util
import os
import sys
from pathlib import Path

os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
sys.dont_write_bytecode = True
LINK = Path(sys.argv[0]).absolute()
TASK_DIR = LINK.parent
sys.path[:0] = [str(Path(__file__).resolve().parent), str(TASK_DIR.parent / "_env")]

from episode import Episode, Steps, Verdict, fail  # noqa: E402


def main() -> None:
    role = LINK.name
    if role not in ("setup", "check", "oracle") or len(sys.argv) != 3:
        fail(f"usage: {role} WORKDIR SEED (run through a task's setup/check/oracle link)")
    spec = importlib.util.spec_from_file_location("task", TASK_DIR / "task.py")
    task = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(task)
    ep = Episode(TASK_DIR, sys.argv[1], sys.argv[2])
    if role == "setup":
        task.setup(ep)
        return
    answer = Verdict() if role == "check" else Steps()
    getattr(task, role)(ep, answer)
    print(answer.to_json())


if __name__ == "__main__":
    main()
