//! Model spec strings: `embedded`, `embedded:PATH.gguf`, `embedded:PATH.gguf+lora=DIR@SCALE`,
//! each optionally followed by sampling options `+temp=T` and `+seed=N` and by `+free`.
//!
//! These let a CLI flag or a config file name an in-process model the same way it names a
//! remote one. `embedded` alone (optionally with `+lora=...`) means the cached default
//! SmolLM2 model; `@SCALE` is optional and defaults to 1. Without `+temp` decoding is greedy;
//! `+temp=0.7+seed=3` samples, reproducibly (the seed defaults to 0). Two ensemble members can
//! so be the same model at two temperatures or seeds. `+free` has the policy write each reply
//! from its first token instead of from a prefilled tool-call opening: the harder form, in which
//! a trained adapter shows whether it learned the call format itself.

use crate::error::{EmbeddedError, Result};
use std::fmt;
use std::path::PathBuf;

const PREFIX: &str = "embedded";
const LORA: &str = "+lora=";
const TEMP: &str = "+temp=";
const SEED: &str = "+seed=";
const FREE: &str = "+free";

/// A parsed embedded-model spec.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddedSpec {
    /// The GGUF file; `None` means the cached default model.
    pub model: Option<PathBuf>,
    /// An optional PEFT adapter.
    pub lora: Option<LoraSpec>,
    /// Sampling temperature (`+temp=T`); `None` is greedy decoding.
    pub temperature: Option<f32>,
    /// Sampling seed (`+seed=N`).
    pub seed: Option<u64>,
    /// Free generation (`+free`): no tool-call opening is prefilled into a policy's replies.
    pub free: bool,
}

/// A PEFT adapter directory and the scale to apply it at.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraSpec {
    /// Directory with `adapter_config.json` and `adapter_model.safetensors`.
    pub dir: PathBuf,
    /// Multiplier on `alpha / r` (PEFT `set_scale`, llama.cpp `--lora-scaled`).
    pub scale: f32,
}

impl EmbeddedSpec {
    /// Parses a spec string; see the module docs for the forms accepted.
    pub fn parse(spec: &str) -> Result<Self> {
        let err = |detail: &str| EmbeddedError::Spec {
            spec: spec.to_string(),
            detail: detail.to_string(),
        };
        let mut rest = spec
            .strip_prefix(PREFIX)
            .ok_or_else(|| err("must start with \"embedded\""))?;
        let (mut temperature, mut seed, mut free) = (None, None, false);
        // Sampling options come last; peel them off from the right, in any order.
        while let Some((at, key)) = [TEMP, SEED, FREE]
            .into_iter()
            .filter_map(|k| rest.rfind(k).map(|i| (i, k)))
            .max()
        {
            let value = &rest[at + key.len()..];
            rest = &rest[..at];
            if key == FREE {
                if !value.is_empty() {
                    return Err(err(&format!("\"+free\" takes no value, found {value:?}")));
                }
                if std::mem::replace(&mut free, true) {
                    return Err(err("\"+free\" given twice"));
                }
            } else if key == TEMP {
                let t: f32 = value
                    .parse()
                    .ok()
                    .filter(|t: &f32| t.is_finite() && *t >= 0.0)
                    .ok_or_else(|| err(&format!("temperature {value:?} is not a number >= 0")))?;
                if temperature.replace(t).is_some() {
                    return Err(err("temperature given twice"));
                }
            } else {
                let n: u64 = value
                    .parse()
                    .map_err(|_| err(&format!("seed {value:?} is not a whole number")))?;
                if seed.replace(n).is_some() {
                    return Err(err("seed given twice"));
                }
            }
        }
        let (model_part, lora_part) = match rest.find(LORA) {
            Some(i) => (&rest[..i], Some(&rest[i + LORA.len()..])),
            None => (rest, None),
        };
        let model = match model_part {
            "" => None,
            m => {
                let path = m
                    .strip_prefix(':')
                    .ok_or_else(|| err("expected \":PATH\" after \"embedded\""))?;
                if path.is_empty() {
                    return Err(err("empty model path"));
                }
                Some(PathBuf::from(path))
            }
        };
        let lora = lora_part.map(|l| parse_lora(l, &err)).transpose()?;
        Ok(Self {
            model,
            lora,
            temperature,
            seed,
            free,
        })
    }
}

