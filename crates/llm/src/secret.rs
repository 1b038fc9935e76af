//! [`Secret`]: an API key that cannot leak through `Debug`, `Display` or logs.

use std::fmt;

/// Text shown in place of a secret.
pub const REDACTED: &str = "[REDACTED]";

/// An API key (or any credential).
///
/// `Debug` and `Display` both print [`REDACTED`], so a key stored in a client, an error or a
/// config struct never reaches a log line or a panic message by accident. The only way to
/// read the value is [`Secret::expose`], which is called exactly where a header is built.
/// `Serialize` is deliberately not implemented, so a key cannot be written into a run record
/// by deriving `Serialize` on a struct that holds one.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value. Call only to build the request header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the credential is the empty string (treated as "no key").
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replaces every occurrence of this secret in `text` by [`REDACTED`].
    ///
    /// Servers sometimes echo the key they rejected (OpenAI's 401 message does, partly
    /// masked; a misconfigured proxy may echo it whole); error messages pass through this
    /// before they are stored in an [`crate::LlmError`].
    pub fn scrub(&self, text: &str) -> String {
        // Very short "keys" (e.g. the dummy "x" given to local servers) would shred ordinary
        // words; such values are not credentials worth hiding.
        if self.0.len() < 4 {
            return text.to_owned();
        }
        text.replace(&self.0, REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = Secret::new("sk-ant-very-secret-123");
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(
            format!("{:?}", Some(s.clone())),
            format!("Some({REDACTED})")
        );
        assert_eq!(s.expose(), "sk-ant-very-secret-123");
    }

    #[test]
    fn scrub_removes_the_key_from_text() {
        let s = Secret::new("sk-abc-123");
        assert_eq!(
            s.scrub("Incorrect API key provided: sk-abc-123."),
            format!("Incorrect API key provided: {REDACTED}.")
        );
        // Tiny dummy keys are left alone.
        assert_eq!(Secret::new("x").scrub("xx"), "xx");
    }
}
