//! [`OpenAiClient`]: the OpenAI-compatible chat completions API, as served by vLLM,
//! llama.cpp server, Ollama, and OpenAI itself.

use crate::error::LlmError;
use crate::http::{
    Transport, display_url, error_in_success_body, malformed, parse_base_url, parse_json,
    secret_header, u64_field,
};
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::types::{ChatMessage, Completion, RequestOptions, Usage};
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap};
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// Client for `POST {base}/chat/completions`.
///
/// # Base URL rule
/// * A base with no path (`http://127.0.0.1:8080`, `http://localhost:11434/`) gets `/v1`
///   added: `http://127.0.0.1:8080/v1/chat/completions`. This is where vLLM, llama.cpp,
///   Ollama and OpenAI all serve the API.
/// * A base with a path is kept as given and `/chat/completions` appended:
///   `https://api.openai.com/v1` → `.../v1/chat/completions`; `https://openrouter.ai/api/v1`
///   and prefixes like `.../v1beta/openai` work unchanged.
/// * A base that already ends in `/chat/completions` is used as is.
///
/// Trailing slashes are ignored and a query string (e.g. `?api-version=...`) is kept.
///
/// Text comes from `choices[0].message.content` only; `tool_calls` are ignored (the
/// harness parses XML tool calls from the text). Reasoning fields go to
/// [`Completion::reasoning`].
#[derive(Clone)]
pub struct OpenAiClient {
    model: String,
    endpoint: Url,
    api_key: Option<Secret>,
    headers: HeaderMap,
    transport: Transport,
    max_completion_tokens: bool,
}

impl fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("model", &self.model)
            .field("endpoint", &display_url(&self.endpoint))
            .field("api_key", &self.api_key)
            .field("timeout", &self.transport.timeout)
            .field("retry", &self.transport.retry)
            .field("max_completion_tokens", &self.max_completion_tokens)
            .finish()
    }
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lora: Option<[LoraScale; 1]>,
    stream: bool,
}

/// One entry of llama.cpp server's per-request `lora` list.
#[derive(Serialize)]
struct LoraScale {
    id: u32,
    scale: f32,
}

impl OpenAiClient {
    /// A client for `model` at `base_url` (see the base URL rule on the type). `api_key`
    /// is sent as `Authorization: Bearer ...` when present and non-empty; local servers
    /// need none. Fails on an invalid URL or a key that is not a valid header value.
    pub fn new(
        model: impl Into<String>,
        base_url: impl AsRef<str>,
        api_key: Option<String>,
    ) -> Result<Self, LlmError> {
        let endpoint = chat_completions_url(base_url.as_ref())?;
        let api_key = api_key.map(Secret::new).filter(|k| !k.is_empty());
        let mut headers = HeaderMap::new();
        if let Some(key) = &api_key {
            headers.insert(
                AUTHORIZATION,
                secret_header(format!("Bearer {}", key.expose()))?,
            );
        }
        Ok(Self {
            model: model.into(),
            endpoint,
            api_key,
            headers,
            transport: Transport::new()?,
            max_completion_tokens: false,
        })
    }

    /// Replaces the retry policy (default: [`RetryPolicy::default`]).
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.transport.retry = policy;
        self
    }

    /// Sets the per-attempt timeout, covering connect, generation and reading the body
    /// (default [`crate::DEFAULT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.transport.timeout = timeout;
        self
    }

    /// Send the token limit as `max_completion_tokens` instead of `max_tokens`. OpenAI's
    /// reasoning models (o-series, gpt-5) reject `max_tokens`; llama.cpp, vLLM and Ollama
    /// all understand `max_tokens`, hence the default.
    pub fn with_max_completion_tokens(mut self, enabled: bool) -> Self {
        self.max_completion_tokens = enabled;
        self
    }

    /// The model name sent in requests.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The full endpoint URL (password, if any, redacted).
    pub fn endpoint(&self) -> String {
        display_url(&self.endpoint)
    }

    /// The JSON body [`Self::complete`] would send; for golden-file tests and logs.
    pub fn request_json(
        &self,
        messages: &[ChatMessage],
        opts: &RequestOptions,
    ) -> Result<String, LlmError> {
        let bytes = self.request_body(messages, opts)?;
        String::from_utf8(bytes).map_err(|e| LlmError::Config(e.to_string()))
    }

    fn request_body(
        &self,
        messages: &[ChatMessage],
        opts: &RequestOptions,
    ) -> Result<Vec<u8>, LlmError> {
        let (max_tokens, max_completion_tokens) = if self.max_completion_tokens {
            (None, Some(opts.max_tokens))
        } else {
            (Some(opts.max_tokens), None)
        };
        let req = ChatRequest {
            model: &self.model,
            messages,
            max_tokens,
            max_completion_tokens,
            temperature: opts.temperature,
            top_p: opts.top_p,
            stop: &opts.stop,
            seed: opts.seed,
            lora: opts.lora_scale.map(|scale| [LoraScale { id: 0, scale }]),
            stream: false,
        };
        // Cannot fail for these types (serde_json writes a NaN float as null); mapped
        // rather than unwrapped all the same.
        serde_json::to_vec(&req).map_err(|e| LlmError::Config(format!("encoding request: {e}")))
    }

    /// Sends `messages` and returns the first choice's text, usage and finish reason.
    ///
    /// Retries per the [`RetryPolicy`]; see [`LlmError`] for what comes back on failure.
    pub async fn complete(
        &self,
        messages: &[ChatMessage],
        opts: &RequestOptions,
    ) -> Result<Completion, LlmError> {
        let body = self.request_body(messages, opts)?;
        let secret = self.api_key.as_ref();
        self.transport
            .post_json(
                "openai.chat",
                &self.endpoint,
                &self.headers,
                body,
                secret,
                |bytes| parse_chat_response(bytes, &self.model, secret),
            )
            .await
    }
}

