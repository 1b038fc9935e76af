#!/usr/bin/env python3
"""Validate the discovery task suite: for every task x seed, in a fresh WORKDIR,
setup -> replay the oracle's steps through the tools -> check must succeed, and
setup -> check with no actions must fail. Background processes are killed after each
episode and none may survive; episodes run in parallel to prove they never clash.

usage: python3 tasks/discovery/validate.py [--jobs N] [--task SUBSTRING] [--seed N] [-v]"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent
META = {"list_tools", "help", "finish"}
# `python3` resolves to this interpreter's directory first: a pyenv shim costs ~0.3 s a call.
BASE_ENV = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
REQUIRED = {"id": str, "family": str, "instruction": str, "max_steps": int, "time_limit_s": int,
            "seeds": list, "tools": list}


class Invalid(Exception):
    pass


def load_suite() -> tuple[list[dict], list[str]]:
    """Tasks with their family's tools; static problems found on the way."""
    tasks, problems, ids = [], [], set()
    for fam in sorted(p for p in ROOT.iterdir() if (p / "tools.toml").is_file()):
        with open(fam / "tools.toml", "rb") as f:
            tools = {t["name"]: t for t in tomllib.load(f).get("tool", [])}
        for tdir in sorted(p for p in fam.iterdir() if (p / "task.toml").is_file()):
            with open(tdir / "task.toml", "rb") as f:
                task = tomllib.load(f)
            where = tdir.relative_to(ROOT)
            for key, kind in REQUIRED.items():
                if not isinstance(task.get(key), kind):
                    problems.append(f"{where}/task.toml: `{key}` missing or not {kind.__name__}")
            if problems and problems[-1].startswith(str(where)):
                continue
            if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", task["id"]) or task["id"] in ids:
                problems.append(f"{where}/task.toml: id {task['id']!r} is not unique lowercase-dashes")
            ids.add(task["id"])
            if task["family"] != fam.name:
                problems.append(f"{where}/task.toml: family {task['family']!r} but lives in {fam.name}/")
            unknown = [t for t in task["tools"] if t not in tools]
            if unknown:
                problems.append(f"{where}/task.toml: tools not in {fam.name}/tools.toml: {unknown}")
            for script in ("setup", "check", "oracle"):
                if not os.access(tdir / script, os.X_OK):
                    problems.append(f"{where}/{script}: missing or not executable")
            tasks.append({**task, "dir": tdir, "env": fam / "_env", "family_tools": tools})
    return tasks, problems


