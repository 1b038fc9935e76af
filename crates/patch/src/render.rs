//! Patches back to git diff text.

use std::fmt;

use crate::{FilePatch, Hunk, HunkLine, Patch};

/// Git diff text that `git apply` accepts and [`Patch::parse`] reads back to the same value.
/// "No newline at end of file" markers are not kept by the parser, so they are not written.
impl fmt::Display for Patch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.files.iter().try_for_each(|file| write!(f, "{file}"))
    }
}

impl fmt::Display for FilePatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path();
        writeln!(f, "diff --git a/{path} b/{path}")?;
        if self.is_creation() {
            writeln!(f, "new file mode 100644")?;
        } else if self.is_deletion() {
            writeln!(f, "deleted file mode 100644")?;
        }
        let side = |p: &Option<String>, prefix: &str| {
            p.as_ref()
                .map_or_else(|| "/dev/null".to_string(), |p| format!("{prefix}{p}"))
        };
        writeln!(f, "--- {}", side(&self.old_path, "a/"))?;
        writeln!(f, "+++ {}", side(&self.new_path, "b/"))?;
        self.hunks.iter().try_for_each(|hunk| write!(f, "{hunk}"))
    }
}

impl fmt::Display for Hunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "@@ -{},{} +{},{} @@",
            self.old_start, self.old_len, self.new_start, self.new_len
        )?;
        if !self.section.is_empty() {
            write!(f, " {}", self.section)?;
        }
        writeln!(f)?;
        for line in &self.lines {
            match line {
                HunkLine::Context(s) => writeln!(f, " {s}")?,
                HunkLine::Remove(s) => writeln!(f, "-{s}")?,
                HunkLine::Add(s) => writeln!(f, "+{s}")?,
            }
        }
        Ok(())
    }
}

impl FilePatch {
    /// A patch that creates `path` holding `content`.
    pub fn creation(path: &str, content: &str) -> FilePatch {
        let lines: Vec<HunkLine> = content.lines().map(|l| HunkLine::Add(l.into())).collect();
        FilePatch {
            old_path: None,
            new_path: Some(path.to_string()),
            hunks: vec![Hunk {
                old_start: 0,
                old_len: 0,
                new_start: usize::from(!lines.is_empty()),
                new_len: lines.len(),
                section: String::new(),
                lines,
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_patches_parse_back_to_themselves() {
        let text = "diff --git a/pkg/calc.py b/pkg/calc.py\n--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -1,3 +1,3 @@ def add(a, b):\n def add(a, b):\n-    return a - b\n+    return a + b\n \ndiff --git a/x.py b/x.py\ndeleted file mode 100644\n--- a/x.py\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-gone\n";
        let patch = Patch::parse(text).unwrap();
        assert_eq!(patch.to_string(), text);
        let created = Patch {
            files: vec![FilePatch::creation("tests/test_new.py", "a = 1\nb = 2\n")],
        };
        assert_eq!(Patch::parse(&created.to_string()).unwrap(), created);
        assert!(
            created
                .to_string()
                .contains("new file mode 100644\n--- /dev/null\n")
        );
    }
}
