//! The `search` tool: fixed-string grep over the repository.
//!
//! A fixed string, not a regex, because small models write broken regexes (unescaped `(`,
//! `.`) and then conclude the code is absent. Results are capped so one broad search cannot
//! flood the context; past the cap the model gets per-file counts to narrow down with.

use std::fmt::Write as _;
use std::time::Duration;

use apprentice_sandbox::Sandbox;

use super::paths::check_path;
use super::{Args, Observation, ToolError, file_error};
use crate::shell::shell_quote;
use crate::standard::SEARCH_MAX_MATCHES;

/// Characters of a matching line shown.
const MATCH_MAX_CHARS: usize = 300;
const SEARCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Files listed with their match counts when there are too many matches.
const COUNT_FILES: usize = 20;

pub(super) async fn run(sandbox: &dyn Sandbox, args: &Args<'_>) -> Result<Observation, ToolError> {
    let pattern = args.text("pattern");
    if let Some(problem) = pattern_problem(pattern) {
        return Ok(Observation::text(problem));
    }
    let path = match check_path(args.optional("path").unwrap_or(".")) {
        Ok(path) => path,
        Err(message) => return Ok(Observation::text(message)),
    };
    match sandbox.exists(&path).await {
        Ok(true) => {}
        Ok(false) => return Ok(Observation::text(format!("Path not found: {path}"))),
        Err(e) => return file_error(e, &path),
    }
    let out = sandbox
        .exec(&grep_command(pattern, &path), SEARCH_TIMEOUT)
        .await?;
    if out.timed_out {
        return Ok(Observation::text(format!(
            "The search timed out after {} s. Search a smaller path.",
            SEARCH_TIMEOUT.as_secs()
        )));
    }
    let matches: Vec<String> = out.output.lines().filter_map(format_match).collect();
    if matches.is_empty() {
        return Ok(Observation::text(format!(
            "No matches found for \"{pattern}\" in {path}."
        )));
    }
    let mut text = format_results(pattern, &path, &matches);
    if matches.len() > SEARCH_MAX_MATCHES {
        text.push_str(&file_counts(sandbox, pattern, &path).await?);
    }
    Ok(Observation::text(text))
}

fn pattern_problem(pattern: &str) -> Option<String> {
    if pattern.is_empty() {
        return Some("The search pattern is empty.".into());
    }
    if pattern.contains('\n') {
        return Some(
            "The search pattern must be a single line; search for one distinctive line.".into(),
        );
    }
    None
}

/// `grep` for a fixed string, recursively, with line numbers, skipping binary files and
/// `.git`; one more line than the cap so we know whether there were more.
pub(crate) fn grep_command(pattern: &str, path: &str) -> String {
    format!(
        "grep -rnIF --exclude-dir=.git -e {} -- {} 2>/dev/null | head -n {} | cut -c1-{}",
        shell_quote(pattern),
        shell_quote(path),
        SEARCH_MAX_MATCHES + 1,
        MATCH_MAX_CHARS * 4
    )
}

fn format_results(pattern: &str, path: &str, matches: &[String]) -> String {
    let shown = matches.len().min(SEARCH_MAX_MATCHES);
    let mut text = match matches.len() > SEARCH_MAX_MATCHES {
        true => format!(
            "More than {SEARCH_MAX_MATCHES} matches for \"{pattern}\" in {path}; showing the \
             first {SEARCH_MAX_MATCHES}. Narrow your search with a more specific pattern or path.\n"
        ),
        false => format!("{shown} matches for \"{pattern}\" in {path}:\n"),
    };
    for m in &matches[..shown] {
        let _ = writeln!(text, "{m}");
    }
    text
}

/// Per-file match counts, largest first, to help narrow a search that hit the cap.
async fn file_counts(
    sandbox: &dyn Sandbox,
    pattern: &str,
    path: &str,
) -> Result<String, ToolError> {
    let command = format!(
        "grep -rcIF --exclude-dir=.git -e {} -- {} 2>/dev/null | grep -v ':0$' | \
         sort -t: -k2,2 -nr | head -n {COUNT_FILES}",
        shell_quote(pattern),
        shell_quote(path)
    );
    let out = sandbox.exec(&command, SEARCH_TIMEOUT).await?;
    let mut text = String::from("Matches per file (most first):\n");
    for line in out.output.lines() {
        let line = line.strip_prefix("./").unwrap_or(line);
        if let Some((file, count)) = line.rsplit_once(':') {
            let _ = writeln!(text, "{file}: {count}");
        }
    }
    Ok(text)
}

/// `file:line:text` from grep as `file:line: text`, clipped; `None` for lines that are not
/// matches. The line number is the first `:DIGITS:` group, which keeps file names with
/// colons (rare) intact as long as they hold no such group.
pub(crate) fn format_match(line: &str) -> Option<String> {
    let (file, number, text) = split_match(line)?;
    let file = file.strip_prefix("./").unwrap_or(file);
    let text = match text.char_indices().nth(MATCH_MAX_CHARS) {
        Some((i, _)) => format!("{} …", &text[..i]),
        None => text.to_string(),
    };
    Some(format!("{file}:{number}: {text}"))
}

fn split_match(line: &str) -> Option<(&str, &str, &str)> {
    for (i, _) in line.match_indices(':') {
        let rest = &line[i + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest[digits..].starts_with(':') {
            return Some((&line[..i], &rest[..digits], &rest[digits + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_grep_lines() {
        assert_eq!(
            format_match("./src/a.py:12:    x = 1").as_deref(),
            Some("src/a.py:12:     x = 1")
        );
        assert_eq!(
            format_match("weird:name.py:3:a:1:b").as_deref(),
            Some("weird:name.py:3: a:1:b")
        );
        assert_eq!(format_match("[... 10 bytes of output elided ...]"), None);
    }

    #[test]
    fn rejects_unusable_patterns() {
        assert!(pattern_problem("").is_some());
        assert!(pattern_problem("a\nb").is_some());
        assert!(pattern_problem("-rf").is_none());
    }
}