def run(argv: list[str], cwd: Path, timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, cwd=cwd, env=env or BASE_ENV, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Invalid(f"{Path(argv[0]).name} timed out after {timeout:.0f}s")


def tool_argv(task: dict, name: str, args: list[str]) -> list[str]:
    """The format's rule: the tool's command with {env} substituted, the agent's args appended."""
    prefix = [a.replace("{env}", str(task["env"])) for a in task["family_tools"][name]["command"]]
    return prefix + list(args)


def replay(task: dict, workdir: Path, deadline: float) -> list[str]:
    """Run the oracle and execute its steps; returns a transcript for error messages."""
    out = run([str(task["dir"] / "oracle"), str(workdir), str(task["seed"])], task["dir"], 30)
    if out.returncode != 0:
        raise Invalid(f"oracle exited {out.returncode}: {out.stderr.strip()[-400:]}")
    try:
        steps = json.loads(out.stdout)["steps"]
    except (ValueError, KeyError, TypeError):
        raise Invalid(f"oracle printed no {{\"steps\": [...]}} object: {out.stdout[:200]!r}")
    if not steps or steps[-1].get("tool") != "finish":
        raise Invalid("oracle's last step is not finish")
    if len(steps) > task["max_steps"]:
        raise Invalid(f"oracle needs {len(steps)} steps, more than max_steps {task['max_steps']}")
    env = dict(BASE_ENV, APP_WORKDIR=str(workdir))
    transcript = []
    for i, step in enumerate(steps, 1):
        tool, args = step.get("tool"), step.get("args", {})
        if tool in META:
            continue
        if tool != "call":
            raise Invalid(f"step {i}: unknown discovery tool {tool!r}")
        name, argv = args.get("name"), args.get("args", [])
        if name not in task["tools"]:
            raise Invalid(f"step {i}: calls {name!r}, which the task does not offer")
        res = run(tool_argv(task, name, argv), workdir, max(1.0, deadline - time.monotonic()), env)
        transcript.append(f"  step {i}: {name} {' '.join(argv)!s:.80} -> exit {res.returncode}\n"
                          + "".join(f"      | {line}\n" for line in (res.stdout + res.stderr).splitlines()[-6:]))
    return transcript


def kill_episode(workdir: Path) -> list[str]:
    """Kill every process group in .pids, then report processes still inside WORKDIR."""
    pids = []
    if (workdir / ".pids").exists():
        pids = [int(x) for x in (workdir / ".pids").read_text().split() if x.isdigit()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and procs_inside(workdir):
            time.sleep(0.05)
    survivors = procs_inside(workdir)
    for pid in survivors:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return [f"pid {p}" for p in survivors]


def procs_inside(workdir: Path) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = Path(os.readlink(f"/proc/{entry}/cwd"))
            with open(f"/proc/{entry}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if not zombie and (cwd == workdir or workdir in cwd.parents):
            found.append(int(entry))
    return found


def episode(task: dict, mode: str) -> tuple[bool, str]:
    start = time.monotonic()
    label = f"{task['id']} seed {task['seed']} {mode}"
    with tempfile.TemporaryDirectory(prefix=f"disc-{task['id']}-{task['seed']}-") as tmp:
        workdir = Path(tmp).resolve()
        transcript, verdict, error = [], None, None
        try:
            res = run([str(task["dir"] / "setup"), str(workdir), str(task["seed"])], task["dir"], 60)
            if res.returncode != 0:
                raise Invalid(f"setup exited {res.returncode}: {(res.stdout + res.stderr).strip()[-400:]}")
            if mode == "oracle":
                transcript = replay(task, workdir, start + task["time_limit_s"])
            res = run([str(task["dir"] / "check"), str(workdir), str(task["seed"])], task["dir"], 60)
            if res.returncode != 0:
                raise Invalid(f"check exited {res.returncode}: {res.stderr.strip()[-400:]}")
            verdict = json.loads(res.stdout)
            if not (isinstance(verdict.get("success"), bool) and isinstance(verdict.get("subgoals"), dict)
                    and isinstance(verdict.get("collateral"), list)):
                raise Invalid(f"check printed a malformed verdict: {res.stdout[:200]}")
            if verdict["success"] != (mode == "oracle"):
                raise Invalid(f"check says success={verdict['success']} "
                              f"(subgoals {verdict['subgoals']}, collateral {verdict['collateral']})")
        except (Invalid, ValueError) as e:
            error = str(e)
        finally:
            leftovers = kill_episode(workdir)
        if leftovers and not error:
            error = f"processes left alive after killing .pids groups: {', '.join(leftovers)}"
    took = time.monotonic() - start
    if error:
        return False, f"FAIL {label} ({took:.1f}s): {error}\n" + "".join(transcript)
    return True, f"ok   {label} ({took:.1f}s)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=4, help="episodes run in parallel (default 4)")
    ap.add_argument("--task", help="only tasks whose id contains this")
    ap.add_argument("--seed", type=int, action="append",
                    help="run this seed instead of task.toml's (repeatable; need not be listed there)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print passing episodes too")
    opts = ap.parse_args()
    tasks, problems = load_suite()
    for p in problems:
        print(f"FAIL {p}")
    jobs = [({**t, "seed": s}, mode) for t in tasks if not opts.task or opts.task in t["id"]
            for s in (opts.seed or t["seeds"]) for mode in ("oracle", "null")]
    start, failed = time.monotonic(), len(problems)
    with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        for ok, line in pool.map(lambda job: episode(*job), jobs):
            failed += not ok
            if not ok or opts.verbose:
                print(line, flush=True)
    families = sorted({t["family"] for t in tasks})
    print(f"{len(tasks)} tasks in {len(families)} families ({', '.join(families)}), {len(jobs)} episodes, "
          f"{failed} failed, {time.monotonic() - start:.1f}s with {opts.jobs} in parallel")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
