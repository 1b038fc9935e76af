//! Paths the model gives, checked before the sandbox sees them.
//!
//! The sandbox enforces the boundary too; checking here lets us answer with a message that
//! teaches the convention (relative to the repository root) instead of a bare refusal.

/// Normalizes a path relative to the repository root (`./a/../b` → `b`, `.` for the root),
/// or explains why it is refused: empty, absolute, home-relative, or leaving the root.
pub(crate) fn check_path(raw: &str) -> Result<String, String> {
    let path = raw.trim();
    if path.is_empty() {
        return Err("The path is empty. Give a path relative to the repository root.".into());
    }
    if path.starts_with('/') || path.starts_with('~') {
        return Err(format!(
            "Absolute paths are not allowed: `{path}`. Give the path relative to the \
             repository root, e.g. `src/module.py`."
        ));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(outside_message(path));
                }
            }
            other => parts.push(other),
        }
    }
    Ok(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

pub(crate) fn outside_message(path: &str) -> String {
    format!(
        "The path `{path}` leads outside the repository. Give a path inside it, relative to \
         the repository root."
    )
}

#[cfg(test)]
mod tests {
    use super::check_path;

    #[test]
    fn normalizes_relative_paths() {
        assert_eq!(check_path(" src/a.py ").as_deref(), Ok("src/a.py"));
        assert_eq!(check_path("./src//b/../a.py").as_deref(), Ok("src/a.py"));
        assert_eq!(check_path(".").as_deref(), Ok("."));
        assert_eq!(check_path("a/..").as_deref(), Ok("."));
    }

    #[test]
    fn refuses_escapes() {
        for bad in [
            "",
            "  ",
            "/etc/passwd",
            "~/x",
            "..",
            "a/../../b",
            "../repo/x",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?} accepted");
        }
    }
}
