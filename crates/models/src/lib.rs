//! Policies and supervisors, chosen by spec strings in exactly one place: [`PolicySpec`] and
//! [`SupervisorSpec`].
//!
//! | spec | what it is |
//! |---|---|
//! | `embedded[:PATH.gguf][+lora=DIR[@SCALE]][+temp=T][+seed=N]` | the in-process model; plain `embedded` is the cached SmolLM2-135M-Instruct; greedy unless `+temp` |
//! | `scripted:gold` | replays the task's gold patch through the tools (a test and demo oracle) |
//! | `scripted:FILE` | replays recorded replies from a JSON array of strings or JSONL `{"text": ...}` |
//! | `openai:MODEL@URL` | any OpenAI-compatible chat server (vLLM, llama.cpp, Ollama); key from `OPENAI_API_KEY` |
//! | `openai:MODEL@URL+lora@SCALE` | the same, with llama.cpp's per-request `"lora": [{"id": 0, "scale": SCALE}]`: the server's first adapter at SCALE |
//! | supervisor `oracle` | judges against the gold patch; no model, no cost |
//! | supervisor `anthropic:MODEL[@URL]` | Claude through the Messages API; key from `ANTHROPIC_API_KEY` |
//! | supervisor `openai:MODEL@URL` | an OpenAI-compatible model as the judge |

mod embedded;
mod judge;
mod oracle;
mod remote;
mod scripted;

use std::path::PathBuf;
use std::sync::OnceLock;

use apprentice_core::{Policy, Supervisor, Task};
use apprentice_embedded::EmbeddedSpec;

pub use embedded::{EmbeddedPolicy, SharedModel, load_model};
pub use judge::{JUDGE_SYSTEM_PROMPT, LlmSupervisor, parse_judgement};
pub use oracle::OracleSupervisor;
pub use remote::RemotePolicy;
pub use scripted::ScriptedPolicy;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("unknown {kind} `{spec}`: {hint}")]
    Unknown {
        kind: &'static str,
        spec: String,
        hint: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// What acts in the episode.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicySpec {
    Embedded(EmbeddedSpec),
    ScriptedGold,
    ScriptedFile(PathBuf),
    OpenAi {
        model: String,
        base_url: String,
        /// llama.cpp server's per-request scale for its adapter id 0 (`+lora@SCALE`).
        lora_scale: Option<f32>,
    },
}

const POLICY_HINT: &str = "expected embedded, embedded:PATH.gguf[+lora=DIR@SCALE][+free], scripted:gold, scripted:FILE or openai:MODEL@URL[+lora@SCALE]";

/// The per-request LoRA suffix of an OpenAI-compatible policy.
const SERVER_LORA: &str = "+lora@";

impl std::str::FromStr for PolicySpec {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<Self, SpecError> {
        let unknown = || SpecError::Unknown {
            kind: "policy",
            spec: spec.to_string(),
            hint: POLICY_HINT.into(),
        };
        if spec.starts_with("embedded") {
            return EmbeddedSpec::parse(spec)
                .map(PolicySpec::Embedded)
                .map_err(|e| SpecError::Invalid(e.to_string()));
        }
        let (kind, rest) = spec.split_once(':').ok_or_else(unknown)?;
        match kind {
            "scripted" if rest == "gold" => Ok(PolicySpec::ScriptedGold),
            "scripted" if !rest.is_empty() => Ok(PolicySpec::ScriptedFile(PathBuf::from(rest))),
            "openai" => {
                let (rest, lora_scale) = server_lora(spec, rest)?;
                let (model, base_url) = model_at_url(spec, rest)?;
                Ok(PolicySpec::OpenAi { model, base_url: base_url.ok_or_else(|| SpecError::Invalid(format!("`{spec}`: openai policies need a server, e.g. openai:qwen2.5-coder@http://127.0.0.1:8000/v1")))?, lora_scale })
            }
            _ => Err(unknown()),
        }
    }
}

