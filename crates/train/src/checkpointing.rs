//! Gradient checkpointing per transformer block, so memory grows with one block's
//! activations rather than thirty.
//!
//! A plain backward pass keeps every block's activations until it runs: about 7,000 floats per
//! token per block for SmolLM2 ([`BlockActivations`]), ~1.7 GB over its 30 blocks at 2,000
//! tokens. Here the forward pass keeps the activations of as many blocks as fit in a memory
//! budget (short sequences keep every block and recompute nothing) and only the input
//! (`seq · n_embd` floats) of the rest. The backward pass walks the blocks from the last to
//! the first: it recomputes a block from its saved input where it must, runs the block's
//! hand-written backward pass on the gradient arriving at its output, hands the LoRA
//! variables' gradients to the accumulator and the input's gradient to the block below.
//!
//! Each recomputed block costs a third more of its compute. Dropout masks are drawn from a
//! seed per (sequence, layer, projection), so a recomputed block is the block that produced
//! the loss and the gradients are exact, not an approximation. The tests check them against
//! candle's autograd through the whole graph ([`sequence_logp`]).

use crate::data::Sequence;
use crate::error::{Result, TrainError};
use crate::matmul::elements;
use crate::model::{BlockActivations, Mode, TrainableLlama};
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};

/// The next-token targets of a sequence that carry loss: positions into the forward pass's
/// input (`tokens[..n-1]`), the target ids and their mask weights.
struct Targets {
    positions: Tensor,
    ids: Tensor,
    weights: Tensor,
}

impl Targets {
    /// `None` when no token is trained (the log-prob is then exactly 0).
    fn of(seq: &Sequence) -> Result<Option<Self>> {
        if seq.tokens.len() < 2 || seq.tokens.len() != seq.mask.len() {
            return Err(TrainError::Config(format!(
                "a sequence needs at least 2 tokens and one mask value per token ({} tokens, {} mask values)",
                seq.tokens.len(),
                seq.mask.len()
            )));
        }
        let (mut positions, mut ids, mut weights) = (Vec::new(), Vec::new(), Vec::new());
        for (t, (&id, &w)) in seq.tokens.iter().zip(&seq.mask).enumerate().skip(1) {
            if w > 0.0 {
                positions.push(t as u32 - 1);
                ids.push(id);
                weights.push(w);
            }
        }
        if positions.is_empty() {
            return Ok(None);
        }
        let dev = Device::Cpu;
        Ok(Some(Self {
            positions: Tensor::new(positions, &dev)?,
            ids: Tensor::new(ids, &dev)?,
            weights: Tensor::new(weights, &dev)?,
        }))
    }

    /// `Σ weight · log p(target)` from the last hidden state.
    fn logp(&self, model: &TrainableLlama, hidden: &Tensor) -> Result<Tensor> {
        let lp = model.target_logps(hidden, &self.positions, &self.ids)?;
        Ok((lp * &self.weights)?.sum_all()?)
    }
}

/// What the backward pass needs of one block.
enum Saved {
    /// The block's input `(seq, n_embd)` only: the backward pass recomputes the block.
    Input(Vec<f32>),
    /// Everything the block's backward pass reads: no recomputation, at the cost of memory.
    Kept(Box<BlockActivations>),
}

/// What a checkpointed forward pass keeps for the backward pass.
pub(crate) struct Activations {
    targets: Option<Targets>,
    /// One entry per block, first to last.
    blocks: Vec<Saved>,
    /// The last block's output.
    last: Tensor,
    mode: Mode,
    seed: u64,
}

/// The summed completion log-prob of `seq` under `mode`, through candle's autograd with a
/// graph for every layer at once: the reference the checkpointed, hand-written passes are
/// checked against, and what the tests differentiate directly.
pub fn sequence_logp(model: &TrainableLlama, seq: &Sequence, mode: Mode) -> Result<Tensor> {
    let Some(targets) = Targets::of(seq)? else {
        return Ok(Tensor::new(0f32, &Device::Cpu)?);
    };
    let mut x = model.embed(&seq.tokens[..seq.tokens.len() - 1])?;
    for layer in 0..model.n_layers() {
        x = model.block_forward(layer, &x, mode, 0)?;
    }
    targets.logp(model, &x)
}

/// The summed completion log-prob of `seq`. The graphs of the first blocks are kept while
/// their estimated size fits in `graph_bytes` (0 for a pass with no backward); the other
/// blocks keep only their input and are recomputed by [`backward`]. `seed` draws the dropout
/// masks (the same seed must reach [`backward`]).
pub(crate) fn forward(
    model: &TrainableLlama,
    seq: &Sequence,
    mode: Mode,
    seed: u64,
    graph_bytes: usize,
) -> Result<(f32, Activations)> {
    let targets = Targets::of(seq)?;
    let inputs = &seq.tokens[..seq.tokens.len() - 1];
    let per_block = model.block_graph_bytes(inputs.len());
    let mut budget = if targets.is_some() { graph_bytes } else { 0 };
    let mut blocks = Vec::with_capacity(model.n_layers());
    let mut x = elements(&model.embed(inputs)?)?;
    for layer in 0..model.n_layers() {
        let keep = per_block <= budget;
        let input = if keep {
            budget -= per_block;
            None
        } else {
            Some(x.clone())
        };
        let (y, kept) = model.block_pass(layer, x, mode, seed, keep)?;
        blocks.push(match (kept, input) {
            (Some(acts), _) => Saved::Kept(Box::new(acts)),
            (None, Some(input)) => Saved::Input(input),
            (None, None) => return Err(missing("a block input")),
        });
        x = y;
    }
    let last = Tensor::from_vec(x, (inputs.len(), model.config().n_embd), &Device::Cpu)?;
    let logp = match &targets {
        Some(t) => t.logp(model, &last)?.to_scalar::<f32>()?,
        None => 0.0,
    };
    let acts = Activations {
        targets,
        blocks,
        last,
        mode,
        seed,
    };
    Ok((logp, acts))
}

