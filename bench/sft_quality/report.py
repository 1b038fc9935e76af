#!/usr/bin/env python3
"""Summarises bench/sft_quality/run.sh's outputs: rows, held-out loss before/after, and the
tool-call parse rate (parsed replies / replies) of the base and adapted policy, prefilled
and free (`+free`), over all evaluated tasks and over the held-out ones. usage: report.py OUT "HELD OUT TASKS"."""

import json
import os
import sys


def parse_rate(episodes):
    # An episode's `proposals` are the replies that parsed; its format errors the ones that did not.
    parsed = sum(e["proposals"] for e in episodes)
    errors = sum(e["format_errors"] for e in episodes)
    turns = parsed + errors
    return {"episodes": len(episodes), "turns": turns, "parsed": parsed, "format_errors": errors,
            "parse_rate": parsed / turns if turns else None,
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
    for side in ("base", "lora", "base-free", "lora-free"):
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
        a, h = r["all"], r["held_out"]
        print(f"parse rate {side}: all {a['parsed']}/{a['turns']}, held-out {h['parsed']}/{h['turns']}",
              file=sys.stderr)
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