/// Who judges the policy's proposals.
#[derive(Debug, Clone, PartialEq)]
pub enum SupervisorSpec {
    None,
    Oracle,
    Anthropic {
        model: String,
        base_url: Option<String>,
    },
    OpenAi {
        model: String,
        base_url: String,
    },
}

impl std::str::FromStr for SupervisorSpec {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<Self, SpecError> {
        match spec {
            "none" => return Ok(SupervisorSpec::None),
            "oracle" => return Ok(SupervisorSpec::Oracle),
            _ => {}
        }
        let unknown = || SpecError::Unknown {
            kind: "supervisor",
            spec: spec.to_string(),
            hint: "expected none, oracle, anthropic:MODEL or openai:MODEL@URL".into(),
        };
        let (kind, rest) = spec.split_once(':').ok_or_else(unknown)?;
        let (model, base_url) = model_at_url(spec, rest)?;
        match kind {
            "anthropic" => Ok(SupervisorSpec::Anthropic { model, base_url }),
            "openai" => Ok(SupervisorSpec::OpenAi {
                model,
                base_url: base_url.ok_or_else(|| {
                    SpecError::Invalid(format!(
                        "`{spec}`: openai supervisors need a server URL after @"
                    ))
                })?,
            }),
            _ => Err(unknown()),
        }
    }
}

/// Splits off a trailing `+lora@SCALE`.
fn server_lora<'a>(spec: &str, rest: &'a str) -> Result<(&'a str, Option<f32>), SpecError> {
    let Some(at) = rest.rfind(SERVER_LORA) else {
        return Ok((rest, None));
    };
    let text = &rest[at + SERVER_LORA.len()..];
    let scale = text
        .parse::<f32>()
        .ok()
        .filter(|s| s.is_finite())
        .ok_or_else(|| {
            SpecError::Invalid(format!("`{spec}`: LoRA scale {text:?} is not a number"))
        })?;
    Ok((&rest[..at], Some(scale)))
}

/// Splits `MODEL@URL`; the model may itself contain `@` (Vertex ids), so the URL starts at the
/// last `@` followed by a scheme.
fn model_at_url(spec: &str, rest: &str) -> Result<(String, Option<String>), SpecError> {
    let split = rest
        .rfind("@http")
        .map(|at| (&rest[..at], Some(rest[at + 1..].to_string())));
    let (model, url) = split.unwrap_or((rest, None));
    if model.is_empty() {
        return Err(SpecError::Invalid(format!(
            "`{spec}`: the model name is empty"
        )));
    }
    Ok((model.to_string(), url))
}

/// Builds a policy per episode from a spec, loading an embedded model once and sharing it.
#[derive(Debug)]
pub struct PolicyMaker {
    spec: PolicySpec,
    model: OnceLock<SharedModel>,
}

impl PolicyMaker {
    pub fn new(spec: PolicySpec) -> Self {
        PolicyMaker {
            spec,
            model: OnceLock::new(),
        }
    }

    /// An embedded policy over a model that is already loaded (and may be shared with other
    /// makers): each generation sets the model's LoRA scale to the spec's, so makers at
    /// different scales share one load.
    pub fn with_model(spec: EmbeddedSpec, model: SharedModel) -> Self {
        let maker = PolicyMaker::new(PolicySpec::Embedded(spec));
        let _ = maker.model.set(model);
        maker
    }

    /// Loads what the spec needs up front (the embedded model, fetched on first use), so a
    /// missing or broken model is reported before any episode starts. Blocking.
    pub fn prepare(&self) -> Result<(), SpecError> {
        if let PolicySpec::Embedded(spec) = &self.spec
            && self.model.get().is_none()
        {
            let model = load_model(spec).map_err(SpecError::Invalid)?;
            let _ = self.model.set(model);
        }
        Ok(())
    }

