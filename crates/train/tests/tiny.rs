//! End-to-end checks on a tiny synthetic llama GGUF (no download, runs in seconds).

use apprentice_embedded::testing::{TinyLlamaSpec, pseudo_random, write_tiny_llama};
use apprentice_embedded::{EmbeddedModel, Projection};
use apprentice_train::data::{Message, tokenize_conversation};
use apprentice_train::sequence_logp;
use apprentice_train::trainer::sft_eval_loss;
use apprentice_train::{
    DpoKind, DpoLossConfig, LoadLimits, LoraConfig, Mode, TrainConfig, TrainError, TrainableLlama,
    load_dpo, load_sft, save_adapter, train_dpo, train_sft,
};
use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};

struct Tiny {
    _dir: tempfile::TempDir,
    path: PathBuf,
    embedded: EmbeddedModel,
}

fn tiny() -> Tiny {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tiny.gguf");
    write_tiny_llama(&path, &TinyLlamaSpec::default()).expect("write gguf");
    let embedded = EmbeddedModel::load(&path).expect("load");
    Tiny {
        _dir: dir,
        path,
        embedded,
    }
}

fn trainable(t: &Tiny, lora: &LoraConfig) -> TrainableLlama {
    TrainableLlama::load(&t.path, t.embedded.config(), lora).expect("trainable")
}

/// Sets every `B` to small deterministic values, as if the adapter had been trained.
fn randomize_b(model: &TrainableLlama) {
    for (i, (_, _, v)) in model.lora_vars().into_iter().enumerate() {
        let dims = v.b.as_tensor().dims().to_vec();
        let n = dims.iter().product();
        let data = pseudo_random(n, 100 + i as u64, 0.05);
        v.b.set(&Tensor::from_vec(data, dims, &Device::Cpu).expect("t"))
            .expect("set");
    }
}

fn last_row(logits: &Tensor) -> Vec<f32> {
    let n = logits.dim(0).expect("dim");
    logits
        .get(n - 1)
        .expect("row")
        .to_vec1::<f32>()
        .expect("vec")
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

const SFT_ROWS: &str = r#"{"messages":[{"role":"user","content":"the cat"},{"role":"assistant","content":"in the hat"}],"tools":[]}
{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"a"},{"role":"assistant","content":"bad","train":false},{"role":"user","content":"no"},{"role":"assistant","content":"the answer"}],"tools":[],"weight":0.5}
{"messages":[{"role":"user","content":"there"},{"role":"assistant","content":"inner the"}],"tools":[]}
"#;

const DPO_ROWS: &str = r#"{"prompt":[{"role":"user","content":"say the"}],"chosen":[{"role":"assistant","content":"the the"}],"rejected":[{"role":"assistant","content":"an error"}],"kind":"step"}
"#;

#[test]
fn zero_b_matches_embedded_logits_and_saved_adapter_round_trips() {
    let mut t = tiny();
    let model = trainable(&t, &LoraConfig::default());
    let tokens = t
        .embedded
        .render_chat(
            &[apprentice_embedded::ChatMessage::user("the cat in")],
            true,
        )
        .expect("render");
    let ours = last_row(&model.forward(&tokens, Mode::EVAL).expect("fwd"));
    let theirs = t.embedded.logits_for(&tokens).expect("logits");
    // The embedded model rounds Q, K, V and attention weights to f16 like llama.cpp.
    assert!(
        max_diff(&ours, &theirs) < 2e-2,
        "diff {}",
        max_diff(&ours, &theirs)
    );

    randomize_b(&model);
    let adapted = last_row(&model.forward(&tokens, Mode::EVAL).expect("fwd"));
    assert!(
        max_diff(&adapted, &ours) > 1e-3,
        "the adapter changes nothing"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    save_adapter(&model, dir.path(), "tiny").expect("save");
    t.embedded.load_lora(dir.path()).expect("load_lora");
    let loaded = t.embedded.logits_for(&tokens).expect("logits");
    assert!(
        max_diff(&adapted, &loaded) < 2e-2,
        "diff {}",
        max_diff(&adapted, &loaded)
    );
    // Reference mode is the base model even with a trained adapter.
    let reference = last_row(&model.forward(&tokens, Mode::REFERENCE).expect("fwd"));
    assert!(max_diff(&reference, &ours) < 1e-5);
}

#[test]
fn every_lora_var_gets_a_gradient() {
    let t = tiny();
    let model = trainable(&t, &LoraConfig::default());
    randomize_b(&model);
    let msgs = [
        Message {
            role: "user".into(),
            content: "the".into(),
            train: None,
        },
        Message {
            role: "assistant".into(),
            content: "cat in the hat".into(),
            train: None,
        },
    ];
    let seq = tokenize_conversation(&t.embedded, &msgs, |_, _| true).expect("tok");
    let lp = sequence_logp(&model, &seq, Mode::TRAIN).expect("lp");
    let grads = lp.backward().expect("backward");
    let vars = model.lora_vars();
    assert_eq!(vars.len(), 2 * 7);
    for (layer, proj, v) in vars {
        for (which, var) in [("A", &v.a), ("B", &v.b)] {
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("no gradient for {layer} {proj:?} {which}"));
            let norm = g.sqr().expect("sq").sum_all().expect("sum");
            let norm = norm.to_scalar::<f32>().expect("s");
            assert!(norm > 0.0, "zero gradient for {layer} {proj:?} {which}");
        }
    }
}

