#!/usr/bin/env python3
"""Summarises bench/sft_quality/run.sh's outputs: rows, held-out loss before/after, and the
tool-call parse rate (1 - format_errors / proposals) of the base and adapted policy, over all
evaluated tasks and over the held-out ones. usage: report.py OUT "HELD OUT TASKS"."""

import json
import os
import sys


def parse_rate(episodes):
    proposals = sum(e["proposals"] for e in episodes)
    errors = sum(e["format_errors"] for e in episodes)
    return {"episodes": len(episodes), "proposals": proposals, "format_errors": errors,
            "parse_rate": 1 - errors / proposals if proposals else None,
            "resolved": sum(e["resolved"] for e in episodes)}


def main():
    out, held = sys.argv[1], set(sys.argv[2].split())
    load = lambda name: json.load(open(os.path.join(out, name)))
    train = load("train.json")
    doc = {
        "export": {"clean": load("export-clean.json"), "recovery": load("export-recovery.json")},
        "held_out_tasks": sorted(held),
        "train": train,
        "parse": {},
    }
    for side in ("base", "lora"):
        path = os.path.join(out, f"parse-{side}.json")
        if not os.path.exists(path) or os.path.getsize(path) == 0:
            continue
        eps = load(f"parse-{side}.json")["episodes_detail"]
        doc["parse"][side] = {"all": parse_rate(eps),
                              "held_out": parse_rate([e for e in eps if e["task"] in held])}
    ev = train.get("eval") or {}
    print(f"held-out loss ({ev.get('rows')} rows): {ev.get('loss_before')} -> {ev.get('loss_after')}",
          file=sys.stderr)
    for side, r in doc["parse"].items():
        print(f"parse rate {side}: all {r['all']['parse_rate']} ({r['all']['format_errors']}/"
              f"{r['all']['proposals']} errors), held-out {r['held_out']['parse_rate']}", file=sys.stderr)
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
