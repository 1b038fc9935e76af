//! [`LlmError`]: what can go wrong with a model call, split so that the caller can tell
//! "the provider or network failed" (not the agent's fault, retry later or elsewhere) from
//! "our request is wrong" (fix the code, the key or the prompt).

use crate::secret::Secret;
use std::time::Duration;

/// An error from a model call.
///
/// No variant ever holds an API key: server messages are scrubbed of the key before they
/// are stored (see [`crate::Secret::scrub`]), and transport errors are stored without their
/// URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// HTTP 429. `retry_after` is the server's `Retry-After` (or `retry-after-ms`) hint.
    #[error("rate limited (HTTP {status}){}: {message}", fmt_retry_after(*retry_after))]
    RateLimited {
        /// HTTP status (429).
        status: u16,
        /// How long the server asked us to wait, if it said.
        retry_after: Option<Duration>,
        /// The server's error message.
        message: String,
    },
    /// The provider is overloaded: Anthropic's HTTP 529 / `overloaded_error`.
    #[error("provider overloaded (HTTP {status}): {message}")]
    Overloaded {
        /// HTTP status (529 for Anthropic).
        status: u16,
        /// The server's error message.
        message: String,
    },
    /// HTTP 5xx other than overload (and other than 501/505, which are `BadRequest`).
    #[error("server error (HTTP {status}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's error message.
        message: String,
    },
    /// No HTTP answer: connection refused or reset, DNS failure, TLS failure, the
    /// connection dropped mid-response.
    #[error("server unreachable: {message}")]
    Unreachable {
        /// What the transport reported (without the URL).
        message: String,
    },
    /// No complete answer within the per-request timeout, or HTTP 408.
    #[error("request timed out: {message}")]
    Timeout {
        /// Which limit was hit.
        message: String,
    },
    /// A 2xx answer whose body is not the documented JSON shape (truncated, not JSON,
    /// missing `choices`/`content`).
    #[error("malformed response: {message}; body starts with {snippet:?}")]
    Malformed {
        /// What was wrong.
        message: String,
        /// The first bytes of the body (lossy UTF-8, at most ~200 characters).
        snippet: String,
    },
    /// HTTP 401/403: missing, wrong or unauthorised API key. Never retried.
    #[error("authentication failed (HTTP {status}): {message}")]
    Auth {
        /// HTTP status.
        status: u16,
        /// The server's error message (scrubbed of the key).
        message: String,
    },
    /// Other 4xx (400 bad request, 404 unknown model/endpoint, 413 too large, 422, ...)
    /// and HTTP 501/505: the request itself is wrong. Never retried.
    #[error("request rejected (HTTP {status}{}): {message}", fmt_kind(kind.as_deref()))]
    BadRequest {
        /// HTTP status.
        status: u16,
        /// The server's error type, e.g. `invalid_request_error`, when it gave one.
        kind: Option<String>,
        /// The server's error message.
        message: String,
    },
    /// The client could not be built or the request could not be encoded (bad base URL,
    /// invalid header value, TLS setup).
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// A retryable failure persisted: `attempts` (≥ 2) calls were made, `waited` was spent
    /// sleeping between them, `last` is the final failure. Match on [`LlmError::root`] to
    /// get at the cause whether or not retries happened.
    #[error("gave up after {attempts} attempt(s) and {waited:?} of backoff: {last}")]
    RetriesExhausted {
        /// Number of HTTP attempts made.
        attempts: u32,
        /// Total time slept between attempts.
        waited: Duration,
        /// The error of the last attempt.
        last: Box<LlmError>,
    },
}

fn fmt_retry_after(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!(", retry after {d:?}"),
        None => String::new(),
    }
}

fn fmt_kind(kind: Option<&str>) -> String {
    match kind {
        Some(k) => format!(", {k}"),
        None => String::new(),
    }
}

impl LlmError {
    /// Whether the failure lies with the provider, the network or the serving stack rather
    /// than with the request: rate limits, overload, 5xx, unreachable, timeouts and
    /// malformed 2xx bodies. The harness uses this to avoid scoring an apprentice run as a
    /// failure, or to fall back to another endpoint, when the infrastructure is to blame.
    /// `RetriesExhausted` answers for its last error.
    pub fn is_infrastructure(&self) -> bool {
        match self {
            LlmError::RateLimited { .. }
            | LlmError::Overloaded { .. }
            | LlmError::Server { .. }
            | LlmError::Unreachable { .. }
            | LlmError::Timeout { .. }
            | LlmError::Malformed { .. } => true,
            LlmError::Auth { .. } | LlmError::BadRequest { .. } | LlmError::Config(_) => false,
            LlmError::RetriesExhausted { last, .. } => last.is_infrastructure(),
        }
    }

