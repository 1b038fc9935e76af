#!/usr/bin/env python3
"""Runs `apprentice train sft|dpo`, a plain PyTorch + PEFT loop (torch_train.py) and TRL's
trainers (trl_train.py) on the same token ids, LoRA settings and thread count, in turn, each
under `/usr/bin/time -v`, and prints tokens/s and peak RSS of each with the ratios ours /
theirs. Called by run.sh."""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(cmd, env):
    """Runs cmd under /usr/bin/time -v; returns (its JSON output, peak RSS MiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        out = subprocess.run(["/usr/bin/time", "-v", "-o", t.name, *cmd], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if out.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr[-3000:]}")
        kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t.read()).group(1))
    text = out.stdout.strip()
    doc = text[text.index("{"):] if text.startswith("{") else text.splitlines()[-1]
    return json.loads(doc), kb / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--apprentice", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--kind", action="append", required=True, help="sft=ROWS:TOKENS or dpo=ROWS:TOKENS")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=1024)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--grad-accum", type=int, default=4)
    args = ap.parse_args()
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))
    results = {}
    for spec in args.kind:
        kind, files = spec.split("=", 1)
        rows, tokens = files.split(":", 1)
        n = sum(1 for line in open(tokens) if line.strip())
        lr = "2e-4" if kind == "sft" else "5e-6"
        common = ["--rank", str(args.rank), "--alpha", str(2 * args.rank), "--dropout", "0.05",
                  "--lr", lr, "--grad-accum", str(args.grad_accum)]
        peers = {"torch": "torch_train.py", "trl": "trl_train.py"}
        side = {"ours": [], **{p: [] for p in peers}}
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as out:
                side["ours"].append(timed(
                    [args.apprentice, "-q", "train", kind, "--data", rows, "--out", out, "--model", args.gguf,
                     "--max-tokens", str(args.max_tokens), "--json", *common], env))
            for peer, script in peers.items():
                side[peer].append(timed(
                    [args.python, os.path.join(HERE, script), "--kind", kind, "--tokens", tokens,
                     "--gguf", args.gguf, "--threads", str(args.threads), *common], env))
        best = {k: max(v, key=lambda r: r[0]["tokens_per_second"])[0] for k, v in side.items()}
        peak = {k: max(r[1] for r in v) for k, v in side.items()}
        ours = best["ours"]
        result = {"rows": n, "tokens": ours["tokens"]}
        for name, b in best.items():
            if b["tokens"] != ours["tokens"]:
                sys.exit(f"{kind}: token counts differ (ours {ours['tokens']}, {name} {b['tokens']})")
            result[name] = {"tokens_per_second": b["tokens_per_second"], "peak_rss_mib": peak[name],
                            "final_loss": b["final_loss"]}
            if name != "ours":
                result[name]["speed_ratio_ours_over_it"] = ours["tokens_per_second"] / b["tokens_per_second"]
                result[name]["rss_ratio_ours_over_it"] = peak["ours"] / peak[name]
        results[kind] = result
    for kind, r in results.items():
        line = [f"{kind}: {r['rows']} rows, {r['tokens']} tokens"]
        for name in ("ours", *peers):
            s = r[name]
            ratio = "" if name == "ours" else (
                f" (ours x{s['speed_ratio_ours_over_it']:.2f} speed, x{s['rss_ratio_ours_over_it']:.2f} memory)")
            line.append(f"{name} {s['tokens_per_second']:.1f} tokens/s, {s['peak_rss_mib']:.0f} MiB{ratio}")
        print(" | ".join(line), file=sys.stderr)
    print(json.dumps({"threads": args.threads, "runs": args.runs, "results": results}, indent=2))


if __name__ == "__main__":
    main()
