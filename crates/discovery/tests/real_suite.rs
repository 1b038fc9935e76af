//! CI's proof of the real suite: when `tasks/discovery` exists in the repository, every task
//! and seed must validate (oracle passes, doing nothing fails, services die). Eight pairs at
//! a time: the tasks mostly wait on their services, not on the CPU.

use std::path::Path;

use apprentice_discovery::{load_suite, validate_suite};

#[tokio::test]
async fn the_repository_suite_validates_when_present() {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tasks/discovery");
    if !suite.is_dir() {
        eprintln!("no {} yet; nothing to validate", suite.display());
        return;
    }
    let tasks = load_suite(&suite).unwrap_or_else(|e| panic!("{e}"));
    let results = validate_suite(&tasks, 8, &|_| {}).await;
    let invalid: Vec<String> = results
        .iter()
        .filter(|r| !r.valid)
        .map(|r| {
            format!(
                "{} seed {}: {}",
                r.task,
                r.seed,
                r.reason.clone().unwrap_or_default()
            )
        })
        .collect();
    assert!(
        invalid.is_empty(),
        "invalid task seeds:\n{}",
        invalid.join("\n")
    );
}
