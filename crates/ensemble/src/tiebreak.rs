//! Asking the supervisor to break a majority tie: each tied patch is applied in a fresh
//! sandbox and shown to the supervisor as a `submit`, exactly as it would see an agent finish.
//! The ones it approves stay in the running. (The `oracle` supervisor knows the gold patch, so
//! a tie it breaks is a privileged choice, like everything the oracle does.)

use std::time::Duration;

use apprentice_core::{Message, Review, Role, Task, Transcript, Trigger, Verdict};
use apprentice_models::SupervisorSpec;
use apprentice_sandbox::{Sandbox, SandboxFactory};
use apprentice_tools::{ToolCall, ToolCatalog};

const APPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// Members among `tied` (member, patch) whose patch the supervisor approves as a submission,
/// and what asking cost.
pub async fn approved_by_supervisor(
    task: &Task,
    spec: &SupervisorSpec,
    tied: &[(usize, &str)],
    factory: &dyn SandboxFactory,
) -> Result<(Vec<usize>, f64), String> {
    let mut approved = Vec::new();
    let mut cost = 0.0;
    for &(member, patch) in tied {
        let Some(mut supervisor) = spec.build(task).map_err(|e| e.to_string())? else {
            return Ok((Vec::new(), 0.0));
        };
        let sandbox = factory
            .create_for(task.repo_source()?, &task.env_key())
            .await
            .map_err(|e| e.to_string())?;
        if !apply(sandbox.as_ref(), patch).await? {
            continue;
        }
        let catalog = ToolCatalog::standard();
        let mut messages: Vec<Message> = Transcript::start(task, &catalog).messages().to_vec();
        messages.push(Message::new(
            Role::User,
            format!("The agent's changes, about to be submitted:\n```diff\n{patch}\n```"),
        ));
        let submit = ToolCall::new("submit");
        let review = Review {
            task,
            messages: &messages,
            proposal_text: &catalog.render_call(&submit),
            proposal: &submit,
            trigger: Trigger::Routine,
            step: 0,
            sandbox: sandbox.as_ref(),
        };
        let judgement = supervisor
            .review(&review)
            .await
            .map_err(|e| format!("supervisor tie-break: {e}"))?;
        cost += judgement.usage.cost_usd;
        if judgement.verdict == Verdict::Approve {
            approved.push(member);
        }
    }
    Ok((approved, cost))
}

/// Applies `patch` with `git apply`; false when it does not apply.
async fn apply(sandbox: &dyn Sandbox, patch: &str) -> Result<bool, String> {
    let file = ".git/apprentice-candidate.patch";
    let mut bytes = patch.as_bytes().to_vec();
    if !patch.ends_with('\n') {
        bytes.push(b'\n');
    }
    sandbox
        .write_file(file, &bytes)
        .await
        .map_err(|e| e.to_string())?;
    let out = sandbox
        .exec(&format!("git apply {file} && rm -f {file}"), APPLY_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    Ok(out.success())
}
