//! The standard tool set for repository tasks: explore, edit, run, submit.

use crate::call::ToolCall;
use crate::catalog::{ParamSpec, ToolCatalog, ToolSpec};

/// Default and maximum `bash` timeouts, in seconds.
pub const BASH_DEFAULT_TIMEOUT_S: u64 = 60;
pub const BASH_MAX_TIMEOUT_S: i64 = 600;
/// Lines `view` shows when no `end_line` is given (SWE-agent's window).
pub const VIEW_WINDOW: usize = 100;
/// Matches `search` prints before asking the model to narrow the search.
pub const SEARCH_MAX_MATCHES: usize = 50;
/// Lines of context shown around a `str_replace` edit.
pub const SNIPPET_CONTEXT: usize = 4;

pub(crate) fn catalog() -> ToolCatalog {
    ToolCatalog::new(vec![
        list_tools(),
        help(),
        bash(),
        view(),
        search(),
        str_replace(),
        create(),
        submit(),
    ])
    .with_example(
        "to see the first 40 lines of a file:",
        ToolCall::new("view")
            .arg("path", "src/main.py")
            .arg("start_line", "1")
            .arg("end_line", "40"),
    )
    .with_rule("Paths are relative to the repository root.")
    .with_rule("Each bash command runs in a fresh shell: `cd` and `export` do not carry over.")
    .with_rule("Edit files with str_replace and create, not with shell redirection or sed.")
    .with_rule("When the fix is done and tested, call submit.")
}

fn list_tools() -> ToolSpec {
    ToolSpec::new(
        "list_tools",
        "List the available tools and their arguments.",
    )
}

fn help() -> ToolSpec {
    ToolSpec::new("help", "Show how to call one tool.")
        .param(ParamSpec::string("tool", "Name of the tool."))
}

fn bash() -> ToolSpec {
    ToolSpec::new(
        "bash",
        "Run a shell command with bash at the repository root; shows the exit code and the \
         output (stdout and stderr together, long output cut in the middle). Interactive \
         programs (editors, pagers, a bare python or bash) are refused: run scripts and tests.",
    )
    .param(ParamSpec::string(
        "command",
        "The command to run; several lines are allowed.",
    ))
    .param(
        ParamSpec::integer("timeout", "Seconds before the command is killed.")
            .default_value(&BASH_DEFAULT_TIMEOUT_S.to_string())
            .min(1)
            .max(BASH_MAX_TIMEOUT_S),
    )
    .alias("execute_bash")
}

fn view() -> ToolSpec {
    ToolSpec::new(
        "view",
        "Show a file with line numbers, 100 lines at a time, or list a directory.",
    )
    .param(ParamSpec::string(
        "path",
        "File or directory, relative to the repository root.",
    ))
    .param(
        ParamSpec::integer("start_line", "First line to show.")
            .default_value("1")
            .min(1),
    )
    .param(
        ParamSpec::integer("end_line", "Last line to show (default: start_line + 99).")
            .optional()
            .min(1),
    )
}

fn search() -> ToolSpec {
    ToolSpec::new(
        "search",
        "Find an exact text (not a regular expression) in the files under a path; prints \
         `file:line: text` for each match, at most 50.",
    )
    .param(ParamSpec::string(
        "pattern",
        "The exact text to find, on one line.",
    ))
    .param(
        ParamSpec::string(
            "path",
            "File or directory to search, relative to the repository root.",
        )
        .default_value("."),
    )
}

fn str_replace() -> ToolSpec {
    ToolSpec::new(
        "str_replace",
        "Replace text in a file. old_str must match the file exactly once, whitespace and \
         indentation included: add surrounding lines to make it unique. Shows the edited lines.",
    )
    .param(ParamSpec::string(
        "path",
        "File to edit, relative to the repository root.",
    ))
    .param(ParamSpec::string("old_str", "The exact text to replace."))
    .param(ParamSpec::string(
        "new_str",
        "The replacement text; empty to delete old_str.",
    ))
}

fn create() -> ToolSpec {
    ToolSpec::new(
        "create",
        "Create a new file with the given content. Existing files are never overwritten: edit \
         them with str_replace.",
    )
    .param(ParamSpec::string(
        "path",
        "New file, relative to the repository root.",
    ))
    .param(ParamSpec::string(
        "content",
        "The whole content of the file.",
    ))
}

fn submit() -> ToolSpec {
    ToolSpec::new(
        "submit",
        "Submit your changes as the final answer and end the task.",
    )
    .alias("finish")
}