    /// Builds the policy for one episode of `task`.
    pub fn build(&self, task: &Task) -> Result<Box<dyn Policy>, SpecError> {
        match &self.spec {
            PolicySpec::Embedded(spec) => {
                let model = self.model.get().ok_or_else(|| {
                    SpecError::Invalid(
                        "the embedded model was not loaded (call prepare first)".into(),
                    )
                })?;
                Ok(Box::new(
                    EmbeddedPolicy::new(spec.to_string(), model.clone())
                        .with_sampling(spec.temperature, spec.seed)
                        .with_free_generation(spec.free)
                        .with_lora_scale(spec.lora.as_ref().map(|l| l.scale)),
                ))
            }
            PolicySpec::ScriptedGold => Ok(Box::new(
                ScriptedPolicy::gold(task).map_err(SpecError::Invalid)?,
            )),
            PolicySpec::ScriptedFile(path) => Ok(Box::new(
                ScriptedPolicy::from_file(path).map_err(SpecError::Invalid)?,
            )),
            PolicySpec::OpenAi {
                model,
                base_url,
                lora_scale,
            } => {
                let key = std::env::var("OPENAI_API_KEY")
                    .ok()
                    .filter(|k| !k.is_empty());
                Ok(Box::new(
                    RemotePolicy::openai(model, base_url, key)
                        .map_err(SpecError::Invalid)?
                        .with_lora_scale(*lora_scale),
                ))
            }
        }
    }
}

impl SupervisorSpec {
    /// Builds the supervisor for one episode of `task`; `None` for `none`.
    pub fn build(&self, task: &Task) -> Result<Option<Box<dyn Supervisor>>, SpecError> {
        let supervisor: Box<dyn Supervisor> = match self {
            SupervisorSpec::None => return Ok(None),
            SupervisorSpec::Oracle => {
                Box::new(OracleSupervisor::new(task).map_err(SpecError::Invalid)?)
            }
            SupervisorSpec::Anthropic { model, base_url } => {
                let key = std::env::var("ANTHROPIC_API_KEY")
                    .ok()
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| {
                        SpecError::Invalid(
                            "the anthropic supervisor needs ANTHROPIC_API_KEY in the environment"
                                .into(),
                        )
                    })?;
                Box::new(
                    LlmSupervisor::anthropic(model, base_url.as_deref(), key)
                        .map_err(SpecError::Invalid)?,
                )
            }
            SupervisorSpec::OpenAi { model, base_url } => {
                let key = std::env::var("OPENAI_API_KEY")
                    .ok()
                    .filter(|k| !k.is_empty());
                Box::new(LlmSupervisor::openai(model, base_url, key).map_err(SpecError::Invalid)?)
            }
        };
        Ok(Some(supervisor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_strings_parse_and_bad_ones_say_what_was_expected() {
        assert_eq!(
            "scripted:gold".parse::<PolicySpec>().unwrap(),
            PolicySpec::ScriptedGold
        );
        assert_eq!(
            "openai:qwen@http://127.0.0.1:8000/v1"
                .parse::<PolicySpec>()
                .unwrap(),
            PolicySpec::OpenAi {
                model: "qwen".into(),
                base_url: "http://127.0.0.1:8000/v1".into(),
                lora_scale: None,
            }
        );
        assert_eq!(
            "openai:qwen@http://127.0.0.1:8080/v1+lora@0.25"
                .parse::<PolicySpec>()
                .unwrap(),
            PolicySpec::OpenAi {
                model: "qwen".into(),
                base_url: "http://127.0.0.1:8080/v1".into(),
                lora_scale: Some(0.25),
            }
        );
        assert!(
            "openai:qwen@http://h/v1+lora@big"
                .parse::<PolicySpec>()
                .unwrap_err()
                .to_string()
                .contains("\"big\"")
        );
        assert_eq!(
            "anthropic:claude-opus-4@20250514"
                .parse::<SupervisorSpec>()
                .unwrap(),
            SupervisorSpec::Anthropic {
                model: "claude-opus-4@20250514".into(),
                base_url: None
            }
        );
        let err = "gpt".parse::<PolicySpec>().unwrap_err().to_string();
        assert!(err.contains("scripted:gold"), "{err}");
        assert!("openai:m".parse::<PolicySpec>().is_err());
        assert!("judge".parse::<SupervisorSpec>().is_err());
    }
}
