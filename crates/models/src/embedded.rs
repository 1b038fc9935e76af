//! The in-process model as a policy. One model is loaded per run and shared by every episode
//! (generation is serialised: on a CPU, two generations at once only split the same cores).

use std::sync::{Arc, Mutex};

use apprentice_core::{Completion, Message, ModelError, Policy, Role, Task, Usage};
use apprentice_embedded::{
    ChatMessage, EmbeddedModel, EmbeddedSpec, FinishReason, GenerationParams,
};
use async_trait::async_trait;

/// A loaded model behind a lock, shared across episodes and workers.
pub type SharedModel = Arc<Mutex<EmbeddedModel>>;

/// The most a policy writes in one turn; a tool call is rarely longer.
const MAX_REPLY_TOKENS: usize = 256;

/// The start of every reply, written for the model. A small model left to itself answers in
/// prose; started inside a call it names a tool and its arguments, which is the skill being
/// taught. (Like grammar-constrained decoding, it constrains the form, not the choice.)
const REPLY_PREFILL: &str = "<tool_call>\n<function=";

/// Loads the model a spec names, fetching the default SmolLM2 into the cache on first use.
pub fn load_model(spec: &EmbeddedSpec) -> Result<SharedModel, String> {
    let model = EmbeddedModel::from_spec(spec, None).map_err(|e| e.to_string())?;
    Ok(Arc::new(Mutex::new(model)))
}

#[derive(Debug)]
pub struct EmbeddedPolicy {
    name: String,
    model: SharedModel,
    params: GenerationParams,
    /// The LoRA scale this policy generates at, set on the shared model before each
    /// generation (free: the adapter is never merged), so policies at several scales can
    /// share one loaded model.
    lora_scale: Option<f32>,
    /// Written into every reply before the model's first token; empty in free generation.
    prefill: &'static str,
}

impl EmbeddedPolicy {
    pub fn new(name: String, model: SharedModel) -> Self {
        EmbeddedPolicy {
            name,
            model,
            params: GenerationParams {
                max_tokens: MAX_REPLY_TOKENS,
                temperature: 0.0,
                seed: Some(0),
                // One call per reply: stop where the first call's function closes, or where a
                // second call opens (the parser adds the missing closers). Small models
                // otherwise ramble on into a second call, or repeat `<function=NAME>` of a
                // tool without parameters until the token limit.
                stop: vec![
                    "</function>".into(),
                    "</tool_call>".into(),
                    "<function=".into(),
                    "<tool_call>".into(),
                ],
                ..GenerationParams::default()
            },
            lora_scale: None,
            prefill: REPLY_PREFILL,
        }
    }

    /// Lets the model write each reply from its first token (`+free`). It must then open the
    /// call itself, so the stop strings keep only the closers: an opening would stop it at once.
    pub fn with_free_generation(mut self, free: bool) -> Self {
        if free {
            self.prefill = "";
            self.params.stop.retain(|stop| stop.starts_with("</"));
        }
        self
    }

    /// Samples at `temperature` with `seed` (default 0) instead of decoding greedily.
    pub fn with_sampling(mut self, temperature: Option<f32>, seed: Option<u64>) -> Self {
        if let Some(t) = temperature {
            self.params.temperature = t;
        }
        self.params.seed = Some(seed.unwrap_or(0));
        self
    }

    /// Generates at this LoRA scale whatever scale the shared model was left at.
    pub fn with_lora_scale(mut self, scale: Option<f32>) -> Self {
        self.lora_scale = scale;
        self
    }
}

fn to_chat(messages: &[Message]) -> Vec<ChatMessage> {
    messages
        .iter()
        .map(|m| {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            ChatMessage::new(role, m.content.clone())
        })
        .collect()
}

/// Drops the oldest exchanges (never the system prompt or the task) until the prompt and a
/// full reply fit in the model's context.
fn fit_context(
    model: &EmbeddedModel,
    mut chat: Vec<ChatMessage>,
    reply_tokens: usize,
) -> Vec<ChatMessage> {
    let limit = model.config().context_length.saturating_sub(reply_tokens);
    while chat.len() > 4 {
        match model.render_chat(&chat, true) {
            Ok(tokens) if tokens.len() > limit => {
                chat.drain(2..4);
            }
            _ => break,
        }
    }
    chat
}

#[async_trait]
impl Policy for EmbeddedPolicy {
    fn name(&self) -> String {
        self.name.clone()
    }

    async fn propose(
        &mut self,
        _task: &Task,
        messages: &[Message],
    ) -> Result<Completion, ModelError> {
        let (model, params, chat, scale, prefill) = (
            Arc::clone(&self.model),
            self.params.clone(),
            to_chat(messages),
            self.lora_scale,
            self.prefill,
        );
        let generation = tokio::task::spawn_blocking(move || {
            let mut model = model
                .lock()
                .map_err(|_| "the embedded model is poisoned by an earlier panic".to_string())?;
            if let Some(scale) = scale {
                model.set_lora_scale(scale);
            }
            let chat = fit_context(&model, chat, params.max_tokens);
            let mut prompt = model.render_chat(&chat, true).map_err(|e| e.to_string())?;
            prompt.extend(
                model
                    .tokenizer()
                    .encode(prefill, false)
                    .map_err(|e| e.to_string())?,
            );
            model
                .generate_from_tokens(&prompt, &params)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| {
            ModelError::infrastructure(format!("embedded generation did not finish: {e}"))
        })?
        .map_err(ModelError::fatal)?;
        Ok(Completion {
            usage: Usage {
                input_tokens: generation.prompt_tokens as u64,
                output_tokens: generation.completion_tokens as u64,
                cost_usd: 0.0,
            },
            truncated: generation.finish_reason == FinishReason::Length,
            text: format!("{prefill}{}", generation.text),
        })
    }
}
