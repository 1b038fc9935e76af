//! Golden texts the model reads: help, the system-prompt section, error observations.

use apprentice_tools::{FormatError, ToolCatalog};
use insta::assert_snapshot;

#[test]
fn help_text() {
    assert_snapshot!(ToolCatalog::standard().help_text());
}

#[test]
fn tool_help() {
    let catalog = ToolCatalog::standard();
    assert_snapshot!(catalog.tool_help("str_replace").unwrap_or_default());
}

#[test]
fn system_prompt_section() {
    assert_snapshot!(ToolCatalog::standard().system_prompt_section());
}

#[test]
fn error_observations() {
    let errors = [
        FormatError::Missing,
        FormatError::Multiple(2),
        FormatError::Unclosed("the <tool_call> block is cut off".into()),
        FormatError::UnknownTool("edit".into(), ToolCatalog::standard().names()),
        FormatError::MissingArgument {
            tool: "view".into(),
            arg: "path".into(),
        },
        FormatError::UnexpectedArgument {
            tool: "view".into(),
            arg: "file".into(),
        },
        FormatError::InvalidJson("expected `,` or `}` at line 1 column 40".into()),
        FormatError::BadArgument {
            tool: "view".into(),
            arg: "start_line".into(),
            detail: "expected a whole number, got `ten`".into(),
        },
        FormatError::Malformed(
            "the text `ls` is inside the call of `bash` but outside any <parameter=NAME> tag"
                .into(),
        ),
    ];
    let rendered: Vec<String> = errors
        .iter()
        .map(|e| format!("=== {}\n{}", e.kind(), e.observation()))
        .collect();
    assert_snapshot!(rendered.join("\n\n"));
}

#[test]
fn openai_schemas() {
    let tools = ToolCatalog::standard().openai_tools();
    let bash = &tools[2]["function"];
    assert_eq!(bash["name"], "bash");
    assert_eq!(
        bash["parameters"]["required"],
        serde_json::json!(["command"])
    );
    let timeout = &bash["parameters"]["properties"]["timeout"];
    assert_eq!(timeout["type"], "integer");
    assert_eq!(timeout["default"], 60);
    assert_eq!(timeout["maximum"], 600);
    assert_eq!(
        tools[0]["function"]["parameters"]["properties"],
        serde_json::json!({})
    );
    assert_eq!(tools.as_array().map(Vec::len), Some(8));
    assert!(
        tools
            .as_array()
            .into_iter()
            .flatten()
            .all(|t| t["type"] == "function")
    );
}
