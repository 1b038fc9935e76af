//! The HTTP plumbing both clients share: building the `reqwest` client (TLS provider), one
//! POST attempt with a hard timeout, mapping transport failures and HTTP statuses to
//! [`LlmError`], and reading error messages out of the various servers' error bodies.

use crate::error::LlmError;
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use serde_json::Value;
use std::sync::Once;
use std::time::Duration;

/// Default per-request timeout. Generous because a small model on a CPU-only llama.cpp
/// server may take minutes for a long answer; lower it with `with_timeout` for hosted APIs.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Time allowed to open a TCP (and TLS) connection, separate from the request timeout so
/// that a dead host fails fast even when generation is allowed to take long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest server error message kept in an error, in characters.
const MAX_MESSAGE_CHARS: usize = 1000;

/// Length of the body snippet stored in [`LlmError::Malformed`], in characters.
const SNIPPET_CHARS: usize = 200;

/// Installs rustls' `ring` crypto provider as the process default, once.
///
/// reqwest is built with `rustls-no-provider` to avoid compiling aws-lc-rs (a large C build,
/// cmake on some targets); without a provider reqwest panics when building a client. If
/// another part of the process already installed a provider (e.g. aws-lc-rs), that one is
/// kept: any rustls provider speaks HTTPS to api.anthropic.com.
pub(crate) fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // An Err here means another thread installed one first; that is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

/// Validates `raw` as an http(s) URL without trailing slashes in its path.
pub(crate) fn parse_base_url(raw: &str) -> Result<Url, LlmError> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        LlmError::Config(format!("invalid base URL {:?}: {e}", redact_url_str(raw)))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(LlmError::Config(format!(
            "base URL must be http or https, got scheme {:?}",
            url.scheme()
        )));
    }
    Ok(url)
}

/// `url` with any password removed, for Debug output and error messages.
pub(crate) fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        // Cannot fail for http(s) URLs, which have a host.
        let _ = shown.set_password(Some("[REDACTED]"));
    }
    shown.to_string()
}

fn redact_url_str(raw: &str) -> String {
    // Unparseable input: show only what precedes a possible `user:pass@`.
    match raw.find('@') {
        Some(_) => "[URL with credentials]".to_owned(),
        None => raw.to_owned(),
    }
}

