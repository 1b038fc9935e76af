//! `view`, `str_replace` and `create`: reading and editing files through the sandbox.
//!
//! The rendering and replacement logic are pure functions over text, so they are tested
//! without a sandbox; the async wrappers only move bytes and map errors.

use std::fmt::Write as _;
use std::time::Duration;

use apprentice_sandbox::{Sandbox, SandboxError};

use super::paths::check_path;
use super::{Args, Observation, ToolError, file_error, not_text};
use crate::shell::shell_quote;
use crate::standard::{SNIPPET_CONTEXT, VIEW_WINDOW};

/// Most lines one `view` shows even when `end_line` asks for more.
pub const VIEW_MAX_LINES: usize = 1000;
/// Characters of one line shown before it is clipped (minified files).
pub const LINE_MAX_CHARS: usize = 2000;
/// Entries listed for a directory.
const DIR_MAX_ENTRIES: usize = 300;

pub(super) async fn view(sandbox: &dyn Sandbox, args: &Args<'_>) -> Result<Observation, ToolError> {
    let path = match check_path(args.text("path")) {
        Ok(path) => path,
        Err(message) => return Ok(Observation::text(message)),
    };
    let bytes = match read_bytes(sandbox, &path).await? {
        Read::Bytes(bytes) => bytes,
        Read::Directory => return list_directory(sandbox, &path).await,
        Read::Problem(obs) => return Ok(obs),
    };
    if is_binary(&bytes) {
        return Ok(Observation::text(not_text(&path)));
    }
    let start = args.number("start_line").unwrap_or(1) as usize;
    let end = args.number("end_line").map(|n| n as usize);
    let mut text = render_window(&path, &String::from_utf8_lossy(&bytes), start, end);
    if std::str::from_utf8(&bytes).is_err() {
        text.push_str(
            "\n(The file is not valid UTF-8: undecodable bytes are shown as \u{fffd}. It cannot be \
             edited with str_replace.)",
        );
    }
    Ok(Observation::text(text))
}

pub(super) async fn create(
    sandbox: &dyn Sandbox,
    args: &Args<'_>,
) -> Result<Observation, ToolError> {
    let path = match check_path(args.text("path")) {
        Ok(path) => path,
        Err(message) => return Ok(Observation::text(message)),
    };
    match sandbox.exists(&path).await {
        Ok(true) => return Ok(Observation::text(already_exists(&path))),
        Ok(false) => {}
        Err(e) => return file_error(e, &path),
    }
    let content = with_final_newline(args.text("content"));
    if let Err(e) = sandbox.write_file(&path, content.as_bytes()).await {
        return file_error(e, &path);
    }
    let lines = content.lines().count();
    Ok(Observation::text(format!(
        "File created successfully at: {path} ({lines} lines)"
    )))
}

pub(super) async fn str_replace(
    sandbox: &dyn Sandbox,
    args: &Args<'_>,
) -> Result<Observation, ToolError> {
    let path = match check_path(args.text("path")) {
        Ok(path) => path,
        Err(message) => return Ok(Observation::text(message)),
    };
    let bytes = match read_bytes(sandbox, &path).await? {
        Read::Bytes(bytes) => bytes,
        Read::Directory => {
            return Ok(Observation::text(format!(
                "`{path}` is a directory, not a file."
            )));
        }
        Read::Problem(obs) => return Ok(obs),
    };
    // Editing a lossily decoded file would corrupt its other bytes.
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok(Observation::text(not_text(&path)));
    };
    let edit = match replace_once(&text, args.text("old_str"), args.text("new_str")) {
        Ok(edit) => edit,
        Err(problem) => return Ok(Observation::text(problem.message(&path))),
    };
    if let Err(e) = sandbox.write_file(&path, edit.text.as_bytes()).await {
        return file_error(e, &path);
    }
    Ok(Observation::text(edited_message(&path, &edit)))
}

/// A file read, or why there is nothing to show.
enum Read {
    Bytes(Vec<u8>),
    Directory,
    Problem(Observation),
}

async fn read_bytes(sandbox: &dyn Sandbox, path: &str) -> Result<Read, ToolError> {
    match sandbox.read_file(path).await {
        Ok(bytes) => Ok(Read::Bytes(bytes)),
        Err(SandboxError::Io(e)) if e.kind() == std::io::ErrorKind::IsADirectory => {
            Ok(Read::Directory)
        }
        Err(e) => file_error(e, path).map(Read::Problem),
    }
}

/// A NUL byte near the start marks a binary file (git's heuristic).
fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8000).any(|&b| b == 0)
}

