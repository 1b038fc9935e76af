//! Exact in-memory application of one file's hunks.

use crate::{FilePatch, PatchError};

/// Applies `file`'s hunks to `original`. Each hunk's old text must appear verbatim; it is
/// searched for outward from the line the header names, so hunks whose line numbers drifted
/// still apply, but no fuzz is allowed on the content itself.
pub fn apply_file(original: &str, file: &FilePatch) -> Result<String, PatchError> {
    let mut lines: Vec<String> = original.lines().map(str::to_string).collect();
    let mut offset: isize = 0;
    for (index, hunk) in file.hunks.iter().enumerate() {
        let old_lines: Vec<String> = hunk.old_text().lines().map(str::to_string).collect();
        let new_lines: Vec<String> = hunk.new_text().lines().map(str::to_string).collect();
        let expected = (hunk.old_start as isize - 1 + offset).max(0) as usize;
        let at =
            find_block(&lines, &old_lines, expected).ok_or_else(|| PatchError::HunkMismatch {
                path: file.path().to_string(),
                hunk: index + 1,
                near: hunk.old_start,
            })?;
        lines.splice(at..at + old_lines.len(), new_lines.iter().cloned());
        offset += new_lines.len() as isize - old_lines.len() as isize;
    }
    let mut out = lines.join("\n");
    if !lines.is_empty() && (original.ends_with('\n') || original.is_empty()) {
        out.push('\n');
    }
    Ok(out)
}

fn find_block(haystack: &[String], needle: &[String], expected: usize) -> Option<usize> {
    if needle.is_empty() {
        return Some(expected.min(haystack.len()));
    }
    let last_start = haystack.len().checked_sub(needle.len())?;
    let matches_at = |start: usize| haystack[start..start + needle.len()] == *needle;
    (0..=last_start.max(expected))
        .flat_map(|distance| {
            [
                expected.checked_sub(distance),
                expected.checked_add(distance),
            ]
        })
        .flatten()
        .filter(|&start| start <= last_start)
        .find(|&start| matches_at(start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Patch;

    fn single(text: &str) -> FilePatch {
        Patch::parse(text).unwrap().files.remove(0)
    }

    #[test]
    fn applies_hunk_even_when_lines_drifted() {
        let file = single("--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n");
        let result = apply_file("# header\n# more\nx = 1\ny = 2\n", &file).unwrap();
        assert_eq!(result, "# header\n# more\nx = 1\ny = 3\n");
    }

    #[test]
    fn creation_applies_to_empty_text() {
        let file = single("--- /dev/null\n+++ b/f\n@@ -0,0 +1,2 @@\n+a\n+b\n");
        assert_eq!(apply_file("", &file).unwrap(), "a\nb\n");
    }

    #[test]
    fn mismatch_is_reported_with_the_hunk() {
        let file = single("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-nope\n+yes\n");
        let err = apply_file("other\n", &file).unwrap_err();
        assert_eq!(
            err,
            PatchError::HunkMismatch {
                path: "f".into(),
                hunk: 1,
                near: 1
            }
        );
    }
}
