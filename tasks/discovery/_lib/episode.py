"""Shared helpers for discovery tasks: the episode context for setup/check/oracle,
background processes that follow the format's rules (own session, loopback, port file,
PID in WORKDIR/.pids), tiny HTTP/JSON clients, and the check/oracle output shapes."""

import json
import os
import random
import subprocess
import sys
import time
import tomllib
from pathlib import Path

PRIVATE = ".episode"  # setup's baseline facts for check; generic tools refuse to show it


class Episode:
    """One (task, seed, WORKDIR): what setup, check and oracle of a task receive."""

    def __init__(self, task_dir: Path, workdir: str, seed: str):
        self.task_dir = task_dir
        self.workdir = Path(workdir).resolve()
        self.seed = int(seed)
        with open(task_dir / "task.toml", "rb") as f:
            self.task = tomllib.load(f)
        self.id = self.task["id"]
        # Seeded by task id and seed only: setup, check and oracle derive the same scenario.
        self.rng = random.Random(f"{self.id}/{self.seed}")

    def path(self, *parts: str) -> Path:
        return self.workdir.joinpath(*parts)

    def save_facts(self, facts: dict) -> None:
        d = self.path(PRIVATE)
        d.mkdir(exist_ok=True)
        (d / "facts.json").write_text(json.dumps(facts, indent=1))

    def facts(self) -> dict:
        return json.loads(self.path(PRIVATE, "facts.json").read_text())

    def ticket(self, text: str) -> None:
        """Seed-specific details of a request: task.toml's instruction is the same for
        every seed and points the agent at this file."""
        self.path("TICKET.md").write_text(text.strip() + "\n")

    def spawn(self, argv: list[str], log: Path | None = None) -> int:
        return spawn_daemon(self.workdir, argv, log)


def spawn_daemon(workdir: Path, argv: list[str], log: Path | None = None) -> int:
    """Start a background process in its own session (so the runner can kill its whole
    process group) with cwd = WORKDIR, and record its PID in WORKDIR/.pids."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    pythonpath = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent),
                                               os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, APP_WORKDIR=str(workdir), PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=pythonpath)
    proc = subprocess.Popen(argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    with open(Path(workdir) / ".pids", "a") as f:
        f.write(f"{proc.pid}\n")
    return proc.pid


def write_atomic(path: Path, text: str) -> None:
    """Readers polling a file (port, pid) never see it half written."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, timeout: float, interval: float = 0.05):
    """Poll until predicate() is truthy; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def http_json(port: int, path: str, token: str | None = None, body: dict | None = None,
              headers: dict | None = None, timeout: float = 2.0) -> tuple[int, dict]:
    """(status, JSON body) from a loopback service; raises OSError when nothing answers."""
    import urllib.error  # here, not at the top: most tools never talk HTTP
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers=dict(headers or {}))
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"{}")
        except ValueError:
            return e.code, {}
    except ValueError:
        return 0, {}


class Verdict:
    """check's answer: success = every subgoal reached and no collateral damage."""

    def __init__(self):
        self.subgoals: dict[str, bool] = {}
        self.damage: list[str] = []

    def subgoal(self, name: str, ok: bool) -> bool:
        self.subgoals[name] = bool(ok)
        return bool(ok)

    def collateral(self, what: str) -> None:
        self.damage.append(what)

    def to_json(self) -> str:
        ok = all(self.subgoals.values()) and not self.damage and bool(self.subgoals)
        return json.dumps({"success": ok, "subgoals": self.subgoals, "collateral": self.damage})


class Steps:
    """oracle's answer: a replayable list of discovery-tool steps."""

    def __init__(self):
        self.steps: list[dict] = []

    def call(self, tool: str, *args) -> "Steps":
        self.steps.append({"tool": "call", "args": {"name": tool, "args": [str(a) for a in args]}})
        return self

    def finish(self, summary: str) -> "Steps":
        self.steps.append({"tool": "finish", "args": {"summary": summary}})
        return self

    def to_json(self) -> str:
        return json.dumps({"steps": self.steps})


def fail(msg: str) -> None:
    print(msg, file=sys.stderr)
    sys.exit(2)
