//! Parser fixtures: the formats and slips of small models.

use std::time::{Duration, Instant};

use apprentice_tools::{
    CallSyntax, FormatError, ParsedCall, Repair, ToolCall, ToolCatalog, parse_raw_tool_call,
    parse_tool_call, render_tool_call,
};

fn parse(text: &str) -> Result<ParsedCall, FormatError> {
    parse_tool_call(text, &ToolCatalog::standard())
}

fn ok(text: &str) -> ParsedCall {
    match parse(text) {
        Ok(parsed) => parsed,
        Err(e) => panic!("expected a call, got {e:?} for {text:?}"),
    }
}

fn bash(command: &str) -> ToolCall {
    ToolCall::new("bash").arg("command", command)
}

#[test]
fn well_formed_xml() {
    let p = ok(
        "<tool_call>\n<function=bash>\n<parameter=command>\nls -la\n</parameter>\n</function>\n</tool_call>",
    );
    assert_eq!(p.call, bash("ls -la"));
    assert_eq!(p.syntax, CallSyntax::Qwen3Xml);
    assert!(p.repairs.is_empty());
    assert_eq!((p.thought.as_str(), p.trailing.as_str()), ("", ""));
}

#[test]
fn well_formed_hermes() {
    let p = ok(r#"<tool_call>
{"name": "view", "arguments": {"path": "src/a.py", "start_line": 30}}
</tool_call>"#);
    assert_eq!(
        p.call,
        ToolCall::new("view")
            .arg("path", "src/a.py")
            .arg("start_line", "30")
    );
    assert_eq!(p.syntax, CallSyntax::HermesJson);
    assert!(p.repairs.is_empty());
}

#[test]
fn render_is_canonical_and_parses_back() {
    let call = ToolCall::new("str_replace")
        .arg("path", "a.py")
        .arg("old_str", "x = 1")
        .arg("new_str", "x = 2");
    let text = render_tool_call(&call);
    assert_eq!(
        text,
        "<tool_call>\n<function=str_replace>\n<parameter=new_str>\nx = 2\n</parameter>\n\
         <parameter=old_str>\nx = 1\n</parameter>\n<parameter=path>\na.py\n</parameter>\n\
         </function>\n</tool_call>"
    );
    assert_eq!(ok(&text).call, call);
    // The catalog renders in declared order: what to replace before the replacement.
    let ordered = ToolCatalog::standard().render_call(&call);
    assert_eq!(
        ordered,
        "<tool_call>\n<function=str_replace>\n<parameter=path>\na.py\n</parameter>\n\
         <parameter=old_str>\nx = 1\n</parameter>\n<parameter=new_str>\nx = 2\n</parameter>\n\
         </function>\n</tool_call>"
    );
    assert_eq!(ok(&ordered).call, call);
}

#[test]
fn leaked_end_tokens_cut_the_text() {
    let p = ok(
        "<tool_call>\n<function=bash>\n<parameter=command>\nls\n</parameter>\n</function>\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_call>\n<function=submit>\n</function>\n</tool_call>",
    );
    assert_eq!(p.call, bash("ls"));
    assert_eq!(p.repairs, vec![Repair::CutAtSpecialToken]);
    let p = ok(r#"{"name": "submit", "arguments": {}}<|endoftext|>garbage"#);
    assert_eq!(p.call, ToolCall::new("submit"));
}

#[test]
fn missing_closers_at_the_end() {
    for text in [
        "<tool_call>\n<function=bash>\n<parameter=command>\nls -la\n</parameter>\n</function>",
        "<tool_call>\n<function=bash>\n<parameter=command>\nls -la\n</parameter>\n",
        "<tool_call>\n<function=bash>\n<parameter=command>\nls -la\n",
        "<function=bash>\n<parameter=command>\nls -la\n",
        "<tool_call>\n<function=bash>\n<parameter=command>\nls -la\n</tool_call>",
    ] {
        let p = ok(text);
        assert_eq!(p.call, bash("ls -la"), "{text:?}");
        assert!(p.repairs.contains(&Repair::AddedClosingTag), "{text:?}");
    }
}

#[test]
fn qwen3_sample_with_missing_parameter_closer() {
    // vLLM #21571.
    let p = parse_raw_tool_call(
        "<tool_call>\n<function=square_the_number>\n<parameter=input_num>\n1024\n\n\n</tool_call>",
    )
    .unwrap();
    assert_eq!(
        p.call,
        ToolCall::new("square_the_number").arg("input_num", "1024\n\n")
    );
}

#[test]
fn prose_around_the_call() {
    let p = ok(
        "I should list the files first.\n\n<tool_call>\n<function=bash>\n<parameter=command>\nls\n</parameter>\n</function>\n</tool_call>\nThen I will read the README.",
    );
    assert_eq!(p.thought, "I should list the files first.");
    assert_eq!(p.trailing, "Then I will read the README.");
}

#[test]
fn think_block_drafts_are_not_calls() {
    let text = "<think>Maybe <tool_call>\n<function=submit>\n</function>\n</tool_call>? No.</think>\n<tool_call>\n<function=bash>\n<parameter=command>\npytest\n</parameter>\n</function>\n</tool_call>";
    let p = ok(text);
    assert_eq!(p.call, bash("pytest"));
    assert!(p.thought.starts_with("<think>"));
    // With nothing after the thinking, the draft is the call.
    let p = ok("<think>\n<function=submit>\n</function>\n</think>");
    assert_eq!(p.call.name, "submit");
}

#[test]
fn two_calls_are_an_error() {
    let one = render_tool_call(&bash("ls"));
    assert_eq!(
        parse(&format!("{one}\n{one}")),
        Err(FormatError::Multiple(2))
    );
    let text = "<tool_call>\n<function=bash>\n<parameter=command>\nls\n</parameter>\n</function>\n<function=submit>\n</function>\n</tool_call>";
    assert_eq!(parse(text), Err(FormatError::Multiple(2)));
    let mixed = format!("{one}\n```json\n{{\"name\": \"submit\", \"arguments\": {{}}}}\n```");
    assert_eq!(parse(&mixed), Err(FormatError::Multiple(2)));
}

#[test]
fn unknown_tool_lists_the_known_ones() {
    let err =
        parse("<function=edit_file>\n<parameter=path>\na\n</parameter>\n</function>").unwrap_err();
    let FormatError::UnknownTool(name, known) = err else {
        panic!("{err:?}");
    };
    assert_eq!(name, "edit_file");
    assert!(known.contains(&"str_replace".to_string()));
}

#[test]
fn aliases_map_to_tools() {
    let p = ok(r#"{"name": "execute_bash", "arguments": {"command": "ls"}}"#);
    assert_eq!(p.call, bash("ls"));
    assert!(p.repairs.contains(&Repair::Alias));
    assert_eq!(
        ok("<function=finish>\n</function>").call,
        ToolCall::new("submit")
    );
}

#[test]
fn argument_errors() {
    assert_eq!(
        parse("<function=view>\n</function>"),
        Err(FormatError::MissingArgument {
            tool: "view".into(),
            arg: "path".into()
        })
    );
    assert_eq!(
        parse("<function=view>\n<parameter=file>\na.py\n</parameter>\n</function>"),
        Err(FormatError::UnexpectedArgument {
            tool: "view".into(),
            arg: "file".into()
        })
    );
    let Err(FormatError::BadArgument { tool, arg, detail }) = parse(
        "<function=view>\n<parameter=path>\na.py\n</parameter>\n<parameter=start_line>\nten\n</parameter>\n</function>",
    ) else {
        panic!("expected BadArgument");
    };
    assert_eq!((tool.as_str(), arg.as_str()), ("view", "start_line"));
    assert!(detail.contains("whole number"), "{detail}");
    assert!(matches!(
        parse(r#"{"name": "bash", "arguments": {"command": "ls", "timeout": 9000}}"#),
        Err(FormatError::BadArgument { .. })
    ));
}

#[test]
fn integers_are_normalized_and_empty_optionals_dropped() {
    let p = ok(
        "<function=view>\n<parameter=path>\na.py\n</parameter>\n<parameter=start_line>\n 7 \n</parameter>\n<parameter=end_line>\n\n</parameter>\n</function>",
    );
    assert_eq!(
        p.call,
        ToolCall::new("view")
            .arg("path", "a.py")
            .arg("start_line", "7")
    );
}

#[test]
fn raw_values_keep_code_and_xml_looking_text() {
    let code = "if a < b && c > d:\n    s = \"</parameter>\"  # </parameter\n    html = '<div>&amp;</div>'\n    t = '<tool_call>'\n\n";
    let call = ToolCall::new("create")
        .arg("path", "x.py")
        .arg("content", code);
    let text = render_tool_call(&call);
    assert_eq!(ok(&text).call, call);
    // A closer followed by more text on the line is part of the value.
    let p = ok(
        "<function=bash>\n<parameter=command>\necho '</parameter>' > f\n</parameter>\n</function>",
    );
    assert_eq!(p.call, bash("echo '</parameter>' > f"));
}

#[test]
fn strips_exactly_one_newline_each_side() {
    let p = ok("<function=bash>\n<parameter=command>\n\n  ls\n\n</parameter>\n</function>");
    assert_eq!(p.call, bash("\n  ls\n"));
    let p = ok("<function=bash>\n<parameter=command>ls</parameter>\n</function>");
    assert_eq!(p.call, bash("ls"));
}

#[test]
fn inline_parameter_form_is_normalized() {
    let p = ok("<function=bash>\n<parameter=command=ls -la</parameter>\n</function>");
    assert_eq!(p.call, bash("ls -la"));
    assert!(p.repairs.contains(&Repair::InlineParameter));
}

#[test]
fn json_with_escapes() {
    let p = ok(
        r#"<tool_call>{"name": "create", "arguments": {"path": "a.txt", "content": "line \"1\"\n\ttab \\ back \u00e9 /"}}</tool_call>"#,
    );
    assert_eq!(p.call.get("content"), Some("line \"1\"\n\ttab \\ back é /"));
    assert!(p.repairs.is_empty());
}

#[test]
fn json_repairs() {
    let cases = [
        // trailing comma
        (
            r#"<tool_call>{"name": "bash", "arguments": {"command": "ls",},}</tool_call>"#,
            "ls",
        ),
        // missing final brace before the closer
        (
            r#"<tool_call>{"name": "bash", "arguments": {"command": "ls"}</tool_call>"#,
            "ls",
        ),
        // missing final braces at the end of the text
        (
            r#"<tool_call>{"name": "bash", "arguments": {"command": "ls""#,
            "ls",
        ),
        // raw newline inside a string
        (
            "<tool_call>{\"name\": \"bash\", \"arguments\": {\"command\": \"cd a\nls\"}}</tool_call>",
            "cd a\nls",
        ),
        // invalid escape (a regex)
        (
            r#"<tool_call>{"name": "bash", "arguments": {"command": "grep -P '\d+' f"}}</tool_call>"#,
            r"grep -P '\d+' f",
        ),
    ];
    for (text, command) in cases {
        let p = ok(text);
        assert_eq!(p.call, bash(command), "{text}");
        assert!(p.repairs.contains(&Repair::RepairedJson), "{text}");
    }
}

#[test]
fn json_variants() {
    let p = ok(r#"<tool_call>{"name": "bash", "parameters": {"command": "ls"}}</tool_call>"#);
    assert_eq!(p.call, bash("ls"));
    assert!(p.repairs.contains(&Repair::ParametersKey));
    let p = ok(
        r#"<tool_call>{"name": "bash", "arguments": "{\"command\": \"ls\", \"timeout\": 30}"}</tool_call>"#,
    );
    assert_eq!(p.call, bash("ls").arg("timeout", "30"));
    assert!(p.repairs.contains(&Repair::ArgumentsAsString));
    let p = ok(r#"{"type": "function", "function": {"name": "submit", "arguments": "{}"}}"#);
    assert_eq!(p.call, ToolCall::new("submit"));
    let raw = parse_raw_tool_call(r#"<tool_call>{"name": "x", "arguments": {"n": 3, "b": true, "o": {"k": [1]}, "z": null}}</tool_call>"#).unwrap();
    let expected = ToolCall::new("x")
        .arg("n", "3")
        .arg("b", "true")
        .arg("o", r#"{"k":[1]}"#)
        .arg("z", "");
    assert_eq!(raw.call, expected);
}

#[test]
fn bare_and_fenced_json() {
    let p = ok(r#"{"name": "bash", "arguments": {"command": "ls"}}"#);
    assert_eq!(
        (p.call.clone(), p.syntax),
        (bash("ls"), CallSyntax::BareJson)
    );
    let p = ok(
        "Let me look.\n```json\n{\"name\": \"bash\", \"arguments\": {\"command\": \"ls\"}}\n```\nDone.",
    );
    assert_eq!(
        (p.call.clone(), p.syntax),
        (bash("ls"), CallSyntax::FencedJson)
    );
    assert_eq!(
        (p.thought.as_str(), p.trailing.as_str()),
        ("Let me look.", "Done.")
    );
    let p = ok("<tools>{\"name\": \"submit\", \"arguments\": {}}</tools>");
    assert_eq!((p.thought.as_str(), p.trailing.as_str()), ("", ""));
    // JSON that is not call-shaped is prose.
    assert_eq!(
        parse(r#"The config is {"name": "app", "version": "1.0"}."#),
        Err(FormatError::Missing)
    );
}

#[test]
fn broken_json_is_reported_as_json() {
    assert!(matches!(
        parse(r#"{"name": "bash", "arguments": {"command": "ls"]}"#),
        Err(FormatError::InvalidJson(_))
    ));
    assert!(matches!(
        parse(r#"<tool_call>{"name": "bash", "arguments": {"command": "ls"#),
        Err(FormatError::Unclosed(_))
    ));
    assert!(matches!(
        parse(r#"<tool_call>{"arguments": {}}</tool_call>"#),
        Err(FormatError::InvalidJson(_))
    ));
}

#[test]
fn structural_errors() {
    assert_eq!(parse(""), Err(FormatError::Missing));
    assert_eq!(
        parse("I think the bug is in utils.py."),
        Err(FormatError::Missing)
    );
    assert!(matches!(
        parse("<tool_call>"),
        Err(FormatError::Unclosed(_))
    ));
    assert!(matches!(
        parse("<tool_call>\n<function=ba"),
        Err(FormatError::Unclosed(_))
    ));
    assert!(matches!(
        parse("<function=bash>\nls -la\n</function>"),
        Err(FormatError::Malformed(_))
    ));
    assert!(matches!(
        parse(
            "<function=bash>\n<parameter=command>\na\n</parameter>\n<parameter=command>\nb\n</parameter>\n</function>"
        ),
        Err(FormatError::Malformed(_))
    ));
    // A broken call counts once, not once per tag inside it.
    assert!(matches!(
        parse("<tool_call>\nbash\n<function=bash>\n</tool_call>"),
        Err(FormatError::Malformed(_))
    ));
}

#[test]
fn garbage_does_not_panic_and_is_fast() {
    let unit_patterns = [
        "<tool_call>",
        "<function=",
        "<function=a>",
        "<parameter=a>",
        "</parameter>",
        "{\"name\":",
        "{\"name\": \"a\", \"arguments\": {\"x\": \"",
        "```json\n{",
        "<|im",
        "{[\"\\",
        "é<",
    ];
    for unit in unit_patterns {
        let text = unit.repeat(1_000_000 / unit.len());
        let start = Instant::now();
        let _ = parse(&text);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{unit:?} took {:?}",
            start.elapsed()
        );
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let noise: String = (0..1_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let alphabet = b"<>/={}\"\\:,tool_call function parameter\n";
            alphabet[(state % alphabet.len() as u64) as usize] as char
        })
        .collect();
    let start = Instant::now();
    let _ = parse(&noise);
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn tool_call_json_keeps_non_string_values_as_text() {
    let call: ToolCall = serde_json::from_str(
        r#"{"name": "view", "arguments": {"path": "a.py", "start_line": 30, "x": true, "o": {"k": 1}}}"#,
    )
    .unwrap();
    let expected = ToolCall::new("view")
        .arg("path", "a.py")
        .arg("start_line", "30")
        .arg("x", "true")
        .arg("o", r#"{"k":1}"#);
    assert_eq!(call, expected);
    let back: ToolCall = serde_json::from_str(&serde_json::to_string(&expected).unwrap()).unwrap();
    assert_eq!(back, expected);
    let bare: ToolCall = serde_json::from_str(r#"{"name": "submit"}"#).unwrap();
    assert_eq!(bare, ToolCall::new("submit"));
}