#[test]
fn chat_mask_trains_only_assistant_content_and_end_token() {
    let t = tiny();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "sft.jsonl", SFT_ROWS);
    let rows = load_sft(&path, &t.embedded, LoadLimits::default()).expect("load");
    assert_eq!(rows.len(), 3);
    let tok = t.embedded.tokenizer();
    let trained = |s: &apprentice_train::Sequence| -> String {
        let ids: Vec<u32> = s
            .tokens
            .iter()
            .zip(&s.mask)
            .filter(|(_, m)| **m > 0.0)
            .map(|(t, _)| *t)
            .collect();
        tok.decode(&ids)
    };
    assert_eq!(trained(&rows[0].seq), "in the hat<|im_end|>");
    // The `train: false` turn is context only.
    assert_eq!(trained(&rows[1].seq), "the answer<|im_end|>");
    assert!((rows[1].weight - 0.5).abs() < 1e-6);

    let dpo = write(dir.path(), "dpo.jsonl", DPO_ROWS);
    let pairs = load_dpo(&dpo, &t.embedded, LoadLimits::default()).expect("dpo");
    assert_eq!(trained(&pairs[0].chosen), "the the<|im_end|>");
    assert_eq!(trained(&pairs[0].rejected), "an error<|im_end|>");
}

#[test]
fn bad_datasets_name_the_file_and_line() {
    let t = tiny();
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = write(dir.path(), "empty.jsonl", "\n\n");
    let err = load_sft(&empty, &t.embedded, LoadLimits::default()).expect_err("empty");
    assert!(matches!(err, TrainError::EmptyDataset { .. }), "{err}");
    assert!(err.to_string().contains("empty.jsonl"));

    let bad = write(
        dir.path(),
        "bad.jsonl",
        &format!(
            "{}\nnot json\n",
            SFT_ROWS.lines().next().unwrap_or_default()
        ),
    );
    let err = load_sft(&bad, &t.embedded, LoadLimits::default()).expect_err("bad");
    assert!(err.to_string().contains("bad.jsonl:2:"), "{err}");

    let no_assistant = write(
        dir.path(),
        "noasst.jsonl",
        r#"{"messages":[{"role":"user","content":"hi"}]}"#,
    );
    let err = load_sft(&no_assistant, &t.embedded, LoadLimits::default()).expect_err("none");
    assert!(err.to_string().contains("noasst.jsonl:1:"), "{err}");

    // A DPO file given to SFT.
    let dpo = write(dir.path(), "dpo.jsonl", DPO_ROWS);
    let err = load_sft(&dpo, &t.embedded, LoadLimits::default()).expect_err("wrong kind");
    assert!(err.to_string().contains("dpo.jsonl:1:"), "{err}");

    let limits = LoadLimits {
        max_rows: None,
        max_tokens: Some(5),
    };
    let path = write(dir.path(), "sft.jsonl", SFT_ROWS);
    let err = load_sft(&path, &t.embedded, limits).expect_err("all too long");
    assert!(matches!(err, TrainError::EmptyDataset { .. }), "{err}");
}

