//! Checks a parsed call must pass before anyone judges it: slips a machine can catch are
//! format errors, answered deterministically, never supervisor interventions.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::{FormatError, ParsedCall, Repair};

/// Rejects a call the parser had to complete after the reply hit its token limit (the missing
/// part may have mattered), and a `bash` command that bash cannot parse.
pub fn vet_call(parsed: ParsedCall, truncated: bool) -> Result<ParsedCall, FormatError> {
    if truncated && parsed.repairs.contains(&Repair::AddedClosingTag) {
        return Err(FormatError::Truncated);
    }
    if parsed.call.name == "bash"
        && let Some(command) = parsed.call.get("command")
        && let Some(problem) = bash_syntax_error(command)
    {
        return Err(FormatError::BashSyntax(problem));
    }
    Ok(parsed)
}

/// `bash -n` on the host: syntax does not depend on the sandbox, and a host process is cheaper
/// than a sandbox exec. `None` when the command parses, or when bash is unavailable.
pub fn bash_syntax_error(command: &str) -> Option<String> {
    let mut child = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(command.as_bytes());
    }
    let output = child.wait_with_output().ok()?;
    if output.status.success() {
        return None;
    }
    let message = String::from_utf8_lossy(&output.stderr);
    let first = message.lines().next().unwrap_or("syntax error").trim();
    Some(first.trim_start_matches("bash: ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ToolCatalog, parse_tool_call};

    fn parsed(text: &str) -> ParsedCall {
        parse_tool_call(text, &ToolCatalog::standard()).unwrap()
    }

    #[test]
    fn bash_syntax_errors_are_format_errors() {
        assert_eq!(bash_syntax_error("ls -la | grep x"), None);
        assert_eq!(bash_syntax_error("for f in *; do echo $f; done"), None);
        let problem = bash_syntax_error("if [ -f x ]; then echo").unwrap();
        assert!(problem.contains("syntax error"), "{problem}");
        let call = parsed(
            "<tool_call>\n<function=bash>\n<parameter=command>\necho 'unclosed\n</parameter>\n</function>\n</tool_call>",
        );
        assert!(matches!(
            vet_call(call, false),
            Err(FormatError::BashSyntax(_))
        ));
    }

    #[test]
    fn a_repaired_call_in_a_truncated_reply_is_rejected() {
        let cut = "<tool_call>\n<function=view>\n<parameter=path>\na.py";
        assert!(vet_call(parsed(cut), false).is_ok());
        assert_eq!(
            vet_call(parsed(cut), true).unwrap_err(),
            FormatError::Truncated
        );
        let whole = "<tool_call>\n<function=view>\n<parameter=path>\na.py\n</parameter>\n</function>\n</tool_call>";
        assert!(vet_call(parsed(whole), true).is_ok());
    }
}