/// Back-propagates `scale · logp` (the log-prob [`forward`] returned) one block at a time and
/// hands each segment's gradients to `sink` (which keeps the LoRA variables' entries).
pub(crate) fn backward(
    model: &TrainableLlama,
    acts: Activations,
    scale: f64,
    mut sink: impl FnMut(&GradStore) -> Result<()>,
) -> Result<()> {
    let Activations {
        targets,
        mut blocks,
        last,
        mode,
        seed,
    } = acts;
    let Some(targets) = targets else {
        return Ok(());
    };
    let hidden = Var::from_tensor(&last)?;
    let grads = (targets.logp(model, hidden.as_tensor())? * scale)?.backward()?;
    let mut upstream = elements(&input_grad(&grads, &hidden)?)?;
    for layer in (0..model.n_layers()).rev() {
        let acts = match blocks.pop().ok_or_else(|| missing("a block input"))? {
            Saved::Kept(acts) => *acts,
            Saved::Input(input) => model
                .block_pass(layer, input, mode, seed, true)?
                .1
                .ok_or_else(|| missing("a recomputed block"))?,
        };
        let mut grads = GradStore::default();
        upstream = model.block_backward(layer, &acts, &upstream, mode, seed, &mut grads)?;
        sink(&grads)?;
    }
    Ok(())
}

fn input_grad(grads: &GradStore, x: &Var) -> Result<Tensor> {
    grads
        .get(x.as_tensor())
        .cloned()
        .ok_or_else(|| missing("the gradient of a block's input"))
}

fn missing(what: &str) -> TrainError {
    TrainError::Config(format!("checkpointed backward pass lost {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LoraConfig;
    use apprentice_embedded::testing::{TinyLlamaSpec, pseudo_random, write_tiny_llama};
    use apprentice_embedded::{EmbeddedModel, Projection};

    /// Layer-by-layer recomputation gives the gradients of one whole-graph backward pass,
    /// dropout included (the masks are seeded, so the recomputed blocks are the same blocks).
    #[test]
    fn checkpointed_gradients_equal_whole_graph_gradients() {
        let all = LoraConfig {
            dropout: 0.2,
            ..Default::default()
        };
        // Frozen projections take the plain product's backward pass.
        let some = LoraConfig {
            targets: vec![Projection::Q, Projection::V, Projection::Up],
            ..all.clone()
        };
        for lora in [all, some] {
            assert_checkpointed_gradients_match(&lora);
        }
    }

    /// The hand-written block passes, whatever the graph budget, give the gradients of candle's
    /// autograd through the whole graph.
    fn assert_checkpointed_gradients_match(lora: &LoraConfig) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tiny.gguf");
        write_tiny_llama(&path, &TinyLlamaSpec::default()).expect("gguf");
        let embedded = EmbeddedModel::load(&path).expect("load");
        let model = TrainableLlama::load(&path, embedded.config(), lora).expect("model");
        for (i, (_, _, v)) in model.lora_vars().into_iter().enumerate() {
            let dims = v.b.as_tensor().dims().to_vec();
            let data = pseudo_random(dims.iter().product(), 7 + i as u64, 0.05);
            v.b.set(&Tensor::from_vec(data, dims, &Device::Cpu).expect("b"))
                .expect("set");
        }
        let vocab = embedded.config().vocab_size as u32;
        let tokens: Vec<u32> = (0..24).map(|t| (t * 37 + 5) % vocab).collect();
        let mask = (0..24)
            .map(|t| if t % 3 == 0 { 0.0 } else { 1.0 })
            .collect();
        let seq = Sequence { tokens, mask };

        let whole = sequence_logp(&model, &seq, Mode::TRAIN).expect("logp");
        let expected = (&whole * -0.5)
            .expect("scale")
            .backward()
            .expect("backward");
        let whole = whole.to_scalar::<f32>().expect("scalar");
        let per_block = model.block_graph_bytes(seq.tokens.len() - 1);
        // Recompute both blocks, keep the first block's activations and recompute the second,
        // keep both.
        for graph_bytes in [0, per_block, usize::MAX] {
            let (lp, acts) = forward(&model, &seq, Mode::TRAIN, 0, graph_bytes).expect("forward");
            assert!((lp - whole).abs() < 1e-4 * whole.abs(), "{lp} vs {whole}");
            let vars = model.vars();
            let mut sums: Vec<Option<Tensor>> = vec![None; vars.len()];
            backward(&model, acts, -0.5, |g| {
                for (v, sum) in vars.iter().zip(&mut sums) {
                    if let Some(g) = g.get(v.as_tensor()) {
                        *sum = Some(match sum.take() {
                            Some(s) => (s + g)?,
                            None => g.clone(),
                        });
                    }
                }
                Ok(())
            })
            .expect("backward");
            for (v, got) in vars.iter().zip(sums) {
                let want = expected.get(v.as_tensor()).expect("expected gradient");
                let got = got.expect("checkpointed gradient");
                let diff = (&got - want).expect("diff").abs().expect("abs");
                let diff = diff.max_all().expect("max").to_scalar::<f32>().expect("s");
                let size = want.abs().expect("abs").max_all().expect("max");
                let size = size.to_scalar::<f32>().expect("s");
                assert!(size > 0.0, "a zero gradient proves nothing");
                assert!(
                    diff <= 1e-4 * size,
                    "{graph_bytes}: max diff {diff} of {size}"
                );
            }
        }
    }
}