#[test]
fn one_dpo_step_raises_chosen_over_rejected() {
    let t = tiny();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = write(dir.path(), "dpo.jsonl", DPO_ROWS);
    let pairs = load_dpo(&data, &t.embedded, LoadLimits::default()).expect("dpo");
    for kind in [DpoKind::Sigmoid, DpoKind::Ipo] {
        let model = trainable(&t, &LoraConfig::default());
        let margin = |m: &TrainableLlama| -> f32 {
            let c = sequence_logp(m, &pairs[0].chosen, Mode::EVAL).expect("c");
            let r = sequence_logp(m, &pairs[0].rejected, Mode::EVAL).expect("r");
            (c - r).expect("d").to_scalar::<f32>().expect("s")
        };
        let before = margin(&model);
        let cfg = TrainConfig {
            lr: 1e-3,
            grad_accum: 1,
            warmup_ratio: 0.0,
            dpo: DpoLossConfig {
                beta: 0.1,
                kind,
                rpo_alpha: 0.0,
            },
            ..Default::default()
        };
        let out = dir.path().join(format!("dpo-{kind:?}"));
        let report = train_dpo(&model, &pairs, &cfg, &out, None).expect("train");
        assert_eq!(report.steps, 1);
        let rewards = report.log[0].rewards.expect("rewards");
        assert_eq!(rewards.margin, 0.0, "first step starts at the reference");
        let after = margin(&model);
        assert!(after > before, "{kind:?}: margin {before} -> {after}");
        assert!(out.join("adapter_model.safetensors").exists());
        assert!(out.join("checkpoint-epoch-1/adapter_config.json").exists());
    }
}

#[test]
fn sft_steps_lower_the_loss_and_nan_keeps_the_checkpoint() {
    let t = tiny();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = write(dir.path(), "sft.jsonl", SFT_ROWS);
    let rows = load_sft(&data, &t.embedded, LoadLimits::default()).expect("load");
    let lora = LoraConfig {
        dropout: 0.05,
        targets: vec![Projection::Q, Projection::V, Projection::Down],
        ..Default::default()
    };
    let model = trainable(&t, &lora);
    let before = sft_eval_loss(&model, &rows).expect("eval");
    let cfg = TrainConfig {
        lr: 1e-2,
        epochs: 4,
        grad_accum: 2,
        ..Default::default()
    };
    let out = dir.path().join("sft");
    let report = train_sft(&model, &rows, &cfg, &out, None).expect("train");
    let after = sft_eval_loss(&model, &rows).expect("eval");
    assert_eq!(report.steps, 8);
    assert_eq!(report.checkpoints.len(), 4);
    assert!(after < before - 0.05, "loss {before} -> {after}");

    // Poison a variable: the first step's loss is NaN, training stops with an error and the
    // adapter already on disk is untouched.
    let saved = std::fs::read(out.join("adapter_model.safetensors")).expect("read");
    let v = &model.vars()[0];
    let nan = (v.as_tensor().ones_like().expect("ones") * f64::NAN).expect("nan");
    v.set(&nan).expect("set");
    let err = train_sft(&model, &rows, &cfg, &out, None).expect_err("nan");
    assert!(
        matches!(err, TrainError::NonFiniteLoss { step: 1, .. }),
        "{err}"
    );
    assert_eq!(
        std::fs::read(out.join("adapter_model.safetensors")).expect("read"),
        saved
    );
}

