//! Positions of every tag the XML form uses, found in one pass.
//!
//! Raw values may be long and a hostile or degenerate reply may repeat a tag a million times;
//! looking each closer up with `str::find` from every parameter would be quadratic. One pass
//! collects the positions and later look-ups are binary searches.

pub(super) const TOOL_CALL_OPEN: &str = "<tool_call>";
pub(super) const TOOL_CALL_CLOSE: &str = "</tool_call>";
pub(super) const FUNCTION_OPEN: &str = "<function=";
pub(super) const FUNCTION_CLOSE: &str = "</function>";
pub(super) const PARAM_OPEN: &str = "<parameter=";
pub(super) const PARAM_CLOSE: &str = "</parameter>";

/// Sorted byte positions of each tag.
#[derive(Debug, Default)]
pub(super) struct TagIndex {
    pub tool_call_open: Vec<usize>,
    pub tool_call_close: Vec<usize>,
    pub function_open: Vec<usize>,
    pub function_close: Vec<usize>,
    pub param_open: Vec<usize>,
    /// `</parameter>` occurrences that really end a value: followed (after optional
    /// whitespace) by `<parameter=`, `</function>`, `</tool_call>` or the end of the text.
    /// Any other `</parameter>` is part of the value (code that mentions the tag).
    pub param_close: Vec<usize>,
}

impl TagIndex {
    pub fn build(text: &str) -> Self {
        let mut index = TagIndex::default();
        for (i, _) in text.match_indices('<') {
            let rest = &text[i..];
            let list = if rest.starts_with(TOOL_CALL_OPEN) {
                &mut index.tool_call_open
            } else if rest.starts_with(TOOL_CALL_CLOSE) {
                &mut index.tool_call_close
            } else if rest.starts_with(FUNCTION_OPEN) {
                &mut index.function_open
            } else if rest.starts_with(FUNCTION_CLOSE) {
                &mut index.function_close
            } else if rest.starts_with(PARAM_OPEN) {
                &mut index.param_open
            } else if rest.starts_with(PARAM_CLOSE) && closes_value(&rest[PARAM_CLOSE.len()..]) {
                &mut index.param_close
            } else {
                continue;
            };
            list.push(i);
        }
        index
    }
}

/// True when the text after a `</parameter>` shows it ends the value.
fn closes_value(after: &str) -> bool {
    let after = after.trim_start();
    after.is_empty()
        || after.starts_with(PARAM_OPEN)
        || after.starts_with(FUNCTION_CLOSE)
        || after.starts_with(TOOL_CALL_CLOSE)
}

/// The first position in `list` at or after `from`.
pub(super) fn next_at(list: &[usize], from: usize) -> Option<usize> {
    list.get(list.partition_point(|&p| p < from)).copied()
}
