//! [`AnthropicClient`]: the Anthropic Messages API (`POST /v1/messages`), non-streaming.
//!
//! There is no official Anthropic Rust SDK and the unofficial ones lag the API; the subset
//! the harness needs (text in, text out, usage, stop reason) is a few structs.

use crate::error::LlmError;
use crate::http::{
    Transport, display_url, error_in_success_body, malformed, parse_base_url, parse_json,
    secret_header, u64_field,
};
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::types::{ChatMessage, Completion, RequestOptions, Role, Usage};
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// Base URL used when none is given.
pub const ANTHROPIC_DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// Value of the `anthropic-version` header. 2023-06-01 is still the current (and only
/// stable) version of the Messages API; new features arrive via `anthropic-beta` instead.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Client for the Messages API.
///
/// # Base URL rule
/// `{base}/v1/messages`, where a base already ending in `/v1` does not get a second one and
/// a base ending in `/v1/messages` is used as is. Trailing slashes are ignored.
///
/// # System prompt
/// The Messages API has no `system` role inside `messages`: the `system` argument and the
/// content of any [`Role::System`] messages (in order) are joined with a blank line into
/// the top-level `system` field, which is omitted when empty.
#[derive(Clone)]
pub struct AnthropicClient {
    model: String,
    endpoint: Url,
    api_key: Secret,
    headers: HeaderMap,
    transport: Transport,
}

impl fmt::Debug for AnthropicClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicClient")
            .field("model", &self.model)
            .field("endpoint", &display_url(&self.endpoint))
            .field("api_key", &self.api_key)
            .field("timeout", &self.transport.timeout)
            .field("retry", &self.transport.retry)
            .finish()
    }
}

#[derive(Serialize)]
struct MessagesRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    system: String,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop_sequences: &'a [String],
}

/// A message with string content (the API's shorthand for one text block).
#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: &'a str,
}