/// Lists a directory two levels deep, hidden entries excluded (as SWE-agent's editor does).
async fn list_directory(sandbox: &dyn Sandbox, path: &str) -> Result<Observation, ToolError> {
    let command = format!(
        "find {} -mindepth 1 -maxdepth 2 -not -path '*/.*' \\( -type d -printf '%p/\\n' -o \
         -printf '%p\\n' \\) | sort | head -n {}",
        shell_quote(path),
        DIR_MAX_ENTRIES + 1
    );
    let out = sandbox.exec(&command, Duration::from_secs(30)).await?;
    let entries: Vec<&str> = out
        .output
        .lines()
        .map(|l| l.strip_prefix("./").unwrap_or(l))
        .collect();
    let mut text = format!(
        "{path} is a directory. Files and directories up to 2 levels deep, hidden ones \
         excluded:\n"
    );
    for entry in entries.iter().take(DIR_MAX_ENTRIES) {
        let _ = writeln!(text, "{entry}");
    }
    if entries.len() > DIR_MAX_ENTRIES {
        let _ = writeln!(
            text,
            "(more than {DIR_MAX_ENTRIES} entries; view a subdirectory)"
        );
    }
    Ok(Observation::text(text.trim_end()))
}

/// The `view` observation for `start..=end` (1-based) of `text`.
pub fn render_window(path: &str, text: &str, start: usize, end: Option<usize>) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let total = lines.len();
    let header = format!("[File: {path} ({total} lines total)]");
    if total == 0 {
        return format!("{header}\n(the file is empty)");
    }
    let start = start.max(1);
    if start > total {
        return format!(
            "{header}\nstart_line {start} is past the end of the file ({total} lines)."
        );
    }
    let last = end.unwrap_or(start + VIEW_WINDOW - 1);
    if last < start {
        return format!("{header}\nend_line {last} is before start_line {start}.");
    }
    let last = last.min(total).min(start + VIEW_MAX_LINES - 1);
    let body = number_lines(&lines[start - 1..last], start);
    let footer = if last < total {
        format!(
            "(lines {start}-{last} of {total}; use start_line={} to see more)",
            last + 1
        )
    } else {
        format!("(lines {start}-{last} of {total}; end of file)")
    };
    format!("{header}\n{body}{footer}")
}

/// `cat -n` style numbering, the layout SWE-agent's and OpenHands' editors show.
fn number_lines(lines: &[&str], first: usize) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let _ = writeln!(out, "{:>6}\t{}", first + i, clip_line(line));
    }
    out
}

fn clip_line(line: &str) -> std::borrow::Cow<'_, str> {
    match line.char_indices().nth(LINE_MAX_CHARS) {
        Some((i, _)) => {
            let rest = line[i..].chars().count();
            format!("{} … [{rest} more characters]", &line[..i]).into()
        }
        None => line.into(),
    }
}

/// A successful replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The whole new file.
    pub text: String,
    /// 1-based lines of the new text that `new_str` occupies.
    pub first_line: usize,
    pub last_line: usize,
}

/// Why a replacement was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaceProblem {
    EmptyOldStr,
    NotFound { indentation_hint: Option<usize> },
    Multiple { lines: Vec<usize> },
}

impl ReplaceProblem {
    fn message(&self, path: &str) -> String {
        match self {
            ReplaceProblem::EmptyOldStr => {
                "No replacement was performed: old_str is empty. Give the exact text to replace."
                    .to_string()
            }
            ReplaceProblem::NotFound { indentation_hint } => {
                let mut text = format!(
                    "No replacement was performed: old_str did not appear verbatim in {path}."
                );
                if let Some(line) = indentation_hint {
                    let _ = write!(
                        text,
                        " The same lines with different indentation or spacing start at line \
                         {line}: copy the exact whitespace from `view`."
                    );
                }
                text
            }
            ReplaceProblem::Multiple { lines } => format!(
                "No replacement was performed: old_str appears {} times in {path}, at lines {}. \
                 Include more surrounding lines in old_str so it matches exactly once.",
                lines.len(),
                format_line_list(lines)
            ),
        }
    }
}

fn format_line_list(lines: &[usize]) -> String {
    const SHOWN: usize = 20;
    let shown: Vec<String> = lines.iter().take(SHOWN).map(usize::to_string).collect();
    let more = lines.len().saturating_sub(SHOWN);
    match more {
        0 => format!("[{}]", shown.join(", ")),
        n => format!("[{}, … {n} more]", shown.join(", ")),
    }
}

