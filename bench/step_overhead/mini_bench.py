#!/usr/bin/env python3
"""Per-step harness overhead: apprentice (local sandbox) vs mini-swe-agent (LocalEnvironment).

Two subcommands:

  mini_bench.py episode N
      Run ONE mini-swe-agent episode (run by the venv python that has mini-swe-agent):
      a deterministic text model replies N times with ```mswea_bash_command\necho step\n```
      and then with `echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT`, in a fresh copy of the
      demo__numerals-1 repo, with mini's own mini_textbased.yaml config (templates,
      observation rendering, env vars) and a trajectory file saved after every step.

  mini_bench.py measure --apprentice BIN --mini-python PY [--repeats 3] [--lo 5] [--hi 105]
      Time whole processes (time.perf_counter around subprocess.run) for both harnesses at
      N=lo and N=hi steps, interleaved, `repeats` times; per-step overhead is
      (median(t_hi) - median(t_lo)) / (hi - lo), so process start, task setup and
      verification cancel. Prints a small table.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TASK = "demo__numerals-1"
REPO = ROOT / "tasks" / "demo" / TASK / "repo"

APPRENTICE_BASH = "<tool_call>\n<function=bash>\n<parameter=command>\necho step\n</parameter>\n</function>\n</tool_call>"
APPRENTICE_SUBMIT = "<tool_call>\n<function=submit>\n</function>\n</tool_call>"


# --------------------------------------------------------------------------- mini episode
def mini_episode(n: int) -> None:
    import yaml
    import minisweagent
    from minisweagent.agents.default import DefaultAgent
    from minisweagent.environments.local import LocalEnvironment
    from minisweagent.models.test_models import DeterministicModel
    from minisweagent.models.utils.actions_text import parse_regex_actions

    cfg_path = Path(minisweagent.__file__).parent / "config" / "mini_textbased.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    action_regex = r"```mswea_bash_command\s*\n(.*?)\n```"  # LitellmTextbasedModelConfig default
    fmt_err = cfg["model"]["format_error_template"]

    class ParsingDeterministicModel(DeterministicModel):
        """DeterministicModel that, like the real text-based model, parses the reply text
        with the action regex on every query (so the harness's parsing cost is counted)."""

        def query(self, messages, **kwargs):
            out = dict(super().query(messages, **kwargs))
            actions = parse_regex_actions(out["content"], action_regex=action_regex, format_error_template=fmt_err)
            out["extra"] = {"actions": actions, "cost": 0.0, "timestamp": time.time()}
            return out

    def reply(cmd: str) -> dict:
        return {
            "role": "assistant",
            "content": f"THOUGHT: next.\n\n```mswea_bash_command\n{cmd}\n```",
            "extra": {"actions": [], "cost": 0.0},
        }

    outputs = [reply("echo step") for _ in range(n)] + [reply("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")]
    with tempfile.TemporaryDirectory(prefix="mini-bench-") as tmp:
        work = Path(tmp) / "repo"
        shutil.copytree(REPO, work)
        model = ParsingDeterministicModel(
            outputs=outputs, cost_per_call=0.0, observation_template=cfg["model"]["observation_template"]
        )
        env = LocalEnvironment(cwd=str(work), **cfg.get("environment", {}))
        agent_cfg = dict(cfg["agent"])
        agent_cfg.pop("mode", None)  # interactive-agent only
        agent_cfg["step_limit"] = n + 10
        agent_cfg["output_path"] = Path(tmp) / "traj.json"
        agent = DefaultAgent(model, env, **agent_cfg)
        result = agent.run(task=(ROOT / "tasks" / "demo" / TASK / "problem.md").read_text())
        steps = agent.n_calls
    if result.get("exit_status") != "Submitted" or steps != n + 1:
        sys.exit(f"mini episode did not finish as expected: {result.get('exit_status')} after {steps} calls")


# --------------------------------------------------------------------------- measurement
def timed(cmd: list[str], env=None) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return dt, p.stdout


def apprentice_once(binary: str, n: int, tmp: Path) -> float:
    policy = tmp / f"policy-{n}.json"
    policy.write_text(json.dumps([APPRENTICE_BASH] * n + [APPRENTICE_SUBMIT]))
    db = tmp / f"db-{n}-{time.monotonic_ns()}.db"  # fresh store each run
    cmd = [binary, "run", "--tasks", "demo", "--task", TASK, "--policy", f"scripted:{policy}",
           "--supervisor", "none", "--max-steps", "200", "--db", str(db), "-q", "--json"]
    dt, out = timed(cmd)
    ep = json.loads(out)["episodes_detail"][0]
    if ep["end_reason"] != "submitted" or ep["steps"] != n + 1:
        sys.exit(f"apprentice episode not as expected: {ep}")
    return dt


def measure(args) -> None:
    lo, hi = args.lo, args.hi
    res = {"apprentice": {lo: [], hi: []}, "mini-swe-agent": {lo: [], hi: []}}
    with tempfile.TemporaryDirectory(prefix="step-overhead-") as tmp:
        tmp = Path(tmp)
        # warm-up (page cache, pyc compilation), not counted
        apprentice_once(args.apprentice, lo, tmp)
        timed([args.mini_python, str(Path(__file__).resolve()), "episode", str(lo)])
        for r in range(args.repeats):
            for n in (lo, hi):
                res["apprentice"][n].append(apprentice_once(args.apprentice, n, tmp))
                res["mini-swe-agent"][n].append(
                    timed([args.mini_python, str(Path(__file__).resolve()), "episode", str(n)])[0])
            print(f"repeat {r + 1}/{args.repeats}: "
                  + ", ".join(f"{h} N={n}: {res[h][n][-1]:.3f}s" for h in res for n in (lo, hi)),
                  file=sys.stderr)
    per = {}
    print()
    print(f"{'harness':<16} {'t(N=%d) s' % lo:>12} {'t(N=%d) s' % hi:>12} {'per-step ms':>12}")
    for h in res:
        a, b = statistics.median(res[h][lo]), statistics.median(res[h][hi])
        per[h] = (b - a) / (hi - lo) * 1000
        print(f"{h:<16} {a:>12.3f} {b:>12.3f} {per[h]:>12.2f}")
    print(f"{'ratio mini/apprentice':<42} {per['mini-swe-agent'] / per['apprentice']:>12.2f}x")
    print(f"(medians of {args.repeats} repeats; per-step = (t{hi} - t{lo}) / {hi - lo})")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("episode")
    e.add_argument("n", type=int)
    m = sub.add_parser("measure")
    m.add_argument("--apprentice", required=True)
    m.add_argument("--mini-python", required=True)
    m.add_argument("--repeats", type=int, default=3)
    m.add_argument("--lo", type=int, default=5)
    m.add_argument("--hi", type=int, default=105)
    args = ap.parse_args()
    if args.cmd == "episode":
        mini_episode(args.n)
    else:
        measure(args)


if __name__ == "__main__":
    main()
