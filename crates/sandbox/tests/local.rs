//! The local sandbox against real processes, files and git.

use std::time::{Duration, Instant};

use apprentice_sandbox::{LocalSandboxFactory, OutputCap, RepoSource, Sandbox, SandboxFactory};

async fn sandbox_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Box<dyn Sandbox>) {
    let src = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let full = src.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    let factory = LocalSandboxFactory::new().with_output_cap(OutputCap {
        head: 1000,
        tail: 1000,
    });
    let sandbox = factory
        .create(&RepoSource::Snapshot {
            path: src.path().to_path_buf(),
        })
        .await
        .unwrap();
    (src, sandbox)
}

#[tokio::test]
async fn runs_commands_at_the_root_and_reports_exit_codes() {
    let (_src, sb) = sandbox_with(&[("a.txt", "hello\n")]).await;
    let out = sb
        .exec("cat a.txt; echo err >&2; exit 3", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(out.exit_code, Some(3));
    assert_eq!(out.output, "hello\nerr\n");
    assert!(!out.timed_out);
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let (_src, sb) = sandbox_with(&[]).await;
    let started = Instant::now();
    let out = sb
        .exec(
            "(sleep 30; echo leaked > leaked.txt) & sleep 30",
            Duration::from_millis(300),
        )
        .await
        .unwrap();
    assert!(out.timed_out);
    assert_eq!(out.exit_code, None);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!sb.exists("leaked.txt").await.unwrap());
}

#[tokio::test]
async fn background_children_do_not_hold_the_command_open() {
    let (_src, sb) = sandbox_with(&[]).await;
    let started = Instant::now();
    let out = sb
        .exec("sleep 30 & echo started", Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(out.exit_code, Some(0));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn huge_output_is_capped_with_head_and_tail() {
    let (_src, sb) = sandbox_with(&[]).await;
    let out = sb
        .exec(
            "head -c 50000000 /dev/zero | tr '\\0' 'x'; echo; echo THE-END",
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(out.elided_bytes > 49_000_000);
    assert!(out.output.len() < 3000);
    assert!(out.output.trim_end().ends_with("THE-END"));
    assert!(out.output.contains("bytes of output elided"));
}

#[tokio::test]
async fn non_utf8_output_is_decoded_lossily() {
    let (_src, sb) = sandbox_with(&[]).await;
    let out = sb
        .exec("printf 'a\\377b'", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(out.output, "a\u{fffd}b");
}

#[tokio::test]
async fn secrets_in_the_host_environment_do_not_reach_commands() {
    // SAFETY: this test binary sets the variable before spawning any thread that reads env.
    unsafe { std::env::set_var("ANTHROPIC_API_KEY", "sk-ant-secret") };
    let (_src, sb) = sandbox_with(&[]).await;
    let out = sb.exec("env", Duration::from_secs(10)).await.unwrap();
    assert!(!out.output.contains("sk-ant-secret"));
    assert!(out.output.contains("PAGER=cat"));
}

#[tokio::test]
async fn paths_outside_the_repository_are_refused() {
    let (_src, sb) = sandbox_with(&[("pkg/a.py", "x = 1\n")]).await;
    assert_eq!(sb.read_file("pkg/../pkg/a.py").await.unwrap(), b"x = 1\n");
    for bad in ["../secret", "/etc/passwd", "pkg/../../x"] {
        assert!(sb.read_file(bad).await.is_err(), "{bad} should be refused");
        assert!(
            sb.write_file(bad, b"x").await.is_err(),
            "{bad} should be refused"
        );
    }
    sb.exec("ln -s /etc link", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(sb.read_file("link/passwd").await.is_err());
}

#[tokio::test]
async fn diff_shows_edits_and_new_files_but_not_caches() {
    let (_src, sb) = sandbox_with(&[("pkg/a.py", "x = 1\n")]).await;
    assert_eq!(sb.diff().await.unwrap(), "");
    sb.write_file("pkg/a.py", b"x = 2\n").await.unwrap();
    sb.write_file("pkg/new.py", b"y = 1\n").await.unwrap();
    sb.write_file("pkg/__pycache__/a.cpython-311.pyc", b"\0")
        .await
        .unwrap();
    let diff = sb.diff().await.unwrap();
    assert!(diff.contains("-x = 1\n+x = 2"));
    assert!(diff.contains("new file mode"));
    assert!(!diff.contains("pycache"));
}

#[tokio::test]
async fn git_source_has_no_later_history() {
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(repo.path())
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    git(&["init", "-q"]);
    std::fs::write(repo.path().join("f.txt"), "old\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "one"]);
    let base = String::from_utf8(
        std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(repo.path())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::fs::write(repo.path().join("f.txt"), "future fix\n").unwrap();
    git(&["commit", "-qam", "the future"]);

    let source = RepoSource::Git {
        path: repo.path().to_path_buf(),
        base_commit: base.trim().to_string(),
    };
    let sb = LocalSandboxFactory::new().create(&source).await.unwrap();
    assert_eq!(sb.read_file("f.txt").await.unwrap(), b"old\n");
    let log = sb
        .exec("git log --all --oneline | wc -l", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(log.output.trim(), "1");
}

#[tokio::test]
async fn missing_source_is_a_setup_error() {
    let factory = LocalSandboxFactory::new();
    let err = factory
        .create(&RepoSource::Snapshot {
            path: "/nonexistent/apprentice".into(),
        })
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("/nonexistent/apprentice"), "{err}");
}