    /// Whether the retry loop may try again after this error (before counting attempts and
    /// waiting time). `Malformed` is retryable only a limited number of times, governed by
    /// [`crate::RetryPolicy::malformed_retries`]; this returns `true` for it.
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::RateLimited { .. }
            | LlmError::Server { .. }
            | LlmError::Overloaded { .. }
            | LlmError::Unreachable { .. }
            | LlmError::Timeout { .. }
            | LlmError::Malformed { .. } => true,
            LlmError::Auth { .. }
            | LlmError::BadRequest { .. }
            | LlmError::Config(_)
            | LlmError::RetriesExhausted { .. } => false,
        }
    }

    /// The underlying error: the last error of `RetriesExhausted`, else `self`.
    pub fn root(&self) -> &LlmError {
        match self {
            LlmError::RetriesExhausted { last, .. } => last.root(),
            other => other,
        }
    }

    /// Number of HTTP attempts behind this error (1 unless it is `RetriesExhausted`).
    pub fn attempts(&self) -> u32 {
        match self {
            LlmError::RetriesExhausted { attempts, .. } => *attempts,
            _ => 1,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self.root() {
            LlmError::RateLimited { status, .. }
            | LlmError::Overloaded { status, .. }
            | LlmError::Server { status, .. }
            | LlmError::Auth { status, .. }
            | LlmError::BadRequest { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Replaces `secret` in every message of this error (see [`Secret::scrub`]); applied to
    /// each error before it leaves a client, as a backstop behind the redaction at the
    /// sources.
    pub(crate) fn scrubbed(self, secret: &Secret) -> Self {
        let s = |text: String| secret.scrub(&text);
        match self {
            LlmError::RateLimited {
                status,
                retry_after,
                message,
            } => LlmError::RateLimited {
                status,
                retry_after,
                message: s(message),
            },
            LlmError::Overloaded { status, message } => LlmError::Overloaded {
                status,
                message: s(message),
            },
            LlmError::Server { status, message } => LlmError::Server {
                status,
                message: s(message),
            },
            LlmError::Unreachable { message } => LlmError::Unreachable {
                message: s(message),
            },
            LlmError::Timeout { message } => LlmError::Timeout {
                message: s(message),
            },
            LlmError::Malformed { message, snippet } => LlmError::Malformed {
                message: s(message),
                snippet: s(snippet),
            },
            LlmError::Auth { status, message } => LlmError::Auth {
                status,
                message: s(message),
            },
            LlmError::BadRequest {
                status,
                kind,
                message,
            } => LlmError::BadRequest {
                status,
                kind: kind.map(s),
                message: s(message),
            },
            LlmError::Config(message) => LlmError::Config(s(message)),
            LlmError::RetriesExhausted {
                attempts,
                waited,
                last,
            } => LlmError::RetriesExhausted {
                attempts,
                waited,
                last: Box::new(last.scrubbed(secret)),
            },
        }
    }

    /// The server's `Retry-After` hint, if this is (or wraps) a rate limit that carried one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.root() {
            LlmError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let server = LlmError::Server {
            status: 503,
            message: "down".into(),
        };
        assert!(server.is_infrastructure() && server.is_retryable());
        let bad = LlmError::BadRequest {
            status: 400,
            kind: Some("invalid_request_error".into()),
            message: "max_tokens: field required".into(),
        };
        assert!(!bad.is_infrastructure() && !bad.is_retryable());
        assert_eq!(
            bad.to_string(),
            "request rejected (HTTP 400, invalid_request_error): max_tokens: field required"
        );
        let wrapped = LlmError::RetriesExhausted {
            attempts: 3,
            waited: Duration::from_millis(30),
            last: Box::new(LlmError::RateLimited {
                status: 429,
                retry_after: Some(Duration::from_secs(7)),
                message: "slow down".into(),
            }),
        };
        assert!(wrapped.is_infrastructure());
        assert!(!wrapped.is_retryable());
        assert_eq!(wrapped.attempts(), 3);
        assert_eq!(wrapped.status(), Some(429));
        assert_eq!(wrapped.retry_after(), Some(Duration::from_secs(7)));
        assert!(wrapped.to_string().contains("retry after 7s"));
    }
}
