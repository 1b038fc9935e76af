"""Driver for run.sh: see there. Prints one table and writes results.json next to itself."""
import concurrent.futures as cf
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ["APPRENTICE_BIN"]
N_TASKS = int(os.environ.get("BENCH_TASKS", "17"))
WORKERS = [int(w) for w in " ".join(sys.argv[1:]).split()] or [1, 2]

tasks = sorted(glob.glob(os.path.join(ROOT, "tasks/demo/demo__*")))[:N_TASKS]
ids = [os.path.basename(t) for t in tasks]
# The demo spec's image: `images build demo` just made sure it exists.
env_image = json.loads(subprocess.check_output([BIN, "--json", "-q", "images", "build", "demo"]))["built"][0]["image"]

tmp = tempfile.mkdtemp(prefix="bench-docker-")
preds = os.path.join(tmp, "gold.jsonl")
with open(preds, "w") as f:
    for t, i in zip(tasks, ids):
        f.write(json.dumps({"instance_id": i, "model_name_or_path": "gold",
                            "model_patch": open(os.path.join(t, "gold.patch")).read()}) + "\n")


def apprentice(instance_ids, workers):
    args = [BIN, "--json", "-q", "--db", os.path.join(tmp, "db.sqlite"), "verify", "--tasks", "demo",
            "--predictions", preds, "--sandbox", "docker", "--workers", str(workers)]
    for i in instance_ids:
        args += ["--task", i]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode not in (0, 1):
        raise SystemExit(f"apprentice failed: {out.stderr}")
    return json.loads(out.stdout)


FLOOR = r"""set -e
cp -a /src/repo/. /testbed/ && cd /testbed && rm -rf .git
git init -q && git add -A && git commit -qm base
git apply /src/gold.patch && git apply /src/test.patch
echo '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider {files} > /tmp/log 2>&1; rc=$?
echo '>>>>> End Test Output'; tail -3 /tmp/log; exit 0
"""


def floor(task):
    test_files = []
    for line in open(os.path.join(task, "test.patch")):
        if line.startswith("+++ b/"):
            test_files.append(line[6:].strip())
    script = FLOOR.replace("{files}", " ".join(test_files))
    t0 = time.monotonic()
    subprocess.run(["docker", "run", "--rm", "--network", "none", "--init", "-m", "4g", "--cpus", "2",
                    "--pids-limit", "1024", "-v", f"{task}:/src:ro", env_image, "bash", "-c", script],
                   check=True, capture_output=True)
    return time.monotonic() - t0


def timed(fn):
    t0 = time.monotonic()
    result = fn()
    return time.monotonic() - t0, result


rows = []
# Per instance, one at a time (includes the CLI's process start and engine connect, a few ms).
per_app = []
for i in ids:
    secs, out = timed(lambda: apprentice([i], 1))
    assert out["resolved"] == 1, out
    per_app.append(secs)
per_floor = [floor(t) for t in tasks]
mean = lambda xs: sum(xs) / len(xs)
rows.append(("per-instance mean s", mean(per_app), mean(per_floor)))
rows.append(("per-instance min s", min(per_app), min(per_floor)))
for w in WORKERS:
    secs, out = timed(lambda: apprentice(ids, w))
    assert out["resolved"] == len(ids), out
    with cf.ThreadPoolExecutor(w) as pool:
        fsecs, _ = timed(lambda: list(pool.map(floor, tasks)))
    rows.append((f"throughput inst/s, {w} workers", len(ids) / secs, len(ids) / fsecs))

def official_harness():
    """Whether SWE-bench's own harness could run here: it pulls `swebench/sweb.eval.*` images
    from Docker Hub, or builds them `FROM ubuntu:22.04` with Miniconda from repo.anaconda.com
    and the repository cloned from GitHub. Any of those unreachable rules it out."""
    import socket
    missing = []
    for host in ["registry-1.docker.io", "repo.anaconda.com", "github.com"]:
        try:
            socket.getaddrinfo(host, 443)
        except OSError as e:
            missing.append(f"{host} ({e.strerror or e})")
    return "cannot run here: unreachable " + ", ".join(missing) if missing else "hosts reachable"


peer = official_harness()
print(f"{len(ids)} demo instances, gold patches, image {env_image}, {os.cpu_count()} CPUs, "
      f"load {os.getloadavg()[0]:.1f}")
print(f"official swebench harness: {peer}; floor: plain `docker run` of the same eval steps")
print(f"{'metric':<32} {'apprentice':>11} {'docker run':>11} {'ratio':>7}")
for name, a, f in rows:
    print(f"{name:<32} {a:>11.3f} {f:>11.3f} {a / f:>7.2f}")
json.dump({"instances": len(ids), "rows": rows, "load_1min": os.getloadavg()[0],
           "official_harness": peer}, open(os.path.join(HERE, "results.json"), "w"), indent=1)
