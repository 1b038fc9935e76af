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
    let mut out = format!("<tool_call>\n<function={}>\n", call.name);
    for (key, value) in &call.arguments {
        out.push_str(&format!("<parameter={key}>\n{value}\n</parameter>\n"));
    }
    out.push_str("</function>\n</tool_call>");
    out
}
