#!/usr/bin/env python3
"""llama.cpp side of bench.sh: the same measurement as `examples/generate.rs --bench`.

Tokenizes the same prompt file, cuts it to --prompt-tokens, times one batched eval of the
prompt (prompt processing) and then --gen-tokens greedy single-token evals without stopping
at end-of-turn (generation). Prints one JSON line.
"""

import argparse
import json
import os
import time

import llama_cpp
import numpy as np

PROMPT_FILE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..", "..", "crates", "embedded", "examples", "bench_prompt.txt",
)


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--gen-tokens", type=int, default=128)
    args = ap.parse_args()

    t0 = time.perf_counter()
    llm = llama_cpp.Llama(
        model_path=args.model,
        n_ctx=max(512, args.prompt_tokens + args.gen_tokens + 16),
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    load_s = time.perf_counter() - t0
    text = open(PROMPT_FILE, encoding="utf-8").read() * 8
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
    tokens = tokens[: args.prompt_tokens]
    ctx = llm._ctx.ctx
    n_vocab = llm.n_vocab()

    def decode(batch_tokens, pos):
        arr = (llama_cpp.llama_token * len(batch_tokens))(*batch_tokens)
        batch = llama_cpp.llama_batch_get_one(arr, len(batch_tokens))
        rc = llama_cpp.llama_decode(ctx, batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed: {rc}")
        ptr = llama_cpp.llama_get_logits_ith(ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(n_vocab,))

    def clear():
        mem = llama_cpp.llama_get_memory(ctx)
        llama_cpp.llama_memory_clear(mem, True)

    # Warm-up, then a clean cache.
    decode(tokens[:8], 0)
    clear()
    t = time.perf_counter()
    logits = decode(tokens, 0)
    prompt_s = time.perf_counter() - t
    pos = len(tokens)
    t = time.perf_counter()
    for _ in range(args.gen_tokens):
        nxt = int(np.argmax(logits))
        logits = decode([nxt], pos)
        pos += 1
    gen_s = time.perf_counter() - t
    print(
        json.dumps(
            {
                "impl": "llama.cpp",
                "llama_cpp_python": llama_cpp.__version__,
                "load_s": round(load_s, 3),
                "prompt_tokens": len(tokens),
                "prompt_s": round(prompt_s, 4),
                "prompt_tok_s": round(len(tokens) / prompt_s, 2),
                "gen_tokens": args.gen_tokens,
                "gen_s": round(gen_s, 4),
                "gen_tok_s": round(args.gen_tokens / gen_s, 2),
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
