//! Property tests: render/parse round trips, neutralization, robustness.

use apprentice_tools::{
    ToolCall, ToolCatalog, contains_control_text, neutralize, parse_raw_tool_call, parse_tool_call,
    render_tool_call,
};
use proptest::prelude::*;

/// Fragments that stress the scanner: tags, their pieces, JSON punctuation, special tokens.
const PIECES: &[&str] = &[
    "<",
    ">",
    "/",
    "=",
    "&",
    "\n",
    " ",
    "\"",
    "'",
    "\\",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "|",
    "<tool_call>",
    "</tool_call>",
    "<function=",
    "</function>",
    "<parameter=",
    "</parameter>",
    "</parameter",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
    "<|im_end|>",
    "<|im_start|>",
    "<|endoftext|>",
    "<|fim_middle|>",
    "<|",
    "|>",
    "```json",
    "```",
    "\"name\"",
    "\"arguments\"",
    "x",
    "é",
    "日本",
    "\t",
    "\r\n",
    "im_end",
];

fn tricky_text() -> impl Strategy<Value = String> {
    text_from(PIECES.to_vec())
}

/// Like [`tricky_text`] without end-of-turn tokens, which a value cannot carry.
fn value_text() -> impl Strategy<Value = String> {
    let pieces: Vec<&'static str> = PIECES
        .iter()
        .copied()
        .filter(|p| !END_TOKENS.contains(p))
        .collect();
    text_from(pieces)
}

fn text_from(pieces: Vec<&'static str>) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(pieces).prop_map(str::to_string),
        1 => any::<char>().prop_map(|c| c.to_string()),
        1 => "[a-z ]{1,8}",
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

const END_TOKENS: &[&str] = &["<|im_end|>", "<|endoftext|>", "<|im_start|>", "<|eot_id|>"];

/// Values the raw format can carry: no end-of-turn token (the reply is cut there) and no
/// `</parameter>` that reads as the value's end (whitespace, then another tag of the call).
fn representable(value: &str) -> bool {
    if END_TOKENS.iter().any(|t| value.contains(t)) {
        return false;
    }
    !value.match_indices("</parameter>").any(|(i, m)| {
        let after = value[i + m.len()..].trim_start();
        ["<parameter=", "</function>", "</tool_call>"]
            .iter()
            .any(|t| after.starts_with(t))
    })
}

/// True when `text` holds a special-token-looking `<|NAME|>`.
fn has_token(text: &str) -> bool {
    text.match_indices("<|").any(|(i, _)| {
        let body = &text[i + 2..];
        body.find("|>")
            .is_some_and(|end| end > 0 && !body[..end].contains(['|', '<', '>', '\n', '\r']))
    })
}

fn raw_call() -> impl Strategy<Value = ToolCall> {
    let name = "[a-z_][a-z0-9_]{0,15}";
    let args = proptest::collection::btree_map(name, value_text(), 0..4);
    (name, args).prop_map(|(name, arguments)| ToolCall { name, arguments })
}

fn standard_call() -> impl Strategy<Value = ToolCall> {
    prop_oneof![
        (value_text(), proptest::option::of(1..=600i64)).prop_map(|(c, t)| {
            let call = ToolCall::new("bash").arg("command", c);
            match t {
                Some(t) => call.arg("timeout", t.to_string()),
                None => call,
            }
        }),
        (value_text(), value_text(), value_text()).prop_map(|(p, o, n)| ToolCall::new(
            "str_replace"
        )
        .arg("path", p)
        .arg("old_str", o)
        .arg("new_str", n)),
        (value_text(), 1..5000i64).prop_map(|(p, s)| ToolCall::new("view")
            .arg("path", p)
            .arg("start_line", s.to_string())),
        Just(ToolCall::new("submit")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        max_global_rejects: 100_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn render_then_parse_is_identity(call in raw_call()) {
        prop_assume!(call.arguments.values().all(|v| representable(v)));
        let text = render_tool_call(&call);
        let parsed = parse_raw_tool_call(&text);
        prop_assert_eq!(parsed.map(|p| p.call), Ok(call));
    }

    #[test]
    fn render_then_parse_validates_standard_calls(call in standard_call()) {
        prop_assume!(call.arguments.values().all(|v| representable(v)));
        let catalog = ToolCatalog::standard();
        let parsed = parse_tool_call(&render_tool_call(&call), &catalog);
        prop_assert_eq!(parsed.map(|p| p.call), Ok(call.clone()));
        let parsed = parse_tool_call(&catalog.render_call(&call), &catalog);
        prop_assert_eq!(parsed.map(|p| p.call), Ok(call));
    }

    #[test]
    fn rendered_call_survives_prose_around_it(call in raw_call(), before in "[a-zA-Z .,]{0,40}", after in "[a-zA-Z .,]{0,40}") {
        prop_assume!(call.arguments.values().all(|v| representable(v)));
        let text = format!("{before}\n{}\n{after}", render_tool_call(&call));
        let parsed = parse_raw_tool_call(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.call, call);
        prop_assert_eq!(parsed.thought, before.trim());
        prop_assert_eq!(parsed.trailing, after.trim());
    }

    #[test]
    fn parser_never_panics_and_errors_quote_no_tokens(text in tricky_text()) {
        if let Err(e) = parse_tool_call(&text, &ToolCatalog::standard()) {
            let observation = e.observation();
            prop_assert!(!has_token(&observation), "{:?} -> {}", text, observation);
        }
    }

    #[test]
    fn neutralized_text_holds_no_control_text(text in tricky_text()) {
        let out = neutralize(&text);
        for literal in [
            "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<tool_call>", "</tool_call>",
            "<tool_response>", "</tool_response>", "<function=", "<parameter=",
        ] {
            prop_assert!(!out.contains(literal), "{:?} -> {:?} holds {}", text, out, literal);
        }
        prop_assert!(!contains_control_text(&out), "{:?} -> {:?}", text, out);
        prop_assert_eq!(neutralize(&out), out.clone());
    }

    #[test]
    fn neutralize_keeps_plain_text(text in "[^<]*") {
        prop_assert_eq!(neutralize(&text), text);
    }
}

#[test]
fn neutralize_examples() {
    assert_eq!(neutralize("a <|im_end|> b"), r"a <\|im_end\|> b");
    assert_eq!(
        neutralize("<tool_call>x</tool_call>"),
        r"<\tool_call>x<\/tool_call>"
    );
    assert_eq!(
        neutralize("<parameter=a><function=b>"),
        r"<\parameter=a><\function=b>"
    );
    assert_eq!(neutralize("<|fim_prefix|>"), r"<\|fim_prefix\|>");
    // Code that only looks similar is untouched.
    for plain in ["a <|> b", "x |> f", "a <| b", "if a<b:", "<||>", "<div>"] {
        assert_eq!(neutralize(plain), plain);
    }
}
