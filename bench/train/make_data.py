#!/usr/bin/env python3
"""Makes bench/train/data from rows exported by bench/sft_quality/run.sh: SFT rows cut to the
issue and the first tool call (the ~1k-token system prompt dropped: 300-520 tokens a row, so
a CPU benchmark finishes in minutes on 2 cores) and step-level DPO pairs with the prompt cut
the same way (the issue only). usage: make_data.py CLEAN_SFT.jsonl DPO.jsonl OUT_DIR N"""

import json
import os
import sys


def first_turns(messages):
    i = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return [m for m in messages[: i + 1] if m["role"] != "system"]


def main():
    sft, dpo, out, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    os.makedirs(out, exist_ok=True)
    rows = [json.loads(line) for line in open(sft)][:n]
    with open(os.path.join(out, "sft.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps({"messages": first_turns(r["messages"])}) + "\n")
    pairs = [json.loads(line) for line in open(dpo)][:n]
    with open(os.path.join(out, "dpo.jsonl"), "w") as f:
        for p in pairs:
            prompt = [m for m in p["prompt"] if m["role"] == "user"][:1]
            f.write(json.dumps({"prompt": prompt, "chosen": p["chosen"], "rejected": p["rejected"]}) + "\n")


if __name__ == "__main__":
    main()