#[test]
fn rows_for_another_template_or_tokenizer_are_named() {
    let t = tiny();
    let dir = tempfile::tempdir().expect("tempdir");
    let sft_cases = [
        (
            "llama3.jsonl",
            r#"{"messages":[{"role":"user","content":"<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"},{"role":"assistant","content":"ok"}]}"#,
            "Llama 3",
        ),
        (
            "mistral.jsonl",
            r#"{"messages":[{"role":"user","content":"[INST] hi [/INST]"},{"role":"assistant","content":"ok"}]}"#,
            "Mistral",
        ),
        (
            "rendered.jsonl",
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"ok<|im_end|>\n<|im_start|>user\nmore"}]}"#,
            "ChatML",
        ),
        (
            "ids.jsonl",
            r#"{"input_ids":[1,2,3],"labels":[-100,2,3]}"#,
            "token-id row",
        ),
        (
            "text.jsonl",
            r#"{"text":"<s>[INST] hi [/INST] ok</s>"}"#,
            "plain-text row",
        ),
        (
            "tool.jsonl",
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"tool","content":"out"},{"role":"assistant","content":"ok"}]}"#,
            "messages[1]: role \"tool\"",
        ),
    ];
    for (name, row, needle) in sft_cases {
        let path = write(dir.path(), name, &format!("{row}\n"));
        let err = load_sft(&path, &t.embedded, LoadLimits::default()).expect_err(name);
        let msg = err.to_string();
        assert!(
            matches!(err, TrainError::Malformed { line: 1, .. }),
            "{msg}"
        );
        assert!(msg.contains(name) && msg.contains(needle), "{msg}");
    }
    let strings = write(
        dir.path(),
        "standard.jsonl",
        r#"{"prompt":"say the","chosen":"the","rejected":"an"}"#,
    );
    let err = load_dpo(&strings, &t.embedded, LoadLimits::default()).expect_err("strings");
    assert!(err.to_string().contains("row of strings"), "{err}");
}

#[test]
fn a_diverging_run_stops_and_never_saves_a_non_finite_adapter() {
    let t = tiny();
    let dir = tempfile::tempdir().expect("tempdir");
    let model = trainable(&t, &LoraConfig::default());
    let v = &model.vars()[1];
    v.set(&(v.as_tensor().ones_like().expect("ones") * f64::INFINITY).expect("inf"))
        .expect("set");
    let refused = dir.path().join("refused");
    let err = save_adapter(&model, &refused, "tiny").expect_err("inf adapter");
    assert!(matches!(err, TrainError::NonFiniteAdapter { .. }), "{err}");
    assert!(!refused.exists(), "nothing is written");

    // A learning rate this large makes the weights overflow after the first step: training
    // stops with an error naming the last checkpoint, which is finite and loads, and the
    // adapter directory gets no final adapter.
    let data = write(dir.path(), "sft.jsonl", SFT_ROWS);
    let rows = load_sft(&data, &t.embedded, LoadLimits::default()).expect("load");
    let model = trainable(&t, &LoraConfig::default());
    let cfg = TrainConfig {
        lr: 1e30,
        epochs: 3,
        grad_accum: rows.len(),
        warmup_ratio: 0.0,
        max_grad_norm: None,
        ..Default::default()
    };
    let out = dir.path().join("diverged");
    let err = train_sft(&model, &rows, &cfg, &out, None).expect_err("diverges");
    let checkpoint = match &err {
        TrainError::NonFiniteLoss { checkpoint, .. }
        | TrainError::NonFiniteGradient { checkpoint, .. } => checkpoint.clone(),
        other => panic!("unexpected error {other}"),
    };
    let checkpoint = checkpoint.expect("epoch 1 was saved");
    assert!(err.to_string().contains("checkpoint-epoch-1"), "{err}");
    assert!(!out.join("adapter_model.safetensors").exists());
    let mut embedded = EmbeddedModel::load(&t.path).expect("load");
    embedded
        .load_lora(&checkpoint)
        .expect("the checkpoint loads");
}

#[test]
fn a_saved_adapter_reloads_into_the_trainer() {
    let t = tiny();
    let model = trainable(&t, &LoraConfig::default());
    randomize_b(&model);
    let dir = tempfile::tempdir().expect("tempdir");
    save_adapter(&model, dir.path(), "tiny").expect("save");
    let adapter =
        apprentice_embedded::LoraAdapter::load(dir.path(), t.embedded.config()).expect("load");
    let reloaded =
        TrainableLlama::load_with_adapter(&t.path, t.embedded.config(), &adapter).expect("reload");
    let tokens = [5u32, 9, 40, 77, 3];
    let a = last_row(&model.forward(&tokens, Mode::EVAL).expect("fwd"));
    let b = last_row(&reloaded.forward(&tokens, Mode::EVAL).expect("fwd"));
    assert!(max_diff(&a, &b) < 1e-5, "diff {}", max_diff(&a, &b));
}

fn msg(role: &str, content: &str) -> Message {
    Message {
        role: role.into(),
        content: content.into(),
        train: None,
    }
}

