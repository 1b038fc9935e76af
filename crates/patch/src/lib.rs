//! Unified and git diffs as data.
//!
//! Patches are everywhere in apprentice: gold fixes, test patches, agent submissions. The
//! scripted policy replays a gold patch hunk by hunk, the oracle supervisor compares an agent's
//! edit with the gold hunk, and the verifier needs the files a test patch touches. Applying to a
//! real checkout is left to `git apply` in the sandbox; [`apply_file`] here is an exact,
//! in-memory apply for the harness's own reasoning about file contents.

mod apply;
mod parse;
mod render;

pub use apply::apply_file;

/// A parsed multi-file diff.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Patch {
    pub files: Vec<FilePatch>,
}

/// The changes to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    /// Path before the change, without the `a/` prefix; `None` for a created file.
    pub old_path: Option<String>,
    /// Path after the change, without the `b/` prefix; `None` for a deleted file.
    pub new_path: Option<String>,
    pub hunks: Vec<Hunk>,
}

/// One `@@ -a,b +c,d @@` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub old_start: usize,
    pub old_len: usize,
    pub new_start: usize,
    pub new_len: usize,
    /// The text after the second `@@`, usually the enclosing function or class.
    pub section: String,
    pub lines: Vec<HunkLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HunkLine {
    Context(String),
    Remove(String),
    Add(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatchError {
    #[error("line {line}: {message}")]
    Malformed { line: usize, message: String },
    #[error("hunk {hunk} of `{path}` does not match the file (near line {near})")]
    HunkMismatch {
        path: String,
        hunk: usize,
        near: usize,
    },
}

impl Patch {
    pub fn parse(text: &str) -> Result<Patch, PatchError> {
        parse::parse(text)
    }

    /// Every path the patch reads or writes, in order, without duplicates.
    pub fn touched_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = Vec::new();
        for file in &self.files {
            for path in [&file.old_path, &file.new_path].into_iter().flatten() {
                if !paths.contains(path) {
                    paths.push(path.clone());
                }
            }
        }
        paths
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl FilePatch {
    /// The path this file has after the patch (or had, when the patch deletes it).
    pub fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or_default()
    }

    pub fn is_creation(&self) -> bool {
        self.old_path.is_none()
    }

    pub fn is_deletion(&self) -> bool {
        self.new_path.is_none()
    }

    /// Lines added plus lines removed.
    pub fn changed_lines(&self) -> usize {
        self.hunks
            .iter()
            .flat_map(|h| &h.lines)
            .filter(|l| !matches!(l, HunkLine::Context(_)))
            .count()
    }
}

impl Hunk {
    /// The hunk's text before the change (context and removed lines), newline-terminated.
    pub fn old_text(&self) -> String {
        self.join(|l| !matches!(l, HunkLine::Add(_)))
    }

    /// The hunk's text after the change (context and added lines), newline-terminated.
    pub fn new_text(&self) -> String {
        self.join(|l| !matches!(l, HunkLine::Remove(_)))
    }

    fn join(&self, keep: impl Fn(&HunkLine) -> bool) -> String {
        let mut out = String::new();
        for line in self.lines.iter().filter(|l| keep(l)) {
            let (HunkLine::Context(s) | HunkLine::Remove(s) | HunkLine::Add(s)) = line;
            out.push_str(s);
            out.push('\n');
        }
        out
    }
}
