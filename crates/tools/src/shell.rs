//! Building shell command lines from untrusted text.

/// Quotes `s` as one bash word. Plain words (letters, digits, `-_./=:,+@%`) stay as they
/// are for readable logs; anything else is wrapped in single quotes, inside which bash gives
/// no character a special meaning, with each `'` written as `'\''`. The result is safe for
/// any string without a NUL byte (which no command argument can hold).
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}
