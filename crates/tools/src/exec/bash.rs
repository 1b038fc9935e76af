//! The `bash` tool.
//!
//! Commands run without a terminal and are killed at their timeout, so an editor or a REPL
//! would only burn the whole timeout and teach the model nothing. We refuse those up front
//! with an explanation of what to do instead (SWE-agent's blocklist, narrowed to what hangs).

use std::time::Duration;

use apprentice_sandbox::{ExecOutput, Sandbox};

use super::{Args, Observation, ToolError};
use crate::standard::BASH_DEFAULT_TIMEOUT_S;

/// Programs that need a terminal whatever their arguments.
const ALWAYS_INTERACTIVE: &[&str] = &[
    "vim", "vi", "nvim", "nano", "emacs", "pico", "less", "more", "top", "htop", "watch",
];

/// Programs that start an interactive session when given no arguments and no piped input.
const BARE_INTERACTIVE: &[&str] = &[
    "python", "python2", "python3", "ipython", "bash", "sh", "zsh", "node", "irb",
];

/// Words that run the next word as the command.
const PREFIXES: &[&str] = &[
    "sudo", "env", "time", "exec", "command", "nice", "{", "!", "if", "then", "else", "do",
    "while", "until",
];

pub(super) async fn run(sandbox: &dyn Sandbox, args: &Args<'_>) -> Result<Observation, ToolError> {
    let command = args.text("command");
    if command.trim().is_empty() {
        return Ok(Observation::text("The command is empty."));
    }
    if let Some(reason) = interactive_reason(command) {
        return Ok(Observation::text(format!(
            "The command was not run: {reason}"
        )));
    }
    let seconds = args.number("timeout").unwrap_or(BASH_DEFAULT_TIMEOUT_S);
    match sandbox.exec(command, Duration::from_secs(seconds)).await {
        Ok(out) => Ok(Observation {
            text: format_output(&out, seconds),
            submitted: false,
            exit_code: out.exit_code,
        }),
        Err(e) => Err(ToolError::Sandbox(e)),
    }
}

/// The observation for a finished (or killed) command.
pub(crate) fn format_output(out: &ExecOutput, seconds: u64) -> String {
    let output = out.output.trim_end();
    if out.timed_out {
        let mut text = format!(
            "The command timed out after {seconds} s and was killed. Give it a larger timeout \
             (at most {} s) or do less in one command.",
            crate::standard::BASH_MAX_TIMEOUT_S
        );
        if !output.is_empty() {
            text.push_str(&format!("\nOutput before the timeout:\n{output}"));
        }
        return text;
    }
    match (out.exit_code, output.is_empty()) {
        (Some(0), true) => "Your command ran successfully and did not produce any output.".into(),
        (Some(code), true) => format!("Exit code: {code}\n(no output)"),
        (Some(code), false) => format!("Exit code: {code}\n{output}"),
        (None, true) => "The command was killed by a signal.".into(),
        (None, false) => format!("The command was killed by a signal.\n{output}"),
    }
}

/// Why `command` would hang waiting for a terminal, if it would.
pub fn interactive_reason(command: &str) -> Option<String> {
    for (words, piped) in simple_commands(command) {
        if words.iter().any(|w| w.contains("<<")) {
            // A heredoc body follows: its lines are data, not commands.
            return None;
        }
        if let Some(reason) = check_words(&words, piped) {
            return Some(reason);
        }
    }
    None
}

fn check_words(words: &[String], piped: bool) -> Option<String> {
    let start = words.iter().position(|w| !is_prefix(w))?;
    let program = words[start].rsplit('/').next().unwrap_or_default();
    let rest = &words[start + 1..];
    if ALWAYS_INTERACTIVE.contains(&program) {
        return Some(format!(
            "`{program}` is interactive and would hang (there is no terminal). Read files with \
             `view` and edit them with `str_replace` or `create`; use `cat` or `head` for output."
        ));
    }
    if BARE_INTERACTIVE.contains(&program) && rest.is_empty() && !piped {
        return Some(format!(
            "`{program}` without arguments starts an interactive session, which would hang. Run \
             a script (`{program} script`) or pass code with `-c`."
        ));
    }
    let follows = |w: &String| w == "-f" || w == "-F" || w.starts_with("--follow");
    if program == "tail" && rest.iter().any(follows) {
        return Some("`tail -f` never exits. Use `tail -n 50 FILE` instead.".into());
    }
    None
}

/// Environment assignments (`FOO=1`) and wrappers (`sudo`, `env`) before the program.
fn is_prefix(word: &str) -> bool {
    PREFIXES.contains(&word)
        || word.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// Splits a command line into simple commands at unquoted `;`, `&`, `|`, newlines, parens and
/// backticks; each with its words and whether its input is piped from the one before.
fn simple_commands(command: &str) -> Vec<(Vec<String>, bool)> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut piped = false;
    let mut last_separator = None;
    for c in command.chars() {
        if escaped {
            escaped = false;
            current.push(c);
            continue;
        }
        match (quote, c) {
            (Some('\''), '\'') => quote = None,
            (Some('\''), _) => {}
            (_, '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, ';' | '&' | '|' | '\n' | '(' | ')' | '`') => {
                // `a | b` pipes into b; the second `|` of `a || b` does not.
                let or_operator = c == '|' && current.is_empty() && last_separator == Some('|');
                parts.push((words(&current), piped));
                piped = c == '|' && !or_operator;
                last_separator = Some(c);
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push((words(&current), piped));
    parts
}

fn words(part: &str) -> Vec<String> {
    part.split_whitespace()
        .map(|w| w.trim_matches(|c| c == '"' || c == '\'').to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_commands_that_wait_for_a_terminal() {
        for command in [
            "vim src/a.py",
            "cd src && nano a.py",
            "python",
            "python3",
            "  bash  ",
            "ipython",
            "tail -f log.txt",
            "FOO=1 less README",
            "sudo /usr/bin/vi x",
            "ls; top",
            "false || python",
        ] {
            assert!(interactive_reason(command).is_some(), "{command:?} allowed");
        }
    }

    #[test]
    fn allows_ordinary_commands() {
        for command in [
            "python -c 'print(1)'",
            "python3 script.py",
            "echo 'a && vim x'",
            "echo \"less; more\"",
            "git log --oneline | head",
            "echo print(1) | python3",
            "grep -rn vim .",
            "tail -n 20 log.txt",
            "cat <<'EOF' > a.txt\npython\nvim\nEOF",
            "bash run_tests.sh",
            "pytest -x tests/test_a.py",
        ] {
            assert_eq!(interactive_reason(command), None, "{command:?} refused");
        }
    }

    fn out(exit_code: Option<i32>, output: &str, timed_out: bool) -> ExecOutput {
        ExecOutput {
            exit_code,
            output: output.to_string(),
            timed_out,
            elided_bytes: 0,
        }
    }

    #[test]
    fn formats_results() {
        assert_eq!(
            format_output(&out(Some(0), "", false), 60),
            "Your command ran successfully and did not produce any output."
        );
        assert_eq!(
            format_output(&out(Some(2), "boom\n", false), 60),
            "Exit code: 2\nboom"
        );
        assert_eq!(
            format_output(&out(Some(1), "\n", false), 60),
            "Exit code: 1\n(no output)"
        );
        let timeout = format_output(&out(None, "partial", true), 5);
        assert!(timeout.starts_with("The command timed out after 5 s and was killed."));
        assert!(timeout.ends_with("Output before the timeout:\npartial"));
    }
}