/// Replaces the only occurrence of `old` in `text` with `new`. Occurrences are counted with
/// overlaps (`aa` occurs twice in `aaa`), so "exactly once" means the edit is unambiguous.
pub fn replace_once(text: &str, old: &str, new: &str) -> Result<Edit, ReplaceProblem> {
    if old.is_empty() {
        return Err(ReplaceProblem::EmptyOldStr);
    }
    let positions = occurrences(text, old);
    match positions.as_slice() {
        [] => Err(ReplaceProblem::NotFound {
            indentation_hint: loose_match_line(text, old),
        }),
        [pos] => {
            let first_line = line_of(text, *pos);
            Ok(Edit {
                text: format!("{}{new}{}", &text[..*pos], &text[pos + old.len()..]),
                first_line,
                last_line: first_line + new.matches('\n').count(),
            })
        }
        many => Err(ReplaceProblem::Multiple {
            lines: many.iter().map(|&p| line_of(text, p)).collect(),
        }),
    }
}

/// Byte positions of every (possibly overlapping) occurrence of `needle`.
fn occurrences(text: &str, needle: &str) -> Vec<usize> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(needle) {
        found.push(from + i);
        // Step one character, not one byte, to stay on a char boundary.
        from += i + text[from + i..].chars().next().map_or(1, char::len_utf8);
    }
    found
}

/// 1-based line number of byte position `pos`.
fn line_of(text: &str, pos: usize) -> usize {
    text[..pos].matches('\n').count() + 1
}

/// The first line where `old`'s lines match with whitespace trimmed: the usual reason a small
/// model's `old_str` fails is indentation.
fn loose_match_line(text: &str, old: &str) -> Option<usize> {
    let wanted: Vec<&str> = old.lines().map(str::trim).collect();
    if wanted.iter().all(|l| l.is_empty()) {
        return None;
    }
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines
        .windows(wanted.len())
        .position(|window| window == wanted.as_slice())
        .map(|i| i + 1)
}

fn edited_message(path: &str, edit: &Edit) -> String {
    let lines: Vec<&str> = edit.text.lines().collect();
    let from = edit.first_line.saturating_sub(SNIPPET_CONTEXT).max(1);
    let to = (edit.last_line + SNIPPET_CONTEXT).min(lines.len());
    let snippet = if from <= to {
        number_lines(&lines[from - 1..to], from)
    } else {
        String::from("(the file is now empty)\n")
    };
    format!(
        "The file {path} has been edited. Here is the result of running `cat -n` on a snippet \
         of {path}:\n{snippet}Review the changes and make sure they are as expected. Edit the \
         file again if necessary."
    )
}

fn already_exists(path: &str) -> String {
    format!(
        "File already exists at: {path}. `create` never overwrites files: use `str_replace` to \
         edit it, or choose another path."
    )
}

/// Files end with a newline; the call format strips the one before `</parameter>`.
fn with_final_newline(content: &str) -> String {
    if content.is_empty() || content.ends_with('\n') {
        content.to_string()
    } else {
        format!("{content}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_once_reports_counts_and_lines() {
        let text = "a\nfoo\nb\nfoo\n";
        assert_eq!(
            replace_once(text, "foo", "x"),
            Err(ReplaceProblem::Multiple { lines: vec![2, 4] })
        );
        let edit = replace_once(text, "b\nfoo", "B\nF\nG").unwrap();
        assert_eq!(edit.text, "a\nfoo\nB\nF\nG\n");
        assert_eq!((edit.first_line, edit.last_line), (3, 5));
        assert_eq!(
            replace_once("aaa", "aa", "b"),
            Err(ReplaceProblem::Multiple { lines: vec![1, 1] })
        );
    }

    #[test]
    fn not_found_hints_at_indentation() {
        let text = "def f():\n    return 1\n";
        assert_eq!(
            replace_once(text, "def f():\n  return 1", "x"),
            Err(ReplaceProblem::NotFound {
                indentation_hint: Some(1)
            })
        );
        assert_eq!(
            replace_once(text, "nothing", "x"),
            Err(ReplaceProblem::NotFound {
                indentation_hint: None
            })
        );
    }

    #[test]
    fn occurrences_step_over_multibyte_characters() {
        assert_eq!(occurrences("ééé", "éé"), vec![0, 2]);
    }

    #[test]
    fn window_edges() {
        let text: String = (1..=5).map(|i| format!("line {i}\n")).collect();
        assert!(
            render_window("a", &text, 9, None).ends_with("past the end of the file (5 lines).")
        );
        assert!(
            render_window("a", &text, 4, Some(2)).ends_with("end_line 2 is before start_line 4.")
        );
        assert!(render_window("a", &text, 4, Some(99)).ends_with("(lines 4-5 of 5; end of file)"));
        assert_eq!(
            render_window("a", "", 1, None),
            "[File: a (0 lines total)]\n(the file is empty)"
        );
    }

    #[test]
    fn long_lines_are_clipped() {
        let line = "x".repeat(LINE_MAX_CHARS + 5);
        assert!(render_window("a", &line, 1, None).contains("… [5 more characters]"));
    }
}
