//! The agent's side of the benchmark: a handful of meta-tools through which the environment's
//! own tools are found (`list_tools`, `help`) and used (`call`), plus `finish`, the optional
//! `bash` of the realism variant and the optional campaign memory.
//!
//! Calls arrive through the same parser and catalog as every other tool set, so format errors,
//! supervision and training export work unchanged.

use std::path::PathBuf;
use std::time::Duration;

use apprentice_sandbox::Sandbox;
use apprentice_tools::{
    Observation, ParamSpec, ToolCall, ToolCatalog, ToolError, ToolSet, ToolSpec, neutralize,
    shell_quote,
};
use async_trait::async_trait;

use crate::task::ToolDef;

/// How long one tool call or `bash` command may run.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The most text the memory file keeps; the rest of a longer note is dropped.
pub const MEMORY_MAX_CHARS: usize = 4000;

/// Which optional tools an episode offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolOptions {
    /// The realism variant: a shell in WORKDIR next to the typed tools.
    pub bash: bool,
    /// The campaign's memory file; `None` offers no memory tools.
    pub memory: Option<PathBuf>,
}

/// The discovery tool set of one task.
#[derive(Debug, Clone)]
pub struct DiscoveryTools {
    catalog: ToolCatalog,
    offered: Vec<ToolDef>,
    memory: Option<PathBuf>,
}

impl DiscoveryTools {
    pub fn new(offered: Vec<ToolDef>, options: &ToolOptions) -> Self {
        DiscoveryTools {
            catalog: catalog(options),
            offered,
            memory: options.memory.clone(),
        }
    }

    fn offered(&self, name: &str) -> Option<&ToolDef> {
        self.offered.iter().find(|t| t.name == name.trim())
    }

    fn list(&self) -> String {
        let width = self.offered.iter().map(|t| t.name.len()).max().unwrap_or(0);
        let lines: Vec<String> = self
            .offered
            .iter()
            .map(|t| format!("  {:width$}  {}", t.name, t.summary))
            .collect();
        format!(
            "Tools in this environment (`help` shows one tool's usage, `call` runs it):\n{}",
            lines.join("\n")
        )
    }

    fn help(&self, name: &str) -> String {
        if let Some(tool) = self.offered(name) {
            return format!("{}: {}\n\n{}", tool.name, tool.summary, tool.help);
        }
        match self.catalog.tool_help(name) {
            Some(text) => text,
            None => not_offered(name),
        }
    }

    async fn call(&self, call: &ToolCall, sandbox: &dyn Sandbox) -> Result<Observation, ToolError> {
        let name = call.get("name").unwrap_or_default();
        let Some(tool) = self.offered(name) else {
            return Ok(Observation::text(not_offered(name)));
        };
        let args = match split_args(call.get("args").unwrap_or_default()) {
            Ok(args) => args,
            Err(problem) => return Ok(Observation::text(format!("error: args: {problem}"))),
        };
        let argv: Vec<String> = tool
            .command
            .iter()
            .chain(&args)
            .map(|a| shell_quote(a))
            .collect();
        let out = sandbox
            .exec(&format!("exec {}", argv.join(" ")), CALL_TIMEOUT)
            .await?;
        Ok(Observation {
            text: render_exit(out.exit_code, out.timed_out, &out.output),
            submitted: false,
            exit_code: out.exit_code,
        })
    }

    async fn bash(&self, call: &ToolCall, sandbox: &dyn Sandbox) -> Result<Observation, ToolError> {
        let command = call.get("command").unwrap_or_default();
        let out = sandbox.exec(command, CALL_TIMEOUT).await?;
        Ok(Observation {
            text: render_exit(out.exit_code, out.timed_out, &out.output),
            submitted: false,
            exit_code: out.exit_code,
        })
    }

    fn memory(&self, call: &ToolCall) -> Result<Observation, ToolError> {
        let Some(path) = &self.memory else {
            return Ok(Observation::text("error: this episode has no memory"));
        };
        if call.name == "write_memory" {
            let text: String = call
                .get("text")
                .unwrap_or_default()
                .chars()
                .take(MEMORY_MAX_CHARS)
                .collect();
            std::fs::write(path, &text).map_err(|e| ToolError::Sandbox(e.into()))?;
            return Ok(Observation::text(format!(
                "Memory saved ({} characters). It will be there in your next episode.",
                text.chars().count()
            )));
        }
        let text = std::fs::read_to_string(path).unwrap_or_default();
        Ok(Observation::text(if text.trim().is_empty() {
            "(memory is empty)".to_string()
        } else {
            neutralize(&text)
        }))
    }
}

/// The answer to a call of a tool the environment does not offer: a hallucinated tool call.
fn not_offered(name: &str) -> String {
    format!(
        "error: there is no tool named `{}` here. Call list_tools to see the tools this environment offers.",
        neutralize(name.trim())
    )
}

/// `exit N` and the output, as the contract shows a tool's result.
fn render_exit(exit_code: Option<i32>, timed_out: bool, output: &str) -> String {
    let status = match (exit_code, timed_out) {
        (_, true) => format!("timed out after {}s (killed)", CALL_TIMEOUT.as_secs()),
        (Some(code), _) => format!("exit {code}"),
        (None, _) => "killed by a signal".to_string(),
    };
    format!("{status}\n{}", neutralize(output.trim_end()))
}

