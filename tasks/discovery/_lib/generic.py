#!/usr/bin/env python3
"""Generic workspace tools shared by the families: `proc`, `ports` and `fs`.

Everything is confined to the episode: processes are those whose working directory is
inside WORKDIR (parallel episodes never see each other), files are paths inside WORKDIR."""

import glob
import os
import signal
import sys
import time
from pathlib import Path

from episode import PRIVATE

WORKDIR = Path(os.environ.get("APP_WORKDIR") or os.getcwd()).resolve()
MAX_OUT = 16000
HIDDEN = (PRIVATE, ".pids")


def die(msg: str, code: int = 2) -> None:
    print(msg)
    sys.exit(code)


# ---------------------------------------------------------------- processes

def _own_pids() -> set[int]:
    """This tool and its ancestors: never shown, never killable."""
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            break
    return pids


def workspace_procs() -> dict[int, dict]:
    """pid -> {ppid, pgid, start, argv} for live processes running inside WORKDIR."""
    own, procs = _own_pids(), {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in own:
            continue
        pid = int(entry)
        try:
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
            if cwd != WORKDIR and WORKDIR not in cwd.parents:
                continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except (OSError, ValueError):
            continue
        if fields[0] == "Z" or not argv:
            continue
        procs[pid] = {"ppid": int(fields[1]), "pgid": int(fields[2]), "start": int(fields[19]),
                      "argv": argv}
    return procs


def _show_argv(argv: list[str]) -> str:
    """Paths inside WORKDIR relative, the tools' own install paths by basename."""
    out = []
    for a in argv:
        p = Path(a)
        if p.is_absolute() and (p == WORKDIR or WORKDIR in p.parents):
            a = str(p.relative_to(WORKDIR)) or "."
        elif p.is_absolute() and p.suffix == ".py":
            a = p.name
        elif p.is_absolute() and p.name.startswith("python"):
            a = p.name
        out.append(a)
    return " ".join(out)


def proc_main(args: list[str]) -> None:
    if args[:1] == ["list"]:
        procs = workspace_procs()
        ticks, boot_uptime = os.sysconf("SC_CLK_TCK"), float(open("/proc/uptime").read().split()[0])
        print(f"{'PID':>7} {'PPID':>7} {'PGID':>7} {'UPTIME':>8}  COMMAND")
        for pid, p in sorted(procs.items()):
            up = boot_uptime - p["start"] / ticks
            print(f"{pid:>7} {p['ppid']:>7} {p['pgid']:>7} {up:>7.0f}s  {_show_argv(p['argv'])}")
        return
    if args[:1] == ["kill"] and len(args) in (2, 3):
        sig = {"TERM": signal.SIGTERM, "KILL": signal.SIGKILL, "INT": signal.SIGINT,
               "HUP": signal.SIGHUP}.get((args[2] if len(args) == 3 else "TERM").upper().removeprefix("SIG"))
        if not args[1].isdigit() or sig is None:
            die("usage: proc kill PID [TERM|KILL|INT|HUP]")
        pid = int(args[1])
        if pid not in workspace_procs():
            die(f"proc: no process {pid} in this workspace (see `proc list`)", 1)
        os.kill(pid, sig)
        gone = _wait_gone(pid, 2.0)
        print(f"sent SIG{sig.name.removeprefix('SIG')} to {pid}: " + ("exited" if gone else "still running"))
        return
    die("usage: proc list | proc kill PID [TERM|KILL|INT|HUP]")


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid not in workspace_procs():
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------- ports

def listening() -> dict[int, int]:
    """port -> socket inode for TCP sockets in LISTEN state."""
    ports = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A":
                ports[int(cols[1].rsplit(":", 1)[1], 16)] = int(cols[9])
    return ports


def socket_owners(procs: dict[int, dict]) -> dict[int, int]:
    """socket inode -> pid, for the given processes."""
    owners = {}
    for pid in procs:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    owners[int(target[8:-1])] = pid
        except OSError:
            continue
    return owners


def ports_main(args: list[str]) -> None:
    procs = workspace_procs()
    owners, ports = socket_owners(procs), listening()
    if args[:1] == ["list"]:
        print(f"{'PORT':>6} {'PID':>7}  COMMAND")
        for port, inode in sorted(ports.items()):
            if inode in owners:
                pid = owners[inode]
                print(f"{port:>6} {pid:>7}  {_show_argv(procs[pid]['argv'])}")
        return
    if args[:1] == ["who-has"] and len(args) == 2 and args[1].isdigit():
        port = int(args[1])
        if port not in ports:
            die(f"nothing is listening on port {port}", 1)
        pid = owners.get(ports[port])
        if pid is None:
            die(f"port {port} is held by a process outside this workspace", 1)
        p = procs[pid]
        print(f"port {port} is held by pid {pid} (pgid {p['pgid']}, parent {p['ppid']}): "
              f"{_show_argv(p['argv'])}")
        return
    die("usage: ports list | ports who-has PORT")


# ---------------------------------------------------------------- files

def resolve(rel: str) -> Path:
    p = (WORKDIR / rel).resolve()
    if p != WORKDIR and WORKDIR not in p.parents:
        die(f"fs: {rel}: outside the workspace", 1)
    if any(part in HIDDEN for part in p.relative_to(WORKDIR).parts):
        die(f"fs: {rel}: no such file or directory", 1)
    return p


def existing_file(rel: str) -> Path:
    p = resolve(rel)
    if not p.is_file():
        die(f"fs: {rel}: no such file", 1)
    return p


def fs_main(args: list[str]) -> None:
    cmd, rest = (args[0], args[1:]) if args else ("", [])
    if cmd == "ls" and len(rest) <= 1:
        d = resolve(rest[0] if rest else ".")
        if not d.is_dir():
            die(f"fs: {rest[0]}: not a directory", 1)
        for child in sorted(d.iterdir()):
            if child.name in HIDDEN:
                continue
            kind = "dir " if child.is_dir() else f"{child.stat().st_size:>12}"
            print(f"{kind:>12}  {child.name}{'/' if child.is_dir() else ''}")
        return
    if cmd == "read" and len(rest) == 1:
        with open(existing_file(rest[0]), "rb") as f:
            data = f.read(MAX_OUT + 1)
        sys.stdout.write(data[:MAX_OUT].decode(errors="replace"))
        if len(data) > MAX_OUT:
            print(f"\n... (truncated at {MAX_OUT} bytes)")
        return
    if cmd in ("write", "append") and len(rest) == 2:
        p = resolve(rest[0])
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "w" if cmd == "write" else "a") as f:
            f.write(rest[1])
        print(f"{'wrote' if cmd == 'write' else 'appended'} {len(rest[1].encode())} bytes to {rest[0]}")
        return
    if cmd == "replace" and len(rest) == 3:
        p = existing_file(rest[0])
        text = p.read_text()
        n = text.count(rest[1])
        if n != 1:
            die(f"fs: {rest[0]}: the text to replace occurs {n} times (must be exactly once)", 1)
        p.write_text(text.replace(rest[1], rest[2]))
        print(f"replaced 1 occurrence in {rest[0]}")
        return
    if cmd == "rm" and rest:
        for pattern in rest:
            matches = sorted(glob.glob(str(WORKDIR / pattern))) or [str(WORKDIR / pattern)]
            for m in matches:
                p = resolve(m)
                if p == WORKDIR or not p.exists():
                    die(f"fs: {pattern}: no such file", 1)
                if p.is_dir():
                    die(f"fs: {pattern}: is a directory (rm removes files)", 1)
                p.unlink()
                print(f"removed {p.relative_to(WORKDIR)}")
        return
    die("usage: fs ls [DIR] | fs read FILE | fs write FILE TEXT | fs append FILE TEXT | "
        "fs replace FILE OLD NEW | fs rm FILE...")


if __name__ == "__main__":
    tools = {"proc": proc_main, "ports": ports_main, "fs": fs_main}
    if len(sys.argv) < 2 or sys.argv[1] not in tools:
        die("usage: generic.py proc|ports|fs ARGS...")
    tools[sys.argv[1]](sys.argv[2:])
