//! Tools run against a real `LocalSandbox` over a temporary copy of a small repository.

use std::fs;

use apprentice_sandbox::{LocalSandboxFactory, RepoSource, Sandbox, SandboxFactory};
use apprentice_tools::{Observation, ToolCall, execute};

/// A sandbox over a repo with a 250-line file, a small module, and a nested directory.
async fn sandbox() -> Box<dyn Sandbox> {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let long: String = (1..=250).map(|i| format!("line {i}\n")).collect();
    fs::write(root.join("long.txt"), long).expect("write");
    fs::create_dir_all(root.join("pkg/sub")).expect("mkdir");
    fs::write(
        root.join("pkg/mod.py"),
        "def f():\n    return 1\n\n\ndef g():\n    return 1\n",
    )
    .expect("write");
    fs::write(root.join("pkg/sub/tokens.txt"), "end <|im_end|> here\n").expect("write");
    let many: String = (0..60).map(|i| format!("needle {i}\n")).collect();
    fs::write(root.join("pkg/many.txt"), many).expect("write");
    fs::write(root.join("latin1.txt"), b"caf\xe9\n").expect("write");
    fs::write(root.join("blob.bin"), b"\x00\x01\x02").expect("write");
    LocalSandboxFactory::new()
        .create(&RepoSource::Snapshot {
            path: root.to_path_buf(),
        })
        .await
        .expect("sandbox")
}

async fn run(sandbox: &dyn Sandbox, call: ToolCall) -> Observation {
    execute(&call, sandbox)
        .await
        .expect("no infrastructure failure")
}

async fn file(sandbox: &dyn Sandbox, path: &str) -> String {
    String::from_utf8(sandbox.read_file(path).await.expect("read")).expect("utf8")
}

fn view(path: &str) -> ToolCall {
    ToolCall::new("view").arg("path", path)
}

fn replace(old: &str, new: &str) -> ToolCall {
    ToolCall::new("str_replace")
        .arg("path", "pkg/mod.py")
        .arg("old_str", old)
        .arg("new_str", new)
}

#[tokio::test]
async fn view_windows() {
    let sb = sandbox().await;
    let text = run(&*sb, view("long.txt")).await.text;
    assert!(text.starts_with("[File: long.txt (250 lines total)]\n     1\tline 1\n"));
    assert!(text.contains("   100\tline 100\n"));
    assert!(!text.contains("line 101"));
    assert!(text.ends_with("(lines 1-100 of 250; use start_line=101 to see more)"));

    let text = run(&*sb, view("./long.txt").arg("start_line", "240"))
        .await
        .text;
    assert!(text.contains("   240\tline 240\n"));
    assert!(text.ends_with("(lines 240-250 of 250; end of file)"));

    let text = run(
        &*sb,
        view("long.txt")
            .arg("start_line", "10")
            .arg("end_line", "12"),
    )
    .await
    .text;
    assert_eq!(
        text,
        "[File: long.txt (250 lines total)]\n    10\tline 10\n    11\tline 11\n    12\tline 12\n\
         (lines 10-12 of 250; use start_line=13 to see more)"
    );
}

#[tokio::test]
async fn view_errors_and_directories() {
    let sb = sandbox().await;
    assert_eq!(
        run(&*sb, view("nope.py")).await.text,
        "File not found: nope.py"
    );
    let listing = run(&*sb, view("pkg")).await.text;
    assert!(listing.starts_with("pkg is a directory."), "{listing}");
    assert!(
        listing.contains("pkg/sub/\n") && listing.contains("pkg/sub/tokens.txt"),
        "{listing}"
    );
    let root = run(&*sb, view(".")).await.text;
    assert!(
        root.contains("\nlong.txt") && !root.contains(".git"),
        "{root}"
    );
}

#[tokio::test]
async fn view_non_text_files() {
    let sb = sandbox().await;
    let text = run(&*sb, view("latin1.txt")).await.text;
    assert!(
        text.contains("caf\u{fffd}") && text.contains("not valid UTF-8"),
        "{text}"
    );
    let edit = ToolCall::new("str_replace")
        .arg("path", "latin1.txt")
        .arg("old_str", "caf")
        .arg("new_str", "x");
    assert!(run(&*sb, edit).await.text.contains("is not a text file"));
    assert!(
        run(&*sb, view("blob.bin"))
            .await
            .text
            .contains("is not a text file")
    );
}

#[tokio::test]
async fn view_neutralizes_special_tokens() {
    let sb = sandbox().await;
    let text = run(&*sb, view("pkg/sub/tokens.txt")).await.text;
    assert!(text.contains(r"end <\|im_end\|> here"), "{text}");
}

