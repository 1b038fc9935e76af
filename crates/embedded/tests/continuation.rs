//! Batched continuation logits (for perplexity and KL) equal the logits of feeding the same
//! tokens one at a time.

mod common;

use apprentice_embedded::EmbeddedModel;
use apprentice_embedded::testing::TinyLlamaSpec;

#[test]
fn continuation_logits_match_token_by_token_logits() {
    let (_dir, path) = common::tiny_model(&TinyLlamaSpec::default());
    let mut model = EmbeddedModel::load(&path).unwrap();
    let prompt = [1u32, 40, 70, 80];
    let continuation = [95u32, 100, 41, 2];
    let batched = model.continuation_logits(&prompt, &continuation).unwrap();
    assert_eq!(batched.len(), continuation.len());
    for i in 0..continuation.len() {
        model.clear_cache();
        let mut context = prompt.to_vec();
        context.extend_from_slice(&continuation[..i]);
        let single = model.logits_for(&context).unwrap();
        let worst = single
            .iter()
            .zip(&batched[i])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-3, "position {i}: max difference {worst}");
    }
    assert!(model.continuation_logits(&prompt, &[]).unwrap().is_empty());
}