impl AnthropicClient {
    /// A client for `model`. `base_url` defaults to [`ANTHROPIC_DEFAULT_BASE_URL`].
    /// Fails on an invalid URL or a key that is not a valid header value.
    pub fn new(
        model: impl Into<String>,
        base_url: Option<&str>,
        api_key: impl Into<Secret>,
    ) -> Result<Self, LlmError> {
        let endpoint = messages_url(base_url.unwrap_or(ANTHROPIC_DEFAULT_BASE_URL))?;
        let api_key: Secret = api_key.into();
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-api-key"),
            secret_header(api_key.expose().to_owned())?,
        );
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
        Ok(Self {
            model: model.into(),
            endpoint,
            api_key,
            headers,
            transport: Transport::new()?,
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
        system: &str,
        messages: &[ChatMessage],
        opts: &RequestOptions,
    ) -> Result<String, LlmError> {
        let bytes = self.request_body(system, messages, opts)?;
        String::from_utf8(bytes).map_err(|e| LlmError::Config(e.to_string()))
    }

    fn request_body(
        &self,
        system: &str,
        messages: &[ChatMessage],
        opts: &RequestOptions,
    ) -> Result<Vec<u8>, LlmError> {
        let mut system_text = system.to_owned();
        let mut wire = Vec::with_capacity(messages.len());
        for m in messages {
            match m.role {
                Role::System => {
                    if !m.content.is_empty() {
                        if !system_text.is_empty() {
                            system_text.push_str("\n\n");
                        }
                        system_text.push_str(&m.content);
                    }
                }
                Role::User | Role::Assistant => wire.push(WireMessage {
                    role: m.role.as_str(),
                    content: &m.content,
                }),
            }
        }
        let req = MessagesRequest {
            model: &self.model,
            max_tokens: opts.max_tokens,
            system: system_text,
            messages: wire,
            temperature: opts.temperature,
            top_p: opts.top_p,
            stop_sequences: &opts.stop,
        };
        serde_json::to_vec(&req).map_err(|e| LlmError::Config(format!("encoding request: {e}")))
    }

    /// Sends one Messages API request. `seed` and `lora_scale` of `opts` are ignored (the
    /// API has neither).
    ///
    /// Retries per the [`RetryPolicy`]; see [`LlmError`] for what comes back on failure.
    pub async fn complete(
        &self,
        system: &str,
        messages: &[ChatMessage],
        opts: &RequestOptions,
    ) -> Result<Completion, LlmError> {
        let body = self.request_body(system, messages, opts)?;
        let secret = Some(&self.api_key);
        self.transport
            .post_json(
                "anthropic.messages",
                &self.endpoint,
                &self.headers,
                body,
                secret,
                |bytes| parse_messages_response(bytes, &self.model, secret),
            )
            .await
    }
}

/// Applies the base URL rule documented on [`AnthropicClient`].
fn messages_url(base: &str) -> Result<Url, LlmError> {
    let mut url = parse_base_url(base)?;
    let path = url.path().trim_end_matches('/').to_owned();
    let new_path = if path.ends_with("/v1/messages") {
        path
    } else if path.ends_with("/v1") {
        format!("{path}/messages")
    } else {
        format!("{path}/v1/messages")
    };
    url.set_path(&new_path);
    Ok(url)
}

/// Extracts a [`Completion`] from a Messages API body: all `text` blocks concatenated (no
/// separator: the API splits one answer into several blocks, e.g. around citations),
/// `thinking` blocks into `reasoning`, `tool_use` and other blocks ignored.
fn parse_messages_response(
    body: &[u8],
    requested_model: &str,
    secret: Option<&Secret>,
) -> Result<Completion, LlmError> {
    let v = parse_json(body)?;
    let Some(content) = v.get("content") else {
        return Err(error_in_success_body(&v, body, secret)
            .unwrap_or_else(|| malformed("no `content` in response", body)));
    };
    let Some(blocks) = content.as_array() else {
        return Err(malformed("`content` is not an array", body));
    };
    let mut text = String::new();
    let mut thinking = String::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                let Some(t) = block.get("text").and_then(Value::as_str) else {
                    return Err(malformed("text block without `text`", body));
                };
                text.push_str(t);
            }
            Some("thinking") => {
                if let Some(t) = block.get("thinking").and_then(Value::as_str) {
                    thinking.push_str(t);
                }
            }
            _ => {}
        }
    }
    let usage = v
        .get("usage")
        .map(|u| Usage {
            input_tokens: u64_field(u.get("input_tokens")),
            output_tokens: u64_field(u.get("output_tokens")),
            cache_creation_input_tokens: u64_field(u.get("cache_creation_input_tokens")),
            cache_read_input_tokens: u64_field(u.get("cache_read_input_tokens")),
        })
        .unwrap_or_default();
    Ok(Completion {
        text,
        usage,
        finish_reason: v
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(str::to_owned),
        model: v
            .get("model")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .unwrap_or(requested_model)
            .to_owned(),
        reasoning: (!thinking.is_empty()).then_some(thinking),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_rule() {
        let u = |b: &str| messages_url(b).map(|u| u.to_string()).unwrap_or_default();
        assert_eq!(
            u(ANTHROPIC_DEFAULT_BASE_URL),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(
            u("https://api.anthropic.com/"),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(
            u("http://127.0.0.1:9/v1/"),
            "http://127.0.0.1:9/v1/messages"
        );
        assert_eq!(
            u("http://127.0.0.1:9/v1/messages"),
            "http://127.0.0.1:9/v1/messages"
        );
        assert_eq!(
            u("http://proxy/anthropic"),
            "http://proxy/anthropic/v1/messages"
        );
    }

    #[test]
    fn system_messages_are_hoisted() {
        let c = AnthropicClient::new("claude-x", None, "sk-ant-k").expect("client");
        let body = c
            .request_json(
                "base rules",
                &[
                    ChatMessage::system("extra rules"),
                    ChatMessage::user("hi"),
                    ChatMessage::assistant("hello"),
                ],
                &RequestOptions {
                    max_tokens: 9,
                    stop: vec!["STOP".into()],
                    seed: Some(1),
                    lora_scale: Some(2.0),
                    ..RequestOptions::default()
                },
            )
            .expect("json");
        assert_eq!(
            body,
            r#"{"model":"claude-x","max_tokens":9,"system":"base rules\n\nextra rules","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}],"stop_sequences":["STOP"]}"#
        );
        let body = c
            .request_json("", &[ChatMessage::user("hi")], &RequestOptions::default())
            .expect("json");
        assert!(!body.contains("system"));
    }

    #[test]
    fn parses_documented_shape() {
        let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
            "content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Hello"},
            {"type":"tool_use","id":"t","name":"x","input":{}},{"type":"text","text":", world"}],
            "stop_reason":"end_turn","stop_sequence":null,
            "usage":{"input_tokens":10,"output_tokens":3,"cache_creation_input_tokens":100,"cache_read_input_tokens":50}}"#;
        let c = parse_messages_response(body, "req", None).expect("valid");
        assert_eq!(c.text, "Hello, world");
        assert_eq!(c.reasoning.as_deref(), Some("hmm"));
        assert_eq!(c.finish_reason.as_deref(), Some("end_turn"));
        assert_eq!(c.model, "claude-sonnet-4-5-20250929");
        assert_eq!(
            c.usage,
            Usage {
                input_tokens: 10,
                output_tokens: 3,
                cache_creation_input_tokens: 100,
                cache_read_input_tokens: 50
            }
        );
        let bad = parse_messages_response(br#"{"content":"x"}"#, "req", None);
        assert!(matches!(bad, Err(LlmError::Malformed { .. })));
        let err = parse_messages_response(
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            "req",
            None,
        );
        assert!(matches!(err, Err(LlmError::Overloaded { .. })));
    }
}
