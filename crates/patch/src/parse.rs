//! A forgiving reader for `git diff` output and plain unified diffs.

use crate::{FilePatch, Hunk, HunkLine, Patch, PatchError};

pub(crate) fn parse(text: &str) -> Result<Patch, PatchError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut files = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with("diff --git ") || is_file_header(&lines, i) {
            let (file, next) = parse_file(&lines, i)?;
            files.push(file);
            i = next;
        } else {
            i += 1;
        }
    }
    Ok(Patch { files })
}

fn is_file_header(lines: &[&str], i: usize) -> bool {
    lines[i].starts_with("--- ") && lines.get(i + 1).is_some_and(|l| l.starts_with("+++ "))
}

fn parse_file(lines: &[&str], start: usize) -> Result<(FilePatch, usize), PatchError> {
    let mut file = FilePatch {
        old_path: None,
        new_path: None,
        hunks: Vec::new(),
    };
    let mut i = start;
    if let Some(rest) = lines[i].strip_prefix("diff --git ") {
        let (a, b) = split_git_header(rest);
        file.old_path = a;
        file.new_path = b;
        i += 1;
        while i < lines.len()
            && !lines[i].starts_with("--- ")
            && !lines[i].starts_with("diff --git ")
        {
            if lines[i].starts_with("new file mode") {
                file.old_path = None;
            } else if lines[i].starts_with("deleted file mode") {
                file.new_path = None;
            }
            i += 1;
        }
    }
    if i < lines.len() && lines[i].starts_with("--- ") && i + 1 < lines.len() {
        file.old_path = header_path(&lines[i][4..]);
        let plus = lines[i + 1]
            .strip_prefix("+++ ")
            .ok_or(PatchError::Malformed {
                line: i + 2,
                message: "expected `+++` after `---`".into(),
            })?;
        file.new_path = header_path(plus);
        i += 2;
    }
    while i < lines.len() && lines[i].starts_with("@@") {
        let (hunk, next) = parse_hunk(lines, i)?;
        file.hunks.push(hunk);
        i = next;
    }
    Ok((file, i))
}

/// Splits `a/x b/x`; paths with spaces are ambiguous here, so the `---`/`+++` lines that follow
/// (when present) take precedence.
fn split_git_header(rest: &str) -> (Option<String>, Option<String>) {
    match rest.find(" b/") {
        Some(pos) => (
            Some(strip_prefix(&rest[..pos]).to_string()),
            Some(strip_prefix(&rest[pos + 1..]).to_string()),
        ),
        None => (None, None),
    }
}

fn header_path(raw: &str) -> Option<String> {
    let path = raw.split('\t').next().unwrap_or(raw).trim_end();
    if path == "/dev/null" {
        None
    } else {
        Some(strip_prefix(path).to_string())
    }
}

fn strip_prefix(path: &str) -> &str {
    path.strip_prefix("a/")
        .or_else(|| path.strip_prefix("b/"))
        .unwrap_or(path)
}

fn parse_hunk(lines: &[&str], start: usize) -> Result<(Hunk, usize), PatchError> {
    let malformed = |message: &str| PatchError::Malformed {
        line: start + 1,
        message: message.to_string(),
    };
    let header = lines[start];
    let body = header
        .strip_prefix("@@ ")
        .ok_or_else(|| malformed("bad hunk header"))?;
    let end = body
        .find(" @@")
        .ok_or_else(|| malformed("unterminated hunk header"))?;
    let mut ranges = body[..end].split(' ');
    let (old_start, old_len) =
        parse_range(ranges.next(), '-').ok_or_else(|| malformed("bad old range"))?;
    let (new_start, new_len) =
        parse_range(ranges.next(), '+').ok_or_else(|| malformed("bad new range"))?;
    let section = body[end + 3..].trim().to_string();

    let mut hunk = Hunk {
        old_start,
        old_len,
        new_start,
        new_len,
        section,
        lines: Vec::new(),
    };
    let (mut old_seen, mut new_seen) = (0, 0);
    let mut i = start + 1;
    while i < lines.len() && (old_seen < old_len || new_seen < new_len) {
        let line = lines[i];
        match line.chars().next() {
            Some('+') => {
                hunk.lines.push(HunkLine::Add(line[1..].to_string()));
                new_seen += 1;
            }
            Some('-') => {
                hunk.lines.push(HunkLine::Remove(line[1..].to_string()));
                old_seen += 1;
            }
            Some(' ') | None => {
                hunk.lines
                    .push(HunkLine::Context(line.get(1..).unwrap_or("").to_string()));
                old_seen += 1;
                new_seen += 1;
            }
            Some('\\') => {}
            Some(_) => return Err(malformed("hunk is shorter than its header says")),
        }
        i += 1;
    }
    if old_seen != old_len || new_seen != new_len {
        return Err(malformed("hunk is shorter than its header says"));
    }
    while i < lines.len() && lines[i].starts_with('\\') {
        i += 1;
    }
    Ok((hunk, i))
}

fn parse_range(text: Option<&str>, sign: char) -> Option<(usize, usize)> {
    let text = text?.strip_prefix(sign)?;
    match text.split_once(',') {
        Some((start, len)) => Some((start.parse().ok()?, len.parse().ok()?)),
        None => Some((text.parse().ok()?, 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIT_DIFF: &str = "diff --git a/pkg/calc.py b/pkg/calc.py
index 1111111..2222222 100644
--- a/pkg/calc.py
+++ b/pkg/calc.py
@@ -1,4 +1,4 @@ def add(a, b):
 def add(a, b):
-    return a - b
+    return a + b
 
 
diff --git a/pkg/new.py b/pkg/new.py
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/pkg/new.py
@@ -0,0 +1,2 @@
+X = 1
+Y = 2
";

    #[test]
    fn parses_git_diff_with_new_file() {
        let patch = parse(GIT_DIFF).unwrap();
        assert_eq!(patch.files.len(), 2);
        assert_eq!(patch.files[0].path(), "pkg/calc.py");
        assert_eq!(patch.files[0].hunks[0].section, "def add(a, b):");
        assert_eq!(
            patch.files[0].hunks[0].old_text(),
            "def add(a, b):\n    return a - b\n\n\n"
        );
        assert!(patch.files[1].is_creation());
        assert_eq!(patch.files[1].hunks[0].new_text(), "X = 1\nY = 2\n");
        assert_eq!(patch.touched_paths(), vec!["pkg/calc.py", "pkg/new.py"]);
    }

    #[test]
    fn parses_plain_unified_diff_and_deletion() {
        let text = "--- a/x.py\t2020-01-01\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone\n";
        let patch = parse(text).unwrap();
        assert!(patch.files[0].is_deletion());
        assert_eq!(patch.files[0].path(), "x.py");
    }

    #[test]
    fn short_hunk_is_an_error_not_a_panic() {
        let text = "--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n";
        assert!(matches!(parse(text), Err(PatchError::Malformed { .. })));
        assert!(parse("@@ garbage").unwrap().is_empty());
    }

    #[test]
    fn no_newline_marker_is_skipped() {
        let text = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n\\ No newline at end of file\n";
        let patch = parse(text).unwrap();
        assert_eq!(patch.files[0].hunks[0].lines.len(), 2);
    }
}
