#!/usr/bin/env python3
"""Loads an adapter saved by `apprentice train sft` with Hugging Face PEFT and compares.

1. Tensor names and shapes: the file's keys must be exactly the keys PEFT itself saves for a
   LoraConfig with the adapter's r/alpha/targets on this model, with the same shapes, and
   `PeftModel.from_pretrained` must load every one (no missing or unexpected keys).
2. Logits: the token ids of `manifest.json` (written by the `logits` example of
   apprentice-train) go through transformers' model (loaded from the same GGUF, which
   transformers dequantizes to f32), with the adapter off and on, and are compared with
   apprentice's two forward passes:
   - `f32`: the trainer's forward on the same dequantized f32 weights (should match closely);
   - `kernel`: the embedded inference model on the Q4_1 weights with quantized activations
     (differs by quantization noise even without an adapter, so its base is compared too).
   The adapter's effect (adapted minus base logits) is compared as well: it isolates the
   adapter from the base's dequantization differences.

Prints one JSON document and exits 1 when a check or a tolerance fails.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from peft.utils import get_peft_model_state_dict
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

# Tolerances (logits of SmolLM2 are O(10); max |logit| is reported alongside).
F32_MAX_ABS = 1e-2  # same f32 weights, different summation order
KERNEL_TOP1 = 0.9  # fraction of all prompts' positions whose argmax agrees (pooled: one
# prompt of ~40 tokens moves by 0.025 a token, below the quantization noise of the base itself)
EFFECT_REL = 0.05  # |effect_ours - effect_peft|_max / |effect_peft|_max, f32 path
KERNEL_EFFECT_REL = 0.25  # the same on the kernel path


def load_base(gguf_path):
    model = AutoModelForCausalLM.from_pretrained(
        os.path.dirname(gguf_path),
        gguf_file=os.path.basename(gguf_path),
        torch_dtype=torch.float32,
    )
    # SmolLM2's GGUF has no output.weight (tied embeddings); make sure the head is the
    # embedding and not a fresh random matrix.
    from gguf import GGUFReader

    names = {t.name for t in GGUFReader(gguf_path).tensors}
    if "output.weight" not in names:
        model.lm_head.weight = model.model.embed_tokens.weight
    return model.eval()


def check_names(adapter_dir, base):
    cfg = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
    ours = load_file(os.path.join(adapter_dir, "adapter_model.safetensors"))
    probe = get_peft_model(
        base,
        LoraConfig(
            r=cfg["r"],
            lora_alpha=cfg["lora_alpha"],
            target_modules=cfg["target_modules"],
            lora_dropout=0.0,
            bias="none",
            task_type="CAUSAL_LM",
        ),
    )
    expected = {k: tuple(v.shape) for k, v in get_peft_model_state_dict(probe).items()}
    probe.unload()  # restores `base` for the real load
    got = {k: tuple(v.shape) for k, v in ours.items()}
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    bad_shapes = sorted(k for k in set(got) & set(expected) if got[k] != expected[k])
    return cfg, ours, {
        "tensors": len(got),
        "expected": len(expected),
        "missing": missing[:5],
        "unexpected": unexpected[:5],
        "bad_shapes": bad_shapes[:5],
        "ok": not (missing or unexpected or bad_shapes),
    }


def loaded_values_match(peft_model, ours):
    """Every tensor of the file is what PEFT holds after loading (no silent skip)."""
    state = get_peft_model_state_dict(peft_model)
    worst = max(float((state[k] - v).abs().max()) for k, v in ours.items())
    return worst == 0.0


def read(out_dir, name, i, seq, vocab):
    path = os.path.join(out_dir, f"{name}_{i}.f32")
    return np.fromfile(path, dtype="<f4").reshape(seq, vocab)


def diff(a, b):
    return {
        "max_abs": float(np.abs(a - b).max()),
        "mean_abs": float(np.abs(a - b).mean()),
        "top1_agree": float((a.argmax(-1) == b.argmax(-1)).mean()),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--logits", required=True, help="directory written by the logits example")
    args = ap.parse_args()
    torch.set_grad_enabled(False)

    base = load_base(args.gguf)
    cfg, ours_tensors, names = check_names(args.adapter, base)
    model = PeftModel.from_pretrained(base, args.adapter).eval()
    names["values_loaded"] = loaded_values_match(model, ours_tensors)

    manifest = json.load(open(os.path.join(args.logits, "manifest.json")))
    vocab = manifest["vocab"]
    prompts = []
    for i, p in enumerate(manifest["prompts"]):
        ids = torch.tensor([p["tokens"]])
        seq = ids.shape[1]
        theirs_lora = model(ids).logits[0].numpy()
        with model.disable_adapter():
            theirs_base = model(ids).logits[0].numpy()
        effect = theirs_lora - theirs_base
        row = {"prompt": p["prompt"], "tokens": seq, "max_abs_logit": float(np.abs(theirs_base).max()),
               "peft_effect_max_abs": float(np.abs(effect).max())}
        for path in ("f32", "kernel"):
            base_o = read(args.logits, f"{path}_base", i, seq, vocab)
            lora_o = read(args.logits, f"{path}_lora", i, seq, vocab)
            eff = diff(lora_o - base_o, effect)
            row[path] = {
                "base": diff(base_o, theirs_base),
                "lora": diff(lora_o, theirs_lora),
                "effect_max_abs": eff["max_abs"],
                "effect_rel": eff["max_abs"] / max(row["peft_effect_max_abs"], 1e-12),
            }
        prompts.append(row)

    def worst(path, part, key):
        return max(r[path][part][key] for r in prompts)

    def pooled_top1(path, part):
        agree = sum(r[path][part]["top1_agree"] * r["tokens"] for r in prompts)
        return agree / sum(r["tokens"] for r in prompts)

    def worst_effect(path):
        return max(r[path]["effect_rel"] for r in prompts)

    checks = {
        "names_and_shapes": names["ok"] and names["values_loaded"],
        "f32_base_max_abs": worst("f32", "base", "max_abs") <= F32_MAX_ABS,
        "f32_lora_max_abs": worst("f32", "lora", "max_abs") <= F32_MAX_ABS,
        "f32_effect_rel": worst_effect("f32") <= EFFECT_REL,
        # The kernel's adapted logits may be off by its base noise plus its effect error.
        "kernel_lora_max_abs": all(
            r["kernel"]["lora"]["max_abs"]
            <= r["kernel"]["base"]["max_abs"] + KERNEL_EFFECT_REL * r["peft_effect_max_abs"]
            for r in prompts
        ),
        "kernel_lora_top1": pooled_top1("kernel", "lora") >= KERNEL_TOP1,
        "kernel_effect_rel": worst_effect("kernel") <= KERNEL_EFFECT_REL,
        "adapter_not_trivial": min(r["peft_effect_max_abs"] for r in prompts) > 1e-2,
    }
    doc = {
        "adapter": args.adapter,
        "config": {k: cfg[k] for k in ("r", "lora_alpha", "target_modules")},
        "names": names,
        "tolerances": {
            "f32_max_abs": F32_MAX_ABS,
            "kernel_top1": KERNEL_TOP1,
            "effect_rel": EFFECT_REL,
            "kernel_effect_rel": KERNEL_EFFECT_REL,
        },
        "prompts": prompts,
        "kernel_top1_pooled": {part: pooled_top1("kernel", part) for part in ("base", "lora")},
        "checks": checks,
        "ok": all(checks.values()),
    }
    print(json.dumps(doc, indent=2))
    sys.exit(0 if doc["ok"] else 1)


if __name__ == "__main__":
    main()
