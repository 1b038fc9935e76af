#!/usr/bin/env python3
"""The PyTorch + PEFT side of bench/train: the same LoRA SFT or DPO training as
`apprentice train sft|dpo`, on the same token ids, and its throughput.

It trains SmolLM2-135M loaded by transformers from the same GGUF (dequantized to f32, as
our trainer does) with a PEFT LoRA on the same projections, rank, alpha and dropout, with
torch.optim.AdamW, cosine schedule with warmup, gradient clipping and accumulation, one
sequence per micro-batch (no padding), exactly like crates/train:
- SFT: loss = sum over rows of weight * masked NLL sum / trained tokens of the step;
- DPO (sigmoid): policy = adapter on, reference = the same model with the adapter disabled
  under no_grad (what TRL's DPOTrainer does for a PEFT model without ref_model), log-probs
  summed over completion tokens.

The sequences come from `cargo run --example tokenize` (apprentice's own chat template and
masks), so both sides see identical tokens. Prints one JSON line: tokens, seconds of the
training loop (model loading excluded), tokens_per_second, final_loss.
"""

import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def load_model(gguf_path, rank, alpha, dropout):
    model = AutoModelForCausalLM.from_pretrained(
        os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path), torch_dtype=torch.float32
    )
    from gguf import GGUFReader

    if "output.weight" not in {t.name for t in GGUFReader(gguf_path).tensors}:
        model.lm_head.weight = model.model.embed_tokens.weight  # tied, as in the GGUF
    cfg = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=TARGETS,
                     bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(model, cfg)
    model.train()
    return model


def seq_logp(model, seq):
    """Summed log-prob of the masked targets of one sequence."""
    ids = torch.tensor([seq["tokens"]])
    logits = model(ids[:, :-1]).logits[0]
    lp = torch.log_softmax(logits, dim=-1).gather(1, ids[0, 1:].unsqueeze(1)).squeeze(1)
    mask = torch.tensor(seq["mask"][1:])
    return (lp * mask).sum()


def lr_at(peak, warmup_ratio, step, total):
    warmup = math.ceil(warmup_ratio * total)
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(max((step - warmup) / max(total - warmup, 1), 0.0), 1.0)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def sft_step(model, rows):
    denom = max(sum(int(sum(r["mask"])) for r in rows), 1)
    total = 0.0
    for r in rows:
        loss = -seq_logp(model, r) * r.get("weight", 1.0) / denom
        loss.backward()
        total += loss.item()
    return total, sum(len(r["tokens"]) for r in rows)


def dpo_step(model, pairs, beta):
    total = 0.0
    for p in pairs:
        pc, pr = seq_logp(model, p["chosen"]), seq_logp(model, p["rejected"])
        with torch.no_grad(), model.disable_adapter():
            rc, rr = seq_logp(model, p["chosen"]), seq_logp(model, p["rejected"])
        loss = -F.logsigmoid(beta * ((pc - rc) - (pr - rr))) / len(pairs)
        loss.backward()
        total += loss.item()
    return total, sum(len(p["chosen"]["tokens"]) + len(p["rejected"]["tokens"]) for p in pairs)


def parse_args():
    """The command line shared with trl_train.py: bench.py calls both the same way."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=["sft", "dpo"], required=True)
    ap.add_argument("--tokens", required=True, help="JSONL from the tokenize example")
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--dropout", type=float, default=0.05)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--grad-accum", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--warmup-ratio", type=float, default=0.1)
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--beta", type=float, default=0.1)
    return ap.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = [json.loads(line) for line in open(args.tokens) if line.strip()]
    model = load_model(args.gguf, args.rank, args.alpha, args.dropout)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    per_epoch = math.ceil(len(rows) / args.grad_accum)
    total_steps = per_epoch * args.epochs
    step, tokens, loss = 0, 0, float("nan")
    started = time.perf_counter()
    for _ in range(args.epochs):
        order = torch.randperm(len(rows)).tolist()
        for i in range(0, len(order), args.grad_accum):
            chunk = [rows[j] for j in order[i:i + args.grad_accum]]
            for g in opt.param_groups:
                g["lr"] = lr_at(args.lr, args.warmup_ratio, step, total_steps)
            if args.kind == "sft":
                loss, n = sft_step(model, chunk)
            else:
                loss, n = dpo_step(model, chunk, args.beta)
            torch.nn.utils.clip_grad_norm_(params, args.max_grad_norm)
            opt.step()
            opt.zero_grad(set_to_none=True)
            tokens += n
            step += 1
    seconds = time.perf_counter() - started
    print(json.dumps({"steps": step, "tokens": tokens, "seconds": seconds,
                      "tokens_per_second": tokens / seconds, "final_loss": loss}))


if __name__ == "__main__":
    main()
