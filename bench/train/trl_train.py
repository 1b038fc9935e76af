#!/usr/bin/env python3
"""The TRL side of bench/train: TRL's own SFTTrainer and DPOTrainer on the same token ids,
LoRA, optimizer settings and threads as `apprentice train sft|dpo` and torch_train.py.

What a TRL user runs, with the tokenization taken out so all three sides see identical tokens:
- SFT: SFTTrainer on a pre-tokenized dataset (`skip_prepare_dataset`), labels -100 outside the
  trained tokens, one sequence per micro-batch;
- DPO: DPOTrainer (sigmoid loss) on a PEFT model with no ref_model, so the reference is the
  model with the adapter disabled, as in ours. Its `tokenize_row` is replaced by one that
  returns the prompt and completion ids split from the same sequences. TRL runs chosen and
  rejected as one padded batch, as it does for its users.

Both: per_device_train_batch_size 1, the same gradient accumulation, AdamW (adamw_torch),
cosine schedule with 10% warmup, max_grad_norm 1, weight decay 0, bf16 off, no saving.
Prints one JSON line like torch_train.py: steps, tokens, seconds of trainer.train(),
tokens_per_second, final_loss.
"""

import contextlib
import json
import os
import sys
import time

import torch
from datasets import Dataset
from transformers import AutoTokenizer
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

from torch_train import load_model, parse_args


def sft_dataset(rows):
    def example(r):
        labels = [t if m > 0 else -100 for t, m in zip(r["tokens"], r["mask"])]
        return {"input_ids": r["tokens"], "attention_mask": [1] * len(r["tokens"]), "labels": labels}

    return Dataset.from_list([example(r) for r in rows])


def collate(batch):
    """Batches of one sequence: no padding, like the other two sides."""
    return {k: torch.tensor([b[k] for b in batch]) for k in ("input_ids", "attention_mask", "labels")}


def split(seq):
    """A (prompt, completion) split of a tokenized sequence at its first trained token."""
    start = next(i for i, m in enumerate(seq["mask"]) if m > 0)
    return seq["tokens"][:start], seq["tokens"][start:]


def dpo_dataset(pairs):
    rows = []
    for p in pairs:
        prompt, chosen = split(p["chosen"])
        prompt_r, rejected = split(p["rejected"])
        if prompt != prompt_r:
            raise SystemExit("a pair's chosen and rejected sequences have different prompts")
        # TRL maps over text columns before tokenizing; the ids ride along.
        rows.append({"prompt": "", "chosen": "", "rejected": "", "ids": [prompt, chosen, rejected]})
    return Dataset.from_list(rows)


class PretokenizedDPOTrainer(DPOTrainer):
    @staticmethod
    def tokenize_row(features, processing_class, max_prompt_length, max_completion_length, add_special_tokens):
        prompt, chosen, rejected = features["ids"]
        return {"prompt_input_ids": prompt, "chosen_input_ids": chosen, "rejected_input_ids": rejected}


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    rows = [json.loads(line) for line in open(args.tokens) if line.strip()]
    model = load_model(args.gguf, args.rank, args.alpha, args.dropout)
    common = dict(
        output_dir=os.environ.get("TMPDIR", "/tmp"), per_device_train_batch_size=1,
        gradient_accumulation_steps=args.grad_accum, learning_rate=args.lr, num_train_epochs=args.epochs,
        lr_scheduler_type="cosine", warmup_ratio=args.warmup_ratio, max_grad_norm=args.max_grad_norm, weight_decay=0.0,
        optim="adamw_torch", logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
        dataloader_num_workers=0, seed=0, remove_unused_columns=False, disable_tqdm=True,
    )
    # The trainers want a tokenizer (TRL reads its pad id); it tokenizes nothing here.
    tokenizer = AutoTokenizer.from_pretrained(os.path.dirname(args.gguf), gguf_file=os.path.basename(args.gguf))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if args.kind == "sft":
        tokens = sum(len(r["tokens"]) for r in rows)
        trainer = SFTTrainer(
            model=model, processing_class=tokenizer, train_dataset=sft_dataset(rows), data_collator=collate,
            args=SFTConfig(dataset_kwargs={"skip_prepare_dataset": True}, **common),
        )
    else:
        tokens = sum(len(p["chosen"]["tokens"]) + len(p["rejected"]["tokens"]) for p in rows)
        longest = max(max(len(p["chosen"]["tokens"]), len(p["rejected"]["tokens"])) for p in rows)
        trainer = PretokenizedDPOTrainer(
            model=model, ref_model=None, processing_class=tokenizer, train_dataset=dpo_dataset(rows),
            args=DPOConfig(beta=args.beta, loss_type="sigmoid", max_length=longest, max_prompt_length=longest,
                           max_completion_length=longest, **common),
        )
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # the trainer prints its logs; stdout is our JSON
        trainer.train()
    seconds = time.perf_counter() - started
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    print(json.dumps({"steps": trainer.state.global_step, "tokens": tokens, "seconds": seconds,
                      "tokens_per_second": tokens / seconds, "final_loss": losses[-1] if losses else None}))


if __name__ == "__main__":
    main()
