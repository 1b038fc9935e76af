//! The canonical written form of a call.

use crate::call::ToolCall;

/// Renders `call` in the canonical Qwen3-Coder form, wrapped in `<tool_call>`:
///
/// ```text
/// <tool_call>
/// <function=NAME>
/// <parameter=KEY>
/// VALUE
/// </parameter>
/// </function>
/// </tool_call>
/// ```
///
/// Training data and supervisor revisions use this form so the policy learns one syntax.
/// Values are written raw (the format has no escaping), one newline on each side, which the
/// parser strips again. The one value this cannot carry is text holding `</parameter>`
/// followed by optional whitespace and `<parameter=`, `</function>`, `</tool_call>` or the end:
/// the parser takes that as the value's end (see [`crate::parse`]).
pub fn render_tool_call(call: &ToolCall) -> String {
    render_in_order(call, &[])
}

/// Renders `call` with the arguments named in `order` first, in that order, then the rest
/// alphabetically. Order matters to a model that learns from the text: it should write
/// `path`, then `old_str`, then `new_str`, deciding what to replace before the replacement.
/// [`crate::ToolCatalog::render_call`] passes the tool's declared parameter order.
pub fn render_in_order(call: &ToolCall, order: &[&str]) -> String {
    let mut out = format!("<tool_call>\n<function={}>\n", call.name);
    let known = order
        .iter()
        .filter_map(|k| call.arguments.get_key_value(*k));
    let rest = call
        .arguments
        .iter()
        .filter(|(k, _)| !order.contains(&k.as_str()));
    for (key, value) in known.chain(rest) {
        out.push_str(&format!("<parameter={key}>\n{value}\n</parameter>\n"));
    }
    out.push_str("</function>\n</tool_call>");
    out
}
