#!/usr/bin/env python3
"""Imperfect scripted agents for the demo tasks, from the gold run's SFT rows.

For each task, VARIANTS reply scripts (JSON arrays of replies for `--policy scripted:FILE`)
that reach the gold fix the way a fallible agent would, each drawn with its own seed:
- 0-3 exploration calls first (list a directory, view a file, search for a word of the
  code being fixed, run the tests);
- sometimes a format slip (prose with no tool call, or a call missing its closing tags);
- sometimes a wrong edit in place of a gold one (the right place, a change that does not
  fix it), which the oracle supervisor rejects or revises to the gold edit.
The clean SFT view keeps the executed calls (revisions standing in for wrong edits), the
recovery view keeps the mistakes masked, and unresolved episodes feed DPO pairs.

usage: make_scripts.py GOLD_SFT.jsonl OUT_DIR VARIANTS
"""

import json
import os
import random
import re
import sys

PARAM = re.compile(r"<parameter=(\w+)>\n(.*?)\n</parameter>", re.S)
FUNC = re.compile(r"<function=(\w+)>")


def call(name, **args):
    text = f"<tool_call>\n<function={name}>\n"
    for k, v in args.items():
        text += f"<parameter={k}>\n{v}\n</parameter>\n"
    return text + "</function>\n</tool_call>"


def parse(reply):
    m = FUNC.search(reply)
    return (m.group(1) if m else None), dict(PARAM.findall(reply))


def exploration(rng, gold):
    edits = [p for n, p in map(parse, gold) if n == "str_replace"]
    words = sorted({w for p in edits for w in re.findall(r"[A-Za-z_]{5,}", p.get("old_str", ""))})
    paths = sorted({p["path"] for p in edits if "path" in p})
    options = [
        call("view", path="."),
        call("view", path="README.md"),
        call("bash", command="python -m pytest -q -x 2>&1 | tail -15"),
        call("bash", command="git log --oneline | head -5"),
        call("list_tools"),
    ]
    options += [call("search", pattern=w, path=".") for w in words[:3]]
    options += [call("view", path=os.path.dirname(p) or ".") for p in paths]
    return rng.sample(options, k=min(rng.randint(0, 3), len(options)))


SLIPS = [
    "Let me look at the code before changing anything.",
    "I think the bug is in the range check; I will fix it now.",
    "<tool_call>\n<function=view>\n<parameter=path>\nREADME.md\n</parameter>\n",
    "```python\nprint('checking')\n```",
]


def wrong_edit(params):
    old = params["old_str"]
    lines = old.split("\n")
    lines[0] = lines[0] + "  # checked"
    return call("str_replace", path=params["path"], old_str=old, new_str="\n".join(lines))


def variant(rng, gold):
    replies = exploration(rng, gold)
    if rng.random() < 0.35:
        replies.insert(rng.randint(0, len(replies)), rng.choice(SLIPS))
    body = list(gold)
    edits = [i for i, r in enumerate(body) if parse(r)[0] == "str_replace"]
    if edits and rng.random() < 0.4:
        i = rng.choice(edits)
        body[i] = wrong_edit(parse(body[i])[1])
    return replies + body


def main():
    gold_path, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    count = 0
    for line in open(gold_path):
        row = json.loads(line)
        gold = [m["content"] for m in row["messages"] if m["role"] == "assistant"]
        seen = set()
        for v in range(n):
            script = variant(random.Random(f"{row['task']}/{v}"), gold)
            key = json.dumps(script)
            if key in seen:
                continue
            seen.add(key)
            with open(os.path.join(out, f"{row['task']}__v{v}.json"), "w") as f:
                json.dump(script, f)
            count += 1
    print(count)


if __name__ == "__main__":
    main()