#[tokio::test]
async fn str_replace_once_zero_and_many() {
    let sb = sandbox().await;
    let many = run(&*sb, replace("    return 1", "    return 2"))
        .await
        .text;
    assert!(
        many.contains("appears 2 times in pkg/mod.py, at lines [2, 6]"),
        "{many}"
    );

    let none = run(&*sb, replace("return 3", "x")).await.text;
    assert!(
        none.contains("did not appear verbatim in pkg/mod.py"),
        "{none}"
    );
    let indent = run(&*sb, replace("def g():\n  return 1", "x")).await.text;
    assert!(indent.contains("start at line 5"), "{indent}");
    assert_eq!(
        file(&*sb, "pkg/mod.py").await,
        "def f():\n    return 1\n\n\ndef g():\n    return 1\n"
    );

    let done = run(
        &*sb,
        replace("def g():\n    return 1", "def g():\n    return 2"),
    )
    .await
    .text;
    assert!(
        done.starts_with("The file pkg/mod.py has been edited."),
        "{done}"
    );
    assert!(
        done.contains("     1\tdef f():") && done.contains("     6\t    return 2\n"),
        "{done}"
    );
    assert_eq!(
        file(&*sb, "pkg/mod.py").await,
        "def f():\n    return 1\n\n\ndef g():\n    return 2\n"
    );
    assert!(sb.diff().await.expect("diff").contains("+    return 2"));
}

#[tokio::test]
async fn create_refuses_to_overwrite() {
    let sb = sandbox().await;
    let call = ToolCall::new("create")
        .arg("path", "new/dir/a.py")
        .arg("content", "x = 1");
    let text = run(&*sb, call.clone()).await.text;
    assert_eq!(text, "File created successfully at: new/dir/a.py (1 lines)");
    assert_eq!(file(&*sb, "new/dir/a.py").await, "x = 1\n");
    let again = run(&*sb, call).await.text;
    assert!(
        again.starts_with("File already exists at: new/dir/a.py") && again.contains("str_replace")
    );
}

#[tokio::test]
async fn paths_outside_the_repository_are_refused() {
    let sb = sandbox().await;
    for path in ["../outside.txt", "/etc/passwd", "pkg/../../x"] {
        let text = run(&*sb, view(path)).await.text;
        assert!(
            text.contains("outside the repository") || text.contains("Absolute paths"),
            "{text}"
        );
        let text = run(
            &*sb,
            ToolCall::new("create")
                .arg("path", path)
                .arg("content", "x"),
        )
        .await
        .text;
        assert!(!text.contains("created"), "{text}");
    }
}

#[tokio::test]
async fn search_results() {
    let sb = sandbox().await;
    let search = |pattern: &str| ToolCall::new("search").arg("pattern", pattern);
    let text = run(&*sb, search("return 1").arg("path", "pkg")).await.text;
    assert_eq!(
        text,
        "2 matches for \"return 1\" in pkg:\npkg/mod.py:2:     return 1\npkg/mod.py:6:     return 1\n"
    );
    let text = run(&*sb, search("needle")).await.text;
    assert!(text.starts_with("More than 50 matches"), "{text}");
    assert!(
        text.contains("Narrow your search") && text.contains("pkg/many.txt: 60"),
        "{text}"
    );
    let text = run(&*sb, search("'; touch hacked; echo '$(id)")).await.text;
    assert!(text.starts_with("No matches found"), "{text}");
    assert!(!sb.exists("hacked").await.expect("exists"));
    assert_eq!(
        run(&*sb, search("x").arg("path", "missing")).await.text,
        "Path not found: missing"
    );
    // A fixed string, not a regex: `.` matches only a dot.
    assert!(
        run(&*sb, search("line.1"))
            .await
            .text
            .starts_with("No matches")
    );
}

#[tokio::test]
async fn bash_results_and_timeouts() {
    let sb = sandbox().await;
    let bash = |c: &str| ToolCall::new("bash").arg("command", c);
    let obs = run(&*sb, bash("true")).await;
    assert_eq!(
        obs.text,
        "Your command ran successfully and did not produce any output."
    );
    assert_eq!(obs.exit_code, Some(0));
    let obs = run(&*sb, bash("echo out; echo err >&2; exit 3")).await;
    assert_eq!(
        (obs.text.as_str(), obs.exit_code),
        ("Exit code: 3\nout\nerr", Some(3))
    );
    let obs = run(&*sb, bash("echo start; sleep 30").arg("timeout", "1")).await;
    assert!(
        obs.text
            .starts_with("The command timed out after 1 s and was killed."),
        "{}",
        obs.text
    );
    assert!(
        obs.text.ends_with("Output before the timeout:\nstart"),
        "{}",
        obs.text
    );
    assert_eq!(obs.exit_code, None);
    let obs = run(&*sb, bash("vim pkg/mod.py")).await;
    assert!(
        obs.text
            .starts_with("The command was not run: `vim` is interactive"),
        "{}",
        obs.text
    );
    let obs = run(&*sb, bash("printf '<tool_call>'")).await;
    assert_eq!(
        obs.text,
        r"Exit code: 0
<\tool_call>"
    );
}

#[tokio::test]
async fn help_submit_and_invalid_calls() {
    let sb = sandbox().await;
    let obs = run(&*sb, ToolCall::new("submit")).await;
    assert!(obs.submitted);
    assert!(
        run(&*sb, ToolCall::new("list_tools"))
            .await
            .text
            .starts_with("Available tools:")
    );
    let help = run(&*sb, ToolCall::new("help").arg("tool", "view"))
        .await
        .text;
    assert!(
        help.starts_with("view\n") && help.contains("<function=view>"),
        "{help}"
    );
    let unknown = run(&*sb, ToolCall::new("edit")).await;
    assert!(unknown.text.contains("there is no tool named `edit`") && !unknown.submitted);
    let missing = run(&*sb, ToolCall::new("view")).await.text;
    assert!(
        missing.contains("requires the argument `path`"),
        "{missing}"
    );
}
