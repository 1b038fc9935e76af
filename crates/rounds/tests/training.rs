//! The training stage on a tiny synthetic llama (no download): SFT, DPO on top of the folded
//! SFT adapter, and the joined adapter the next round's policy loads.

use std::path::{Path, PathBuf};

use apprentice_embedded::EmbeddedModel;
use apprentice_embedded::testing::{TinyLlamaSpec, write_tiny_llama};
use apprentice_rounds::training::{Stage, StageOutcome, Stages, TrainSettings, Trainer};
use apprentice_train::peft::fold_adapter;
use apprentice_train::{LoraConfig, Mode, TrainableLlama};
use indicatif::ProgressBar;

const SFT_ROWS: &str = r#"{"messages":[{"role":"user","content":"the cat"},{"role":"assistant","content":"in the hat"}],"tools":[]}
{"messages":[{"role":"user","content":"there"},{"role":"assistant","content":"inner the"}],"tools":[]}
"#;

const DPO_ROWS: &str = r#"{"prompt":[{"role":"user","content":"say the"}],"chosen":[{"role":"assistant","content":"the the"}],"rejected":[{"role":"assistant","content":"an error"}],"kind":"step"}
{"prompt":[{"role":"user","content":"a"}],"chosen":[{"role":"assistant","content":"in"}],"rejected":[{"role":"assistant","content":"her"}],"kind":"step"}
"#;

fn settings() -> TrainSettings {
    TrainSettings {
        stages: Stages::SftDpo,
        variant: "clean".into(),
        weighted: false,
        rank: 4,
        alpha: 8.0,
        epochs: 2,
        sft_lr: 5e-2,
        dpo_lr: 5e-2,
        beta: 0.1,
        grad_accum: 1,
        max_rows: None,
        max_tokens: 200,
        max_seconds: None,
        graph_memory_mib: 64,
        seed: 3,
    }
}

fn trained(stage: Stage) -> StageOutcome {
    match stage {
        Stage::Trained(s) => s,
        Stage::Skipped(why) => panic!("stage skipped: {why}"),
    }
}

fn last_logits(model: &mut EmbeddedModel, tokens: &[u32]) -> Vec<f32> {
    model.logits_for(tokens).expect("logits")
}

fn trainable_logits(
    path: &Path,
    model: &EmbeddedModel,
    folds: &[&PathBuf],
    tokens: &[u32],
) -> Vec<f32> {
    let mut t = TrainableLlama::load(path, model.config(), &LoraConfig::default()).expect("load");
    for dir in folds {
        fold_adapter(&mut t, dir).expect("fold");
    }
    let logits = t.forward(tokens, Mode::REFERENCE).expect("forward");
    let n = logits.dim(0).expect("dim");
    logits.get(n - 1).expect("row").to_vec1().expect("vec")
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn dpo_trains_on_the_folded_sft_model_and_the_joined_adapter_is_both() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = dir.path().join("tiny.gguf");
    write_tiny_llama(&gguf, &TinyLlamaSpec::default()).unwrap();
    std::fs::write(dir.path().join("sft.jsonl"), SFT_ROWS).unwrap();
    std::fs::write(dir.path().join("dpo.jsonl"), DPO_ROWS).unwrap();
    let trainer = Trainer {
        model: gguf.clone(),
        settings: settings(),
    };
    let bar = ProgressBar::hidden();
    let sft = trained(
        trainer
            .sft(&dir.path().join("sft.jsonl"), &dir.path().join("sft"), &bar)
            .unwrap(),
    );
    assert_eq!((sft.examples, sft.steps), (2, 4));
    let dpo = trained(
        trainer
            .dpo(
                &dir.path().join("dpo.jsonl"),
                Some(&sft.adapter),
                &dir.path().join("dpo"),
                &bar,
            )
            .unwrap(),
    );
    assert_eq!((dpo.examples, dpo.steps), (2, 4));
    let joined = dir.path().join("adapter");
    let rank = apprentice_rounds::adapter::join(&sft.adapter, &dpo.adapter, &joined).unwrap();
    assert_eq!(rank, 8);

    let mut embedded = EmbeddedModel::load(&gguf).unwrap();
    let tokens = embedded
        .render_chat(&[apprentice_embedded::ChatMessage::user("say the")], true)
        .unwrap();
    let base = last_logits(&mut embedded, &tokens);
    embedded.load_lora(&sft.adapter).unwrap();
    let with_sft = last_logits(&mut embedded, &tokens);
    embedded.load_lora(&joined).unwrap();
    let with_joined = last_logits(&mut embedded, &tokens);
    assert!(max_diff(&base, &with_sft) > 1e-2, "SFT changed nothing");
    assert!(
        max_diff(&with_sft, &with_joined) > 1e-3,
        "DPO changed nothing"
    );

    // The DPO reference (adapter off, SFT folded in) is the SFT policy the embedded model runs.
    let folded_sft = trainable_logits(&gguf, &embedded, &[&sft.adapter], &tokens);
    assert!(
        max_diff(&folded_sft, &with_sft) < 2e-2,
        "{}",
        max_diff(&folded_sft, &with_sft)
    );
    // One joined adapter is exactly SFT then DPO.
    let both = trainable_logits(&gguf, &embedded, &[&sft.adapter, &dpo.adapter], &tokens);
    assert!(
        max_diff(&both, &with_joined) < 2e-2,
        "{}",
        max_diff(&both, &with_joined)
    );
}

#[test]
fn rows_over_the_token_limit_skip_the_stage_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = dir.path().join("tiny.gguf");
    write_tiny_llama(&gguf, &TinyLlamaSpec::default()).unwrap();
    std::fs::write(dir.path().join("sft.jsonl"), SFT_ROWS).unwrap();
    let trainer = Trainer {
        model: gguf,
        settings: TrainSettings {
            max_tokens: 4,
            ..settings()
        },
    };
    let stage = trainer
        .sft(
            &dir.path().join("sft.jsonl"),
            &dir.path().join("sft"),
            &ProgressBar::hidden(),
        )
        .unwrap();
    match stage {
        Stage::Skipped(why) => assert!(why.contains("token limit"), "{why}"),
        Stage::Trained(_) => panic!("trained on rows over the limit"),
    }
}
