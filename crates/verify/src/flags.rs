//! Which paths count as tests, for flagging model patches and choosing what to run.

use apprentice_patch::Patch;

use crate::report::Flag;

/// SWE-bench's `NON_TEST_EXTS`: files a test patch touches that are data, not tests, and so
/// are not passed to the test command. (`"csv"` without a dot is SWE-bench's spelling, kept so
/// the same files are excluded.)
pub const NON_TEST_EXTS: &[&str] = &[
    ".json", ".png", "csv", ".txt", ".md", ".jpg", ".jpeg", ".pkl", ".yml", ".yaml", ".toml",
];

/// True for `conftest.py` at any depth.
pub fn is_conftest(path: &str) -> bool {
    file_name(path) == "conftest.py"
}

/// True for paths that look like tests: a `tests/` or `test/` directory anywhere in the
/// path, or a file named `test_*.py`, `*_test.py` or `tests.py` (Django apps). Deliberately
/// broad: it only raises a flag.
pub fn is_test_path(path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let Some(name) = parts.pop() else {
        return false;
    };
    if parts.iter().any(|dir| *dir == "tests" || *dir == "test") {
        return true;
    }
    (name.starts_with("test_") && name.ends_with(".py"))
        || name.ends_with("_test.py")
        || name == "tests.py"
}

/// The flags for a model patch: test files and `conftest.py` files it touches (created,
/// modified, renamed or deleted).
pub fn patch_flags(patch: &Patch) -> Vec<Flag> {
    let paths = patch.touched_paths();
    let conftest: Vec<String> = paths.iter().filter(|p| is_conftest(p)).cloned().collect();
    let tests: Vec<String> = paths
        .iter()
        .filter(|p| is_test_path(p) && !is_conftest(p))
        .cloned()
        .collect();
    let mut flags = Vec::new();
    if !tests.is_empty() {
        flags.push(Flag::TouchesTestFiles { paths: tests });
    }
    if !conftest.is_empty() {
        flags.push(Flag::TouchesConftest { paths: conftest });
    }
    flags
}

/// The files to hand to the test command: every file the test patch leaves in place, minus
/// data files ([`NON_TEST_EXTS`]). Files the test patch deletes are left out; SWE-bench passes
/// them and the runner then fails on a missing path.
pub fn test_files(test_patch: &Patch) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for file in &test_patch.files {
        let Some(path) = file.new_path.as_deref() else {
            continue;
        };
        if NON_TEST_EXTS.iter().any(|ext| path.ends_with(ext)) {
            continue;
        }
        if !out.iter().any(|p| p == path) {
            out.push(path.to_string());
        }
    }
    out
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_paths() {
        for p in [
            "tests/test_a.py",
            "pkg/tests/helpers.py",
            "test/data.py",
            "pkg/test_mod.py",
            "pkg/mod_test.py",
            "app/tests.py",
        ] {
            assert!(is_test_path(p), "{p}");
        }
        for p in [
            "pkg/mod.py",
            "pkg/testing/util.py",
            "contest.py",
            "pkg/attest.py",
            "",
        ] {
            assert!(!is_test_path(p), "{p}");
        }
        assert!(is_conftest("conftest.py"));
        assert!(is_conftest("a/b/conftest.py"));
        assert!(!is_conftest("a/conftest.pyc"));
    }

    #[test]
    fn flags_and_test_files() {
        let diff = "\
diff --git a/pkg/mod.py b/pkg/mod.py
--- a/pkg/mod.py
+++ b/pkg/mod.py
@@ -1 +1 @@
-a
+b
diff --git a/conftest.py b/conftest.py
new file mode 100644
--- /dev/null
+++ b/conftest.py
@@ -0,0 +1 @@
+x = 1
diff --git a/tests/test_mod.py b/tests/test_mod.py
--- a/tests/test_mod.py
+++ b/tests/test_mod.py
@@ -1 +1 @@
-a
+b
diff --git a/tests/data.json b/tests/data.json
--- a/tests/data.json
+++ b/tests/data.json
@@ -1 +1 @@
-{}
+[]
diff --git a/tests/test_old.py b/tests/test_old.py
deleted file mode 100644
--- a/tests/test_old.py
+++ /dev/null
@@ -1 +0,0 @@
-a
";
        let patch = Patch::parse(diff).expect("valid diff");
        assert_eq!(
            patch_flags(&patch),
            vec![
                Flag::TouchesTestFiles {
                    paths: vec![
                        "tests/test_mod.py".into(),
                        "tests/data.json".into(),
                        "tests/test_old.py".into()
                    ]
                },
                Flag::TouchesConftest {
                    paths: vec!["conftest.py".into()]
                },
            ]
        );
        assert_eq!(
            test_files(&patch),
            vec!["pkg/mod.py", "conftest.py", "tests/test_mod.py"]
        );
    }
}