/// Makes a header value carrying a credential, marked sensitive so `HeaderMap`'s Debug
/// hides it too.
pub(crate) fn secret_header(value: String) -> Result<HeaderValue, LlmError> {
    let mut v = HeaderValue::from_str(&value).map_err(|_| {
        LlmError::Config("API key contains characters not allowed in an HTTP header".into())
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Connection settings and retry policy of one client.
#[derive(Clone)]
pub(crate) struct Transport {
    http: reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
}

impl Transport {
    pub(crate) fn new() -> Result<Self, LlmError> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("apprentice-llm/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::Config(format!("building HTTP client: {}", error_chain(&e))))?;
        Ok(Self {
            http,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
        })
    }

    /// POSTs `body` (already serialised JSON) to `url` under the retry policy, and turns a
    /// 2xx body into `T` with `parse`. `parse` runs inside the retry loop so that a
    /// malformed body is retried like any other transient failure (within
    /// `malformed_retries`).
    pub(crate) async fn post_json<T>(
        &self,
        what: &str,
        url: &Url,
        headers: &HeaderMap,
        body: Vec<u8>,
        secret: Option<&Secret>,
        parse: impl Fn(&[u8]) -> Result<T, LlmError>,
    ) -> Result<T, LlmError> {
        let shown = display_url(url);
        self.retry
            .run(what, |attempt| {
                tracing::debug!(
                    target: "apprentice_llm",
                    call = what,
                    url = %shown,
                    attempt,
                    bytes = body.len(),
                    "POST"
                );
                let req = self
                    .http
                    .post(url.clone())
                    .headers(headers.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .timeout(self.timeout)
                    .body(body.clone());
                let shown = &shown;
                let parse = &parse;
                async move {
                    // Scrub here, before the retry loop logs the error.
                    self.attempt(req, shown, secret, parse)
                        .await
                        .map_err(|e| match secret {
                            Some(secret) => e.scrubbed(secret),
                            None => e,
                        })
                }
            })
            .await
    }

    /// One attempt: send, map a non-2xx status to an error, parse a 2xx body.
    async fn attempt<T>(
        &self,
        req: reqwest::RequestBuilder,
        shown_url: &str,
        secret: Option<&Secret>,
        parse: &impl Fn(&[u8]) -> Result<T, LlmError>,
    ) -> Result<T, LlmError> {
        let (status, headers, bytes) = self.send(req, shown_url).await?;
        if !status.is_success() {
            return Err(error_from_status(status.as_u16(), &headers, &bytes, secret));
        }
        tracing::trace!(target: "apprentice_llm", bytes = bytes.len(), "response");
        parse(&bytes)
    }

    /// Sends and reads the whole body, all within `self.timeout`. reqwest's own
    /// timeout covers the same span; the outer `tokio` timeout is a second guard that does
    /// not depend on how reqwest classifies a stall while streaming the body.
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        shown_url: &str,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), LlmError> {
        let timeout = self.timeout;
        let exchange = async {
            let resp = req
                .send()
                .await
                .map_err(|e| transport_error(e, timeout, shown_url))?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| transport_error(e, timeout, shown_url))?;
            Ok((status, headers, bytes.to_vec()))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(timeout_error(timeout, shown_url)),
        }
    }
}

fn timeout_error(timeout: Duration, shown_url: &str) -> LlmError {
    LlmError::Timeout {
        message: format!("no complete response within {timeout:?} from {shown_url}"),
    }
}

/// Maps a reqwest failure (no usable HTTP answer) to an error. The URL is stripped from the
/// reqwest error and replaced by the password-free `shown_url`.
fn transport_error(e: reqwest::Error, timeout: Duration, shown_url: &str) -> LlmError {
    if e.is_timeout() {
        return timeout_error(timeout, shown_url);
    }
    let e = e.without_url();
    if e.is_builder() {
        return LlmError::Config(format!("cannot build request: {}", error_chain(&e)));
    }
    let what = if e.is_connect() {
        "cannot connect to"
    } else if e.is_body() || e.is_decode() {
        "connection lost while reading the response from"
    } else {
        "connection failed during the request to"
    };
    LlmError::Unreachable {
        message: format!("{what} {shown_url}: {}", error_chain(&e)),
    }
}

/// `e` and all its sources joined with ": ", the way anyhow prints `{:#}`; reqwest's own
/// Display says only "error sending request", the cause ("Connection refused") is deeper.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Maps a non-2xx answer to an error, with the server's message.
pub(crate) fn error_from_status(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    secret: Option<&Secret>,
) -> LlmError {
    let (kind, message) = error_details(body);
    let message = match secret {
        Some(s) => s.scrub(&message),
        None => message,
    };
    if status == 429 {
        return LlmError::RateLimited {
            status,
            retry_after: retry_after(headers),
            message,
        };
    }
    if status == 529 || kind.as_deref() == Some("overloaded_error") {
        return LlmError::Overloaded { status, message };
    }
    match status {
        408 => LlmError::Timeout {
            message: format!("HTTP 408 from server: {message}"),
        },
        401 | 403 => LlmError::Auth { status, message },
        501 | 505 => LlmError::BadRequest {
            status,
            kind,
            message,
        },
        500..=599 => LlmError::Server { status, message },
        _ => LlmError::BadRequest {
            status,
            kind,
            message,
        },
    }
}

/// The wait the server asked for: `retry-after-ms` (OpenAI) or `Retry-After` in seconds
/// (integer or decimal). The HTTP-date form of `Retry-After` is not parsed (no API in use
/// sends it); the computed backoff applies then. Values over a day are ignored as bogus.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let read = |name: &str| -> Option<f64> {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    if let Some(ms) = read("retry-after-ms").filter(|ms| *ms <= 86_400_000.0) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    read("retry-after")
        .filter(|s| *s <= 86_400.0)
        .map(Duration::from_secs_f64)
}

/// `(error type, message)` from an error body. Understands OpenAI and llama.cpp
/// `{"error": {"message", "type", "code"}}`, Anthropic `{"type": "error", "error": {"type",
/// "message"}}`, Ollama `{"error": "text"}`, old vLLM `{"message", "type"}` and FastAPI
/// `{"detail": ...}`; anything else yields the start of the body as the message.
pub(crate) fn error_details(body: &[u8]) -> (Option<String>, String) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let text_of = |v: Option<&Value>| -> Option<String> {
        match v? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    let (kind, message) = match &parsed {
        Some(Value::Object(top)) => match top.get("error") {
            Some(Value::Object(err)) => (
                text_of(err.get("type")).or_else(|| text_of(err.get("code"))),
                text_of(err.get("message")),
            ),
            Some(Value::String(s)) => (None, Some(s.clone())),
            _ => (
                text_of(top.get("type")),
                text_of(top.get("message")).or_else(|| text_of(top.get("detail"))),
            ),
        },
        _ => (None, None),
    };
    let message = message.unwrap_or_else(|| {
        if body.is_empty() {
            "(empty body)".to_owned()
        } else {
            snippet(body, MAX_MESSAGE_CHARS)
        }
    });
    (kind, truncate_chars(&message, MAX_MESSAGE_CHARS))
}

/// The first `max_chars` characters of `body`, lossy UTF-8.
pub(crate) fn snippet(body: &[u8], max_chars: usize) -> String {
    truncate_chars(&String::from_utf8_lossy(body), max_chars)
}

fn truncate_chars(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// A [`LlmError::Malformed`] for `body`.
pub(crate) fn malformed(message: impl Into<String>, body: &[u8]) -> LlmError {
    LlmError::Malformed {
        message: message.into(),
        snippet: snippet(body, SNIPPET_CHARS),
    }
}

/// Parses a 2xx body as JSON.
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, LlmError> {
    serde_json::from_slice(body).map_err(|e| malformed(format!("invalid JSON ({e})"), body))
}

/// Some gateways (OpenRouter, LiteLLM) answer 200 with an error object. If `v` has an
/// `error` member, map it as if it had come with its `code` as HTTP status (502, a
/// retryable server error, when the code is not an HTTP status).
pub(crate) fn error_in_success_body(
    v: &Value,
    body: &[u8],
    secret: Option<&Secret>,
) -> Option<LlmError> {
    let err = v.get("error")?;
    if err.is_null() {
        return None;
    }
    let status = err
        .get("code")
        .and_then(Value::as_u64)
        .filter(|c| (400..=599).contains(c))
        .map_or(502, |c| c as u16);
    Some(error_from_status(status, &HeaderMap::new(), body, secret))
}

/// Reads a non-negative integer member leniently (number or numeric string; else 0).
pub(crate) fn u64_field(v: Option<&Value>) -> u64 {
    match v {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(*k, v);
            }
        }
        h
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "3")])),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "0.5")])),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "250"), ("retry-after", "9")])),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2015 07:28:00 GMT"
            )])),
            None
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "-1")])), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "1e300")])), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "NaN")])), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn error_bodies_of_known_servers() {
        let anthropic =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(
            error_details(anthropic),
            (Some("overloaded_error".into()), "Overloaded".into())
        );
        let openai = br#"{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        assert_eq!(
            error_details(openai),
            (Some("invalid_request_error".into()), "bad key".into())
        );
        let llamacpp = br#"{"error":{"code":500,"message":"ctx full","type":"server_error"}}"#;
        assert_eq!(error_details(llamacpp).1, "ctx full");
        assert_eq!(
            error_details(br#"{"error":"model 'x' not found"}"#).1,
            "model 'x' not found"
        );
        assert_eq!(
            error_details(
                br#"{"object":"error","message":"m","type":"BadRequestError","code":400}"#
            )
            .1,
            "m"
        );
        assert_eq!(error_details(br#"{"detail":"Not Found"}"#).1, "Not Found");
        assert_eq!(
            error_details(b"<html>502 Bad Gateway</html>").1,
            "<html>502 Bad Gateway</html>"
        );
        assert_eq!(error_details(b"").1, "(empty body)");
        let long = "é".repeat(5000);
        assert_eq!(
            error_details(long.as_bytes()).1.chars().count(),
            MAX_MESSAGE_CHARS + 1
        );
    }

    #[test]
    fn status_mapping() {
        let h = HeaderMap::new();
        let e = |s| error_from_status(s, &h, b"{}", None);
        assert!(matches!(e(429), LlmError::RateLimited { .. }));
        assert!(matches!(e(529), LlmError::Overloaded { .. }));
        assert!(matches!(e(500), LlmError::Server { .. }));
        assert!(matches!(e(503), LlmError::Server { .. }));
        assert!(matches!(e(501), LlmError::BadRequest { .. }));
        assert!(matches!(e(401), LlmError::Auth { .. }));
        assert!(matches!(e(403), LlmError::Auth { .. }));
        assert!(matches!(e(404), LlmError::BadRequest { .. }));
        assert!(matches!(e(408), LlmError::Timeout { .. }));
        let overloaded_503 = error_from_status(
            503,
            &h,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#,
            None,
        );
        assert!(matches!(
            overloaded_503,
            LlmError::Overloaded { status: 503, .. }
        ));
    }

    #[test]
    fn urls_hide_passwords() {
        let u = parse_base_url("https://user:hunter22@example.com/v1").expect("valid");
        assert!(!display_url(&u).contains("hunter22"));
        let err = parse_base_url("not a url with user:hunter22@x").expect_err("invalid");
        assert!(!err.to_string().contains("hunter22"));
        assert!(matches!(
            parse_base_url("ftp://x/"),
            Err(LlmError::Config(_))
        ));
    }

    #[test]
    fn snippets_respect_char_boundaries() {
        assert_eq!(snippet("héllo".as_bytes(), 2), "hé…");
        assert_eq!(snippet(b"{\"a\":", 200), "{\"a\":");
        assert_eq!(snippet(&[0xff, b'a'], 10), "\u{fffd}a");
    }

    #[test]
    fn https_client_builds_with_ring() {
        // Would panic inside reqwest if no rustls crypto provider were installed.
        assert!(Transport::new().is_ok());
    }
}