/// Applies the base URL rule documented on [`OpenAiClient`].
fn chat_completions_url(base: &str) -> Result<Url, LlmError> {
    let mut url = parse_base_url(base)?;
    let path = url.path().trim_end_matches('/').to_owned();
    let new_path = if path.ends_with("/chat/completions") {
        path
    } else if path.is_empty() {
        "/v1/chat/completions".to_owned()
    } else {
        format!("{path}/chat/completions")
    };
    url.set_path(&new_path);
    Ok(url)
}

/// Extracts a [`Completion`] from a chat completions body.
///
/// Lenient where servers differ: `content` may be a string, null (tool-call-only or
/// reasoning-only answers → empty text) or an array of `{type, text}` parts (joined);
/// `usage` may be absent (zeros). Strict where an answer cannot be trusted: no `choices`,
/// or a `content` of another type, is [`LlmError::Malformed`].
fn parse_chat_response(
    body: &[u8],
    requested_model: &str,
    secret: Option<&Secret>,
) -> Result<Completion, LlmError> {
    let v = parse_json(body)?;
    let Some(choices) = v.get("choices") else {
        return Err(error_in_success_body(&v, body, secret)
            .unwrap_or_else(|| malformed("no `choices` in response", body)));
    };
    let Some(choice) = choices.as_array().and_then(|c| c.first()) else {
        return Err(malformed("`choices` is empty or not an array", body));
    };
    let message = choice.get("message");
    let text = match message.and_then(|m| m.get("content")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        Some(Value::Null) | None => choice
            .get("text") // legacy completions shape, some proxies
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Some(_) => {
            return Err(malformed(
                "`message.content` is neither text nor null",
                body,
            ));
        }
    };
    let reasoning = message.and_then(|m| {
        ["reasoning_content", "reasoning"]
            .iter()
            .filter_map(|k| m.get(*k).and_then(Value::as_str))
            .find(|s| !s.is_empty())
            .map(str::to_owned)
    });
    let finish_reason = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let usage = v.get("usage").map(openai_usage).unwrap_or_default();
    let model = v
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or(requested_model)
        .to_owned();
    Ok(Completion {
        text,
        usage,
        finish_reason,
        model,
        reasoning,
    })
}