fn trained_ids(s: &apprentice_train::Sequence) -> Vec<u32> {
    s.tokens
        .iter()
        .zip(&s.mask)
        .filter(|(_, m)| **m > 0.0)
        .map(|(t, _)| *t)
        .collect()
}

/// An over-long row becomes pieces that fit, each exactly what rendering the head and a run
/// of the row's messages gives, and together they train every assistant token once.
#[test]
fn long_rows_are_cut_into_pieces_that_keep_the_task_and_train_every_turn_once() {
    let t = tiny();
    let mut messages = vec![
        msg("system", "be brief"),
        msg("user", "the task is the cat"),
    ];
    for i in 0..6 {
        messages.push(msg("assistant", &format!("step {i} in the hat")));
        messages.push(msg("user", &format!("output {i} there")));
    }
    messages.push(msg("assistant", "done"));
    let full = tokenize_conversation(&t.embedded, &messages, |_, _| true).expect("tok");
    let head = tokenize_conversation(&t.embedded, &messages[..2], |_, _| true).expect("head");
    let max = head.tokens.len() + (full.tokens.len() - head.tokens.len()) / 3;

    let dir = tempfile::tempdir().expect("tempdir");
    let row = serde_json::json!({ "messages": messages.iter().map(|m| serde_json::json!({"role": m.role, "content": m.content})).collect::<Vec<_>>() });
    let path = write(dir.path(), "long.jsonl", &format!("{row}\n"));
    let limits = LoadLimits {
        max_rows: None,
        max_tokens: Some(max),
    };
    let pieces = load_sft(&path, &t.embedded, limits).expect("load");
    assert!(pieces.len() >= 3, "{} pieces", pieces.len());
    let mut trained = Vec::new();
    for p in &pieces {
        assert!(p.seq.tokens.len() <= max);
        assert!(
            p.seq.tokens.starts_with(&head.tokens),
            "every piece keeps the task"
        );
        assert_eq!(p.line, 1);
        // The piece is the rendering of the head plus a run of consecutive messages.
        let rendered = (2..messages.len()).find_map(|start| {
            (start + 1..=messages.len()).find_map(|end| {
                let subset: Vec<Message> = messages[..2]
                    .iter()
                    .chain(&messages[start..end])
                    .cloned()
                    .collect();
                let s = tokenize_conversation(&t.embedded, &subset, |_, _| true).ok()?;
                (s == p.seq).then_some(())
            })
        });
        assert!(
            rendered.is_some(),
            "a piece is not a rendering of whole messages"
        );
        trained.extend(trained_ids(&p.seq));
    }
    assert_eq!(
        trained,
        trained_ids(&full),
        "each trained token exactly once"
    );

    // A preference pair keeps the head and the newest prompt messages, the same on both
    // sides, and its completions whole.
    let prompt: Vec<_> = messages[..messages.len() - 1].iter().collect();
    let pair = serde_json::json!({
        "prompt": prompt.iter().map(|m| serde_json::json!({"role": m.role, "content": m.content})).collect::<Vec<_>>(),
        "chosen": [{"role": "assistant", "content": "done"}],
        "rejected": [{"role": "assistant", "content": "the cat in the hat again"}],
    });
    let path = write(dir.path(), "pair.jsonl", &format!("{pair}\n"));
    let pairs = load_dpo(&path, &t.embedded, limits).expect("dpo");
    let (c, r) = (&pairs[0].chosen, &pairs[0].rejected);
    assert!(c.tokens.len() <= max && r.tokens.len() <= max);
    assert!(
        c.tokens.len() < full.tokens.len(),
        "the prompt was shortened"
    );
    assert!(c.tokens.starts_with(&head.tokens) && r.tokens.starts_with(&head.tokens));
    let shared = |s: &apprentice_train::Sequence| s.mask.iter().position(|&m| m > 0.0);
    let (sc, sr) = (shared(c).expect("c"), shared(r).expect("r"));
    assert_eq!(sc, sr);
    assert_eq!(c.tokens[..sc], r.tokens[..sr], "same context on both sides");
    assert_eq!(
        t.embedded.tokenizer().decode(&trained_ids(r)),
        "the cat in the hat again<|im_end|>"
    );
}
