use apprentice_sandbox::{EnvKey, RepoSource};
use serde::{Deserialize, Serialize};

/// One coding task in SWE-bench's shape, plus where its repository lives on this machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub instance_id: String,
    pub repo: String,
    pub base_commit: String,
    /// The gold fix. Only privileged parts (the oracle supervisor, `scripted:gold`, the
    /// validator) read it; it never enters the policy's prompt.
    pub patch: String,
    pub test_patch: String,
    pub problem_statement: String,
    pub hints_text: String,
    pub created_at: String,
    pub version: String,
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass: Vec<String>,
    pub environment_setup_commit: String,
    /// The command that runs the tests; the test files touched by `test_patch` are appended.
    pub test_cmd: String,
    #[serde(skip)]
    pub source: Option<RepoSource>,
}

impl Task {
    /// What picks this task's environment in container sandboxes.
    pub fn env_key(&self) -> EnvKey {
        EnvKey {
            repo: self.repo.clone(),
            version: self.version.clone(),
        }
    }

    /// The repository source, or an error naming the task when it has none on this machine.
    pub fn repo_source(&self) -> Result<&RepoSource, String> {
        self.source.as_ref().ok_or_else(|| {
            format!(
                "task `{}`: no local copy of repository `{}` (pass --repos DIR with a mirror)",
                self.instance_id, self.repo
            )
        })
    }
}