/// `usage` of a chat completions body, in this crate's [`Usage`] semantics (cached prompt
/// tokens split out of `input_tokens`).
fn openai_usage(u: &Value) -> Usage {
    let prompt = u64_field(u.get("prompt_tokens"));
    let cached = u64_field(
        u.get("prompt_tokens_details")
            .and_then(|d| d.get("cached_tokens")),
    )
    .min(prompt);
    Usage {
        input_tokens: prompt - cached,
        output_tokens: u64_field(u.get("completion_tokens")),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: cached,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(base: &str) -> String {
        chat_completions_url(base)
            .map(|u| u.to_string())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn base_url_rule() {
        assert_eq!(
            url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(
            url("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(
            url("http://127.0.0.1:8080/v1"),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(
            url("http://127.0.0.1:8080/v1/"),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(
            url("https://openrouter.ai/api/v1"),
            "https://openrouter.ai/api/v1/chat/completions"
        );
        assert_eq!(
            url("https://x.example/v1beta/openai/"),
            "https://x.example/v1beta/openai/chat/completions"
        );
        assert_eq!(
            url("http://h/v1/chat/completions"),
            "http://h/v1/chat/completions"
        );
        assert_eq!(
            url("https://h/openai/deployments/d?api-version=2024-10-21"),
            "https://h/openai/deployments/d/chat/completions?api-version=2024-10-21"
        );
        assert!(url("localhost:8080").contains("invalid client configuration"));
    }

    fn parse(body: &str) -> Result<Completion, LlmError> {
        parse_chat_response(body.as_bytes(), "req-model", None)
    }

    #[test]
    fn parses_documented_shape() {
        let c = parse(
            r#"{"id":"x","object":"chat.completion","model":"qwen","choices":[{"index":0,
            "message":{"role":"assistant","content":"<tool>ls</tool>","tool_calls":[]},
            "finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":5,
            "total_tokens":17,"prompt_tokens_details":{"cached_tokens":4}}}"#,
        )
        .expect("valid");
        assert_eq!(c.text, "<tool>ls</tool>");
        assert_eq!(c.model, "qwen");
        assert_eq!(c.finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            c.usage,
            Usage {
                input_tokens: 8,
                output_tokens: 5,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: 4
            }
        );
        assert_eq!(c.usage.total_input_tokens(), 12);
    }

    #[test]
    fn null_content_with_reasoning_is_not_an_error() {
        let c = parse(
            r#"{"choices":[{"message":{"role":"assistant","content":null,
            "reasoning_content":"thinking..."},"finish_reason":"length"}]}"#,
        )
        .expect("valid");
        assert_eq!(c.text, "");
        assert_eq!(c.reasoning.as_deref(), Some("thinking..."));
        assert!(c.hit_max_tokens());
        assert_eq!(c.model, "req-model");
        assert_eq!(c.usage, Usage::default());
        // Newer vLLM sends both names; `reasoning` alone also works.
        let c =
            parse(r#"{"choices":[{"message":{"content":"a","reasoning":"r"}}]}"#).expect("valid");
        assert_eq!(c.reasoning.as_deref(), Some("r"));
    }

    #[test]
    fn content_parts_are_joined() {
        let c = parse(
            r#"{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]}"#,
        )
        .expect("valid");
        assert_eq!(c.text, "ab");
    }

    #[test]
    fn bad_shapes_are_malformed() {
        assert!(matches!(
            parse(r#"{"id":"x"}"#),
            Err(LlmError::Malformed { .. })
        ));
        assert!(matches!(
            parse(r#"{"choices":[]}"#),
            Err(LlmError::Malformed { .. })
        ));
        assert!(matches!(
            parse(r#"{"choices":[{"message":{"content":42}}]}"#),
            Err(LlmError::Malformed { .. })
        ));
        assert!(matches!(parse(r#"[1,2"#), Err(LlmError::Malformed { .. })));
    }

    #[test]
    fn error_object_in_200_is_classified() {
        let e =
            parse(r#"{"error":{"message":"upstream rate limit","code":429}}"#).expect_err("error");
        assert!(matches!(e, LlmError::RateLimited { .. }));
        let e = parse(r#"{"error":{"message":"boom"}}"#).expect_err("error");
        assert!(matches!(e, LlmError::Server { status: 502, .. }));
    }

    #[test]
    fn request_body_shape() {
        let c = OpenAiClient::new("m", "http://127.0.0.1:1", None).expect("client");
        let body = c
            .request_json(&[ChatMessage::user("hi")], &RequestOptions::default())
            .expect("json");
        assert_eq!(
            body,
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1024,"stream":false}"#
        );
        let opts = RequestOptions {
            max_tokens: 7,
            temperature: Some(0.7),
            top_p: Some(0.9),
            stop: vec!["</tool>".into()],
            seed: Some(42),
            lora_scale: Some(0.5),
        };
        let body = c
            .clone()
            .with_max_completion_tokens(true)
            .request_json(&[], &opts)
            .expect("json");
        assert_eq!(
            body,
            r#"{"model":"m","messages":[],"max_completion_tokens":7,"temperature":0.7,"top_p":0.9,"stop":["</tool>"],"seed":42,"lora":[{"id":0,"scale":0.5}],"stream":false}"#
        );
        let nan = RequestOptions {
            temperature: Some(f32::NAN),
            ..RequestOptions::default()
        };
        // serde_json writes non-finite floats as null rather than failing.
        assert!(c.request_json(&[], &nan).is_ok());
    }
}
