#!/usr/bin/env python3
"""Reference outputs from llama.cpp for apprentice-embedded's parity test.

Runs the same GGUF file through llama.cpp (via llama-cpp-python) and prints, as JSON:

* tokenizer ids for a corpus of code and prose (special-token parsing off, and on for the
  strings that contain control tokens),
* for fixed chat prompts: the prompt ids (template rendered with jinja2 from the GGUF's own
  chat template, tokenized with special tokens parsed), the first 32 greedy token ids, the
  top-1/top-2 logit margin at each greedy step and the top log-probs after the prompt.

Usage:
    pip install llama-cpp-python jinja2
    python3 bench/embedded/parity.py --model SmolLM2-135M-Instruct.Q4_1.gguf \
        > crates/embedded/tests/fixtures/llamacpp_parity.json
"""

import argparse
import hashlib
import json
import sys

import jinja2
import llama_cpp
import numpy as np

GREEDY_TOKENS = 32
TOP_LOGITS = 10

CORPUS = [
    "Hello world",
    "Hello, world! How are you today?",
    " leading space",
    "   three leading spaces and trailing   ",
    "",
    "a",
    "def add(a, b):\n    return a + b\n",
    "fn main() {\n\tprintln!(\"{}\", 12345);\n}\n",
    "    if x:\n        y = [1, 2, 3]\n\n\n    else:\n\t\tpass",
    "impl<'a> Foo<'a> for &'a str { fn f(&self) -> Option<Box<dyn Error>> { None } }",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }",
    "SELECT id, name FROM users WHERE age >= 21 ORDER BY name;",
    '{"name": "run_shell", "arguments": {"cmd": "ls -la /tmp && echo done"}}',
    "<tool_call>\n{\"name\": \"read_file\", \"arguments\": {\"path\": \"src/lib.rs\"}}\n</tool_call>",
    "numbers 1234567890 0.5 -17 1e-9 0x1F 3.14159 1,000,000",
    "x=1;y=22;z=333;w=4444",
    "The year 2024 had 366 days; pi is about 3.14159.",
    "It's, they're, we've, I'll, you'd, I'm, DON'T, can't",
    "Ünïcödé façade naïve résumé — “quotes” ‘single’ «guillemets»",
    "日本語のテキスト 中文文本 한국어 텍스트",
    "مرحبا بالعالم שלום עולם Привет мир Γειά σου",
    "emoji 🚀🔥👍🏽 and flags 🇫🇷 and zwj 👩‍💻",
    "combining e\u0301 and zero\u200bwidth and nbsp\u00a0here",
    "tabs\t\tand\tspaces  \t mixed",
    "windows\r\nline endings\r\n",
    "   \n\n  \t ",
    "\n\n\n",
    "rare control bytes \x04 \x06 \x13 \x14 \x16 \x1d are not in the vocabulary",
    "trailing newline\n",
    "The quick brown fox jumps over the lazy dog. " * 3,
    "In 1969, Apollo 11 landed on the Moon; Neil Armstrong and Buzz Aldrin walked there for about 2.5 hours.",
    "git diff --git a/src/main.rs b/src/main.rs\n@@ -1,3 +1,4 @@\n-fn old() {}\n+fn new() {}\n",
    "    # comment with    multiple   spaces\n    value = call(arg1,arg2 ,  arg3)",
    "<|im_start|>user\nhi<|im_end|>",
    "text with <|endoftext|> inside and <|im_end|> too",
    "<file_sep>path/to/file.py<jupyter_code>",
]

# Strings also tokenized with special-token parsing on.
SPECIAL_CORPUS = [s for s in CORPUS if "<|" in s or "<file_sep>" in s]

PROMPTS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "You are a helpful coding assistant."},
        {"role": "user", "content": "Write a Python function that reverses a string."},
    ],
    [{"role": "user", "content": "List three prime numbers."}],
    [{"role": "user", "content": "Explain what a hash map is in one sentence."}],
    [{"role": "user", "content": "Write a Rust function that adds two numbers."}],
    [{"role": "user", "content": "What does the `ls -la` command do?"}],
    [
        {"role": "system", "content": "Answer with a single word."},
        {"role": "user", "content": "What color is the sky on a clear day?"},
    ],
    [
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello! How can I help you today?"},
        {"role": "user", "content": "Write a haiku about Rust."},
    ],
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def render(template, messages):
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(messages=messages, add_generation_prompt=True)


def log_softmax(logits):
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


class Decoder:
    """Token-by-token llama.cpp decoding through the low-level API (last-position logits)."""

    def __init__(self, llm):
        self.ctx = llm._ctx.ctx
        self.n_vocab = llm.n_vocab()

    def reset(self):
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.ctx), True)

    def decode(self, tokens):
        arr = (llama_cpp.llama_token * len(tokens))(*tokens)
        rc = llama_cpp.llama_decode(self.ctx, llama_cpp.llama_batch_get_one(arr, len(tokens)))
        if rc != 0:
            raise RuntimeError(f"llama_decode failed: {rc}")
        ptr = llama_cpp.llama_get_logits_ith(self.ctx, -1)
        return np.array(np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)), dtype=np.float32)


def greedy(dec, prompt_ids, end_ids):
    """Greedy decoding; returns ids (ending at an end-of-turn token or after 32), the
    top-1/top-2 logit margin at each step, and the top log-probs after the prompt."""
    dec.reset()
    logits = dec.decode(prompt_ids)
    first = log_softmax(logits)
    top = np.argsort(-first, kind="stable")[:TOP_LOGITS]
    out, margins = [], []
    while len(out) < GREEDY_TOKENS:
        order = np.argsort(-logits, kind="stable")
        tok = int(order[0])
        out.append(tok)
        margins.append(float(logits[order[0]] - logits[order[1]]))
        if tok in end_ids:
            break
        logits = dec.decode([tok])
    return out, margins, [[int(i), float(first[i])] for i in top]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    llm = llama_cpp.Llama(
        model_path=args.model,
        n_ctx=2048,
        n_threads=args.threads,
        verbose=False,
    )
    template = llm.metadata["tokenizer.chat_template"]
    end_ids = {llm.token_eos(), 0, 2}

    def tok(text, special):
        return llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    dec = Decoder(llm)
    prompts = []
    for messages in PROMPTS:
        text = render(template, messages)
        ids = tok(text, True)
        tokens, margins, top = greedy(dec, ids, end_ids)
        prompts.append(
            {
                "messages": messages,
                "rendered": text,
                "prompt_ids": ids,
                "greedy_ids": tokens,
                "greedy_text": llm.detokenize(tokens).decode("utf-8", "replace"),
                "greedy_margins": margins,
                "top_logprobs": top,
            }
        )

    fixture = {
        "generator": "bench/embedded/parity.py",
        "llama_cpp_python": llama_cpp.__version__,
        "model_sha256": sha256(args.model),
        "tokenizer": [{"text": s, "ids": tok(s, False)} for s in CORPUS],
        "tokenizer_special": [{"text": s, "ids": tok(s, True)} for s in SPECIAL_CORPUS],
        "prompts": prompts,
    }
    json.dump(fixture, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