#[async_trait]
impl ToolSet for DiscoveryTools {
    fn catalog(&self) -> &ToolCatalog {
        &self.catalog
    }

    async fn execute(
        &self,
        call: &ToolCall,
        sandbox: &dyn Sandbox,
    ) -> Result<Observation, ToolError> {
        match call.name.as_str() {
            "list_tools" => Ok(Observation::text(self.list())),
            "help" => Ok(Observation::text(
                self.help(call.get("name").unwrap_or_default()),
            )),
            "call" => self.call(call, sandbox).await,
            "bash" => self.bash(call, sandbox).await,
            "read_memory" | "write_memory" => self.memory(call),
            "finish" => Ok(Observation {
                text: "Finished.".into(),
                submitted: true,
                exit_code: None,
            }),
            other => Ok(Observation::text(not_offered(other))),
        }
    }
}

/// The meta-tools, with `bash` and memory only when the options say so.
pub fn catalog(options: &ToolOptions) -> ToolCatalog {
    let mut tools = vec![
        ToolSpec::new(
            "list_tools",
            "List the tools this environment offers, one line each.",
        ),
        ToolSpec::new("help", "Show how to use one of the environment's tools.")
            .param(ParamSpec::string("name", "The tool's name, as list_tools shows it.")),
        ToolSpec::new(
            "call",
            "Run one of the environment's tools with arguments; shows its exit code and output.",
        )
        .param(ParamSpec::string("name", "The tool's name, as list_tools shows it."))
        .param(
            ParamSpec::string(
                "args",
                "The tool's arguments, separated by spaces (quote an argument that contains spaces).",
            )
            .default_value(""),
        ),
    ];
    if options.bash {
        tools.push(
            ToolSpec::new(
                "bash",
                "Run a shell command in the working directory; shows the exit code and output.",
            )
            .param(ParamSpec::string("command", "The command to run."))
            .alias("execute_bash"),
        );
    }
    if options.memory.is_some() {
        tools.push(ToolSpec::new(
            "read_memory",
            "Read the notes you saved in earlier episodes.",
        ));
        tools.push(
            ToolSpec::new(
                "write_memory",
                "Replace your notes with new text; they are kept for your next episodes.",
            )
            .param(ParamSpec::string(
                "text",
                "What to remember (at most 4000 characters).",
            )),
        );
    }
    tools.push(
        ToolSpec::new("finish", "End the episode once the task is done.")
            .param(ParamSpec::string("summary", "One line saying what you did.").default_value(""))
            .alias("submit"),
    );
    let mut catalog = ToolCatalog::new(tools)
        .with_example(
            "to run a tool named NAME with the arguments `status --all`:",
            ToolCall::new("call").arg("name", "NAME").arg("args", "status --all"),
        )
        .with_rule("The environment's own tools are not listed here: call list_tools to find them, help to learn one, call to run it.")
        .with_rule("When the task is done, call finish.");
    if options.memory.is_some() {
        catalog = catalog.with_rule(
            "Read your memory first; before you finish, write down what you learned about the tools.",
        );
    }
    catalog
}

/// Splits a `call`'s `args`: a JSON array of strings, or words separated by spaces where
/// single quotes, double quotes and backslashes work as in a POSIX shell.
pub fn split_args(text: &str) -> Result<Vec<String>, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('[')
        && let Ok(words) = serde_json::from_str::<Vec<String>>(trimmed)
    {
        return Ok(words);
    }
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = trimmed.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("a single quote is not closed".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err("a double quote is not closed".into()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("a double quote is not closed".into()),
                    }
                }
            }
            '\\' => {
                let w = word.get_or_insert_with(String::new);
                match chars.next() {
                    Some(c) => w.push(c),
                    None => w.push('\\'),
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// The inverse of [`split_args`]: words joined by spaces, quoted only where needed.
pub fn join_args(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_split_like_a_shell_and_round_trip() {
        assert_eq!(
            split_args(r#" config set 'a b' "c \"d\"" e\ f "#).unwrap(),
            ["config", "set", "a b", "c \"d\"", "e f"]
        );
        assert_eq!(split_args(r#"["x y", "z"]"#).unwrap(), ["x y", "z"]);
        assert_eq!(split_args("''").unwrap(), [""]);
        assert!(split_args("'open").is_err());
        let words: Vec<String> = ["plugins", "it's", "", "a=b"].map(String::from).to_vec();
        assert_eq!(split_args(&join_args(&words)).unwrap(), words);
    }

    #[test]
    fn optional_tools_appear_only_when_asked_for() {
        let plain = catalog(&ToolOptions::default()).names();
        assert_eq!(plain, ["list_tools", "help", "call", "finish"]);
        let full = catalog(&ToolOptions {
            bash: true,
            memory: Some(PathBuf::from("m")),
        })
        .names();
        assert!(full.contains(&"bash".to_string()) && full.contains(&"write_memory".to_string()));
    }
}
