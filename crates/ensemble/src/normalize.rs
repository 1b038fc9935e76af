//! What makes two patches "the same fix" for the majority vote.
//!
//! Agents that make the same change produce different diffs: other context lengths (so other
//! hunk boundaries), hunks in another order, re-indented or trailing whitespace, and their own
//! test files. The key keeps only what a patch changes in the source: per file, the runs of
//! removed and added lines with whitespace collapsed, sorted. Test files are left out, so two
//! agents with one fix and different reproduction tests vote together.

use apprentice_patch::{FilePatch, HunkLine, Patch};
use apprentice_verify::is_test_path;

/// The normalised form of a patch: equal keys mean the same source change. An empty key is a
/// patch that changes no source (empty, whitespace-only, or tests only). A patch that does not
/// parse is keyed by its whitespace-collapsed text, so only identical garbage votes together.
pub fn patch_key(text: &str) -> String {
    let Ok(patch) = Patch::parse(text) else {
        return format!("unparsed:{}", collapse(text));
    };
    let mut files: Vec<String> = patch
        .files
        .iter()
        .filter(|f| !is_test_path(f.path()))
        .filter_map(file_key)
        .collect();
    files.sort();
    files.join("\n")
}

/// Lines added plus removed in the source (non-test) files of a patch; unparsable patches
/// count their lines, so they never look smaller than they are.
pub fn changed_source_lines(text: &str) -> usize {
    match Patch::parse(text) {
        Ok(patch) => patch
            .files
            .iter()
            .filter(|f| !is_test_path(f.path()))
            .map(FilePatch::changed_lines)
            .sum(),
        Err(_) => text.lines().count(),
    }
}

fn file_key(file: &FilePatch) -> Option<String> {
    let mut blocks: Vec<String> = change_blocks(file)
        .into_iter()
        .filter(|(removed, added)| removed != added)
        .map(|(removed, added)| format!("-{}\n+{}", removed.join("\n-"), added.join("\n+")))
        .collect();
    if blocks.is_empty() && !file.is_creation() && !file.is_deletion() {
        return None;
    }
    blocks.sort();
    let kind = if file.is_creation() {
        "new "
    } else if file.is_deletion() {
        "deleted "
    } else {
        ""
    };
    Some(format!("{kind}{}\n{}", file.path(), blocks.join("\n~\n")))
}

/// Consecutive changed lines, across hunk boundaries' context, as (removed, added) with blank
/// lines dropped and whitespace collapsed.
fn change_blocks(file: &FilePatch) -> Vec<(Vec<String>, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut current: (Vec<String>, Vec<String>) = Default::default();
    let mut open = false;
    for line in file
        .hunks
        .iter()
        .flat_map(|h| h.lines.iter().map(Some).chain([None]))
    {
        match line {
            Some(HunkLine::Remove(s)) | Some(HunkLine::Add(s)) if collapse(s).is_empty() => {
                open = true;
            }
            Some(HunkLine::Remove(s)) => {
                current.0.push(collapse(s));
                open = true;
            }
            Some(HunkLine::Add(s)) => {
                current.1.push(collapse(s));
                open = true;
            }
            Some(HunkLine::Context(_)) | None => {
                if open {
                    blocks.push(std::mem::take(&mut current));
                    open = false;
                }
            }
        }
    }
    blocks
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIX: &str = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,4 +1,4 @@\n def f(a, b):\n-    return a - b\n+    return a + b\n \n \n@@ -9,3 +9,3 @@\n def g():\n-    return 1\n+    return 2\n x = 1\n";

    #[test]
    fn context_hunk_order_and_whitespace_do_not_matter() {
        let reordered = "--- a/m.py\n+++ b/m.py\n@@ -10,1 +10,1 @@\n-    return 1\n+    return  2   \n@@ -2,1 +2,1 @@\n-    return a - b\n+\treturn a + b\n";
        assert_eq!(patch_key(FIX), patch_key(reordered));
        assert_eq!(changed_source_lines(FIX), 4);
    }

    #[test]
    fn test_files_and_whitespace_only_changes_are_ignored() {
        let with_test = format!(
            "{FIX}diff --git a/tests/test_m.py b/tests/test_m.py\nnew file mode 100644\n--- /dev/null\n+++ b/tests/test_m.py\n@@ -0,0 +1,1 @@\n+assert True\n"
        );
        assert_eq!(patch_key(FIX), patch_key(&with_test));
        assert_eq!(changed_source_lines(&with_test), 4);
        let blank = "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n-x = 1 \n+x  =  1\n y\n";
        assert_eq!(patch_key(blank), "");
        assert_eq!(patch_key(""), "");
    }

    #[test]
    fn different_changes_differ() {
        let other = FIX.replace("a + b", "b + a");
        assert_ne!(patch_key(FIX), patch_key(&other));
        let split =
            "--- a/m.py\n+++ b/m.py\n@@ -2,1 +2,1 @@\n-    return a - b\n+    return a + b\n";
        assert_ne!(patch_key(FIX), patch_key(split));
        assert!(patch_key("--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n x\n").starts_with("unparsed:"));
    }
}
