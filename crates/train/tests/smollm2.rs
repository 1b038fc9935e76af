//! One small check on the real SmolLM2-135M (skipped when the model is not cached, so the
//! suite never downloads): a few SFT steps on two short rows lower their loss, and the saved
//! adapter, loaded by the embedded policy, gives the trainer's logits.

use apprentice_embedded::{DEFAULT_MODEL_FILE, EmbeddedModel, default_cache_dir};
use apprentice_train::trainer::sft_eval_loss;
use apprentice_train::{
    LoadLimits, LoraConfig, Mode, TrainConfig, TrainableLlama, load_sft, train_sft,
};

const ROWS: &str = r#"{"messages":[{"role":"user","content":"List files."},{"role":"assistant","content":"<tool_call>{\"name\": \"ls\"}</tool_call>"}]}
{"messages":[{"role":"user","content":"Run tests."},{"role":"assistant","content":"<tool_call>{\"name\": \"cargo_test\"}</tool_call>"}]}
"#;

#[test]
fn smollm2_sft_lowers_loss_and_adapter_loads() {
    let path = default_cache_dir().join(DEFAULT_MODEL_FILE);
    if !path.exists() {
        eprintln!("skipping: {} is not cached", path.display());
        return;
    }
    let started = std::time::Instant::now();
    let mut embedded = EmbeddedModel::load(&path).expect("load");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("sft.jsonl");
    std::fs::write(&data, ROWS).expect("write");
    let rows = load_sft(&data, &embedded, LoadLimits::default()).expect("rows");
    let lora = LoraConfig::default();
    let model = TrainableLlama::load(&path, embedded.config(), &lora).expect("trainable");
    let tokens = rows[0].seq.tokens.clone();
    let last = |m: &TrainableLlama| -> Vec<f32> {
        let l = m.forward(&tokens, Mode::EVAL).expect("fwd");
        l.get(tokens.len() - 1)
            .expect("row")
            .to_vec1::<f32>()
            .expect("vec")
    };
    let base_ours = last(&model);
    let base_theirs = embedded.logits_for(&tokens).expect("logits");
    let before = sft_eval_loss(&model, &rows).expect("eval");
    let cfg = TrainConfig {
        lr: 1e-3,
        epochs: 3,
        grad_accum: 2,
        warmup_ratio: 0.0,
        ..Default::default()
    };
    let out = dir.path().join("adapter");
    let report = train_sft(&model, &rows, &cfg, &out, None).expect("train");
    let after = sft_eval_loss(&model, &rows).expect("eval");
    eprintln!(
        "SmolLM2: {} steps, loss {before:.4} -> {after:.4} in {:.1}s",
        report.steps,
        started.elapsed().as_secs_f32()
    );
    assert!(after < before, "loss {before} -> {after}");

    let ours = last(&model);
    embedded.load_lora(&out).expect("load_lora");
    let theirs = embedded.logits_for(&tokens).expect("logits");
    let max_abs = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    // The embedded model runs Q4_1 with quantized activations and f16 attention, so the
    // bases differ a little; the adapter's *effect* must agree much more closely.
    let base_diff = max_abs(&base_ours, &base_theirs);
    let delta =
        |a: &[f32], b: &[f32]| -> Vec<f32> { a.iter().zip(b).map(|(x, y)| x - y).collect() };
    let effect_diff = max_abs(&delta(&ours, &base_ours), &delta(&theirs, &base_theirs));
    let effect_size = max_abs(&ours, &base_ours);
    eprintln!(
        "SmolLM2: base diff {base_diff}, adapter effect {effect_size}, effect diff {effect_diff}"
    );
    assert!(effect_size > 0.1, "the adapter changed nothing");
    assert!(
        effect_diff < 0.25 * effect_size + base_diff,
        "effect diff {effect_diff}"
    );
}