fn parse_lora(text: &str, err: &dyn Fn(&str) -> EmbeddedError) -> Result<LoraSpec> {
    let (dir, scale) = match text.rsplit_once('@') {
        Some((dir, scale)) => {
            let scale: f32 = scale
                .parse()
                .map_err(|_| err(&format!("LoRA scale {scale:?} is not a number")))?;
            if !scale.is_finite() {
                return Err(err("LoRA scale must be finite"));
            }
            (dir, scale)
        }
        None => (text, 1.0),
    };
    if dir.is_empty() {
        return Err(err("empty LoRA directory"));
    }
    Ok(LoraSpec {
        dir: PathBuf::from(dir),
        scale,
    })
}

impl fmt::Display for EmbeddedSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        if let Some(m) = &self.model {
            write!(f, ":{}", m.display())?;
        }
        if let Some(l) = &self.lora {
            write!(f, "{LORA}{}@{}", l.dir.display(), l.scale)?;
        }
        if let Some(t) = self.temperature {
            write!(f, "{TEMP}{t}")?;
        }
        if let Some(s) = self.seed {
            write!(f, "{SEED}{s}")?;
        }
        if self.free {
            f.write_str(FREE)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for EmbeddedSpec {
    type Err = EmbeddedError;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_embedded_is_default_model() {
        let s = EmbeddedSpec::parse("embedded").unwrap();
        assert_eq!(
            s,
            EmbeddedSpec {
                model: None,
                lora: None,
                temperature: None,
                seed: None,
                free: false,
            }
        );
    }

    #[test]
    fn free_is_a_flag_beside_the_sampling_options() {
        let s = EmbeddedSpec::parse("embedded+lora=ad@0.5+free+temp=0.8").unwrap();
        assert!(s.free);
        assert_eq!((s.temperature, s.lora.unwrap().scale), (Some(0.8), 0.5));
        assert!(!EmbeddedSpec::parse("embedded+lora=ad").unwrap().free);
    }

    #[test]
    fn path_and_lora_with_scale() {
        let s = EmbeddedSpec::parse("embedded:/m/a.gguf+lora=/ad/x@0.5").unwrap();
        assert_eq!(s.model, Some(PathBuf::from("/m/a.gguf")));
        let l = s.lora.unwrap();
        assert_eq!((l.dir, l.scale), (PathBuf::from("/ad/x"), 0.5));
    }

    #[test]
    fn lora_without_scale_defaults_to_one_and_default_model() {
        let s = EmbeddedSpec::parse("embedded+lora=ad").unwrap();
        assert_eq!(s.model, None);
        assert_eq!(s.lora.unwrap().scale, 1.0);
    }

    #[test]
    fn sampling_options_come_in_any_order_after_the_adapter() {
        let s = EmbeddedSpec::parse("embedded+lora=ad@0.5+seed=7+temp=0.8").unwrap();
        assert_eq!((s.temperature, s.seed), (Some(0.8), Some(7)));
        assert_eq!(s.lora.unwrap().scale, 0.5);
    }

    #[test]
    fn round_trips_through_display() {
        for text in [
            "embedded",
            "embedded:m.gguf",
            "embedded:m.gguf+lora=d@2",
            "embedded+lora=d@0.25",
            "embedded+temp=0.7",
            "embedded:m.gguf+lora=d@2+temp=0.5+seed=3",
            "embedded+lora=d@1+free",
        ] {
            let spec = EmbeddedSpec::parse(text).unwrap();
            assert_eq!(EmbeddedSpec::parse(&spec.to_string()).unwrap(), spec);
        }
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in [
            "openai:gpt",
            "embedded:",
            "embeddedx",
            "embedded:m+lora=",
            "embedded:m+lora=d@x",
            "embedded:m+lora=d@inf",
            "embedded+temp=hot",
            "embedded+temp=-1",
            "embedded+seed=1.5",
            "embedded+seed=1+seed=2",
            "embedded+freed",
            "embedded+free+free",
        ] {
            assert!(EmbeddedSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
