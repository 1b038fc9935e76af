//! The supervised agent loop: propose, parse, judge, execute, record, until `submit`.

use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use apprentice_sandbox::Sandbox;
use apprentice_tools::{ToolCall, ToolSet, parse_tool_call, vet_call};
use serde::{Deserialize, Serialize};

use crate::record::{Recorder, StepEvent, VerdictRecord};
use crate::stuck::StuckDetector;
use crate::supervision::{Review, SupervisionMode, Supervisor, Trigger, Verdict};
use crate::{ModelError, Policy, Task, Transcript, Usage};

#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Policy turns per episode, format errors included.
    pub max_steps: usize,
    /// Consecutive unparseable replies after which the episode ends.
    pub max_format_errors: usize,
    pub mode: SupervisionMode,
    /// Dollars per episode, policy and supervisor together, checked before each call.
    pub max_cost_usd: Option<f64>,
    pub max_wall_time: Option<Duration>,
    /// Seeds the `sample:F` draws, so a rerun reviews the same steps.
    pub seed: u64,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            max_steps: 30,
            max_format_errors: 5,
            mode: SupervisionMode::Every,
            max_cost_usd: None,
            max_wall_time: None,
            seed: 0,
        }
    }
}

/// Why an episode stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpisodeEnd {
    Submitted,
    StepLimit,
    FormatErrors,
    CostLimit,
    WallTime,
}

impl EpisodeEnd {
    pub fn as_str(&self) -> &'static str {
        match self {
            EpisodeEnd::Submitted => "submitted",
            EpisodeEnd::StepLimit => "step_limit",
            EpisodeEnd::FormatErrors => "format_errors",
            EpisodeEnd::CostLimit => "cost_limit",
            EpisodeEnd::WallTime => "wall_time",
        }
    }
}

#[derive(Debug, Clone)]
pub struct EpisodeSummary {
    pub end: EpisodeEnd,
    pub patch: String,
    pub steps: usize,
    pub proposals: usize,
    pub interventions: usize,
    pub format_errors: usize,
    pub policy_usage: Usage,
    pub supervisor_usage: Usage,
}

/// An episode that could not finish for reasons outside the agent's control.
#[derive(Debug, thiserror::Error)]
pub enum EpisodeError {
    #[error("model call failed: {0}")]
    Model(#[from] ModelError),
    #[error("sandbox failed: {0}")]
    Sandbox(String),
    #[error(transparent)]
    Record(#[from] crate::RecordError),
}

impl EpisodeError {
    /// Whether retrying the attempt could help (the agent is not to blame).
    pub fn is_infrastructure(&self) -> bool {
        match self {
            EpisodeError::Model(e) => e.infrastructure,
            EpisodeError::Sandbox(_) | EpisodeError::Record(_) => true,
        }
    }
}

/// Everything one episode works with. The opening transcript and the tool set are chosen by
/// the caller, so task kinds other than "fix this repository" reuse the same loop.
pub struct Episode<'a> {
    pub task: &'a Task,
    pub transcript: Transcript,
    pub tools: &'a dyn ToolSet,
    pub policy: &'a mut dyn Policy,
    pub supervisor: Option<&'a mut dyn Supervisor>,
    pub sandbox: &'a dyn Sandbox,
    pub recorder: &'a mut dyn Recorder,
}

/// Runs one episode to `submit` or a limit.
pub async fn run_episode(
    episode: Episode<'_>,
    config: &AgentConfig,
) -> Result<EpisodeSummary, EpisodeError> {
    let Episode {
        task,
        mut transcript,
        tools,
        policy,
        mut supervisor,
        sandbox,
        recorder,
    } = episode;
    let catalog = tools.catalog();
    recorder.start(transcript.messages()).await?;
    let mut detector = StuckDetector::default();
    let mut summary = EpisodeSummary {
        end: EpisodeEnd::StepLimit,
        patch: String::new(),
        steps: 0,
        proposals: 0,
        interventions: 0,
        format_errors: 0,
        policy_usage: Usage::default(),
        supervisor_usage: Usage::default(),
    };
    let started = Instant::now();
    let mut consecutive_format_errors = 0;

    for step in 0..config.max_steps {
        let prompt = transcript.for_policy();
        let prompt_chars = prompt.iter().map(|m| m.content.len()).sum();
        if let Some(end) = out_of_budget(
            config,
            &summary,
            started,
            policy.max_call_cost(prompt_chars),
        ) {
            summary.end = end;
            break;
        }
        let policy_started = Instant::now();
        let completion = policy.propose(task, &prompt).await?;
        summary.policy_usage += completion.usage;
        summary.steps += 1;
        let mut event = StepEvent {
            index: step,
            proposal_text: completion.text.clone(),
            proposal: None,
            format_error: None,
            verdict: None,
            executed: None,
            observation: String::new(),
            tool_output: None,
            exit_code: None,
            policy_usage: completion.usage,
            policy_millis: millis(policy_started),
            exec_millis: 0,
        };

        let parsed = parse_tool_call(&completion.text, catalog)
            .and_then(|p| vet_call(p, completion.truncated));
        let submitted = match parsed {
            Err(error) => {
                summary.format_errors += 1;
                consecutive_format_errors += 1;
                detector.format_error();
                event.format_error = Some(error.kind().to_string());
                event.observation = error.observation();
                false
            }
            Ok(parsed) => {
                consecutive_format_errors = 0;
                summary.proposals += 1;
                let call = parsed.call;
                event.proposal = Some(call.clone());
                let context = ReviewContext {
                    task,
                    messages: transcript.messages(),
                    proposal_text: &completion.text,
                    sandbox,
                    step,
                };
                let trigger = review_trigger(config, &detector, &call, task, step);
                let verdict = match (trigger, supervisor.as_deref_mut()) {
                    (Some(trigger), Some(supervisor)) => {
                        if let Some(end) = out_of_budget(
                            config,
                            &summary,
                            started,
                            supervisor.max_call_cost(prompt_chars),
                        ) {
                            event.observation = format!(
                                "The episode stopped before this action could be reviewed ({}).",
                                end.as_str()
                            );
                            recorder.record(&event).await?;
                            summary.end = end;
                            break;
                        }
                        Some(judge(supervisor, &context, &call, trigger, config.mode).await?)
                    }
                    _ => None,
                };
                if let Some(record) = &verdict {
                    summary.supervisor_usage += record.usage;
                    if record.verdict.is_intervention() {
                        summary.interventions += 1;
                    }
                }
                act(&call, verdict, tools, sandbox, &mut event, &mut detector).await?
            }
        };
        recorder.record(&event).await?;
        transcript.push_turn(&completion.text, &event.observation);
        if submitted {
            summary.end = EpisodeEnd::Submitted;
            break;
        }
        if consecutive_format_errors >= config.max_format_errors {
            summary.end = EpisodeEnd::FormatErrors;
            break;
        }
    }
    summary.patch = sandbox
        .diff()
        .await
        .map_err(|e| EpisodeError::Sandbox(e.to_string()))?;
    Ok(summary)
}

struct ReviewContext<'a> {
    task: &'a Task,
    messages: &'a [crate::Message],
    proposal_text: &'a str,
    sandbox: &'a dyn Sandbox,
    step: usize,
}

fn out_of_budget(
    config: &AgentConfig,
    summary: &EpisodeSummary,
    started: Instant,
    next_call: f64,
) -> Option<EpisodeEnd> {
    if config
        .max_wall_time
        .is_some_and(|limit| started.elapsed() >= limit)
    {
        return Some(EpisodeEnd::WallTime);
    }
    let spent = summary.policy_usage.cost_usd + summary.supervisor_usage.cost_usd;
    config
        .max_cost_usd
        .filter(|&limit| spent + next_call > limit)
        .map(|_| EpisodeEnd::CostLimit)
}

/// Whether (and why) the supervisor should see this proposal. A supervisor that sees every
/// proposal is still told when the agent looks stuck, so it can steer rather than approve.
fn review_trigger(
    config: &AgentConfig,
    detector: &StuckDetector,
    call: &ToolCall,
    task: &Task,
    step: usize,
) -> Option<Trigger> {
    let stuck = detector
        .reason(call, step, config.max_steps)
        .map(Trigger::Stuck);
    match config.mode {
        SupervisionMode::Every | SupervisionMode::Shadow => Some(stuck.unwrap_or(Trigger::Routine)),
        SupervisionMode::Stuck => stuck,
        SupervisionMode::Sample(fraction) => {
            (draw(config.seed, &task.instance_id, step) < fraction).then_some(Trigger::Routine)
        }
    }
}

/// A uniform draw in [0, 1) that depends only on the seed, task and step.
fn draw(seed: u64, task: &str, step: usize) -> f64 {
    let mut hasher = std::hash::DefaultHasher::new();
    (seed, task, step).hash(&mut hasher);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

async fn judge(
    supervisor: &mut dyn Supervisor,
    context: &ReviewContext<'_>,
    call: &ToolCall,
    trigger: Trigger,
    mode: SupervisionMode,
) -> Result<VerdictRecord, ModelError> {
    let started = Instant::now();
    let review = Review {
        task: context.task,
        messages: context.messages,
        proposal_text: context.proposal_text,
        proposal: call,
        trigger: trigger.clone(),
        step: context.step,
        sandbox: context.sandbox,
    };
    let judgement = supervisor.review(&review).await?;
    Ok(VerdictRecord {
        verdict: judgement.verdict,
        trigger,
        shadow: mode == SupervisionMode::Shadow,
        usage: judgement.usage,
        millis: millis(started),
    })
}

/// Carries out the verdict: runs the proposal, the revision or nothing, and writes what the
/// policy reads back. Returns whether the episode was submitted.
async fn act(
    proposal: &ToolCall,
    verdict: Option<VerdictRecord>,
    tools: &dyn ToolSet,
    sandbox: &dyn Sandbox,
    event: &mut StepEvent,
    detector: &mut StuckDetector,
) -> Result<bool, EpisodeError> {
    let effective = match &verdict {
        Some(record) if !record.shadow => Some(record.verdict.clone()),
        _ => None,
    };
    event.verdict = verdict;
    let (action, preface, suffix) = match effective {
        None | Some(Verdict::Approve) => (proposal.clone(), String::new(), String::new()),
        Some(Verdict::Reject { reason }) => {
            event.observation = format!("Action rejected: {reason}");
            return Ok(false);
        }
        Some(Verdict::Revise { action, reason }) => {
            let preface = format!(
                "Your action was replaced by the supervisor: {reason}\nThis ran instead:\n{}\nResult:\n",
                tools.catalog().render_call(&action)
            );
            (action, preface, String::new())
        }
        Some(Verdict::Hint { text }) => (
            proposal.clone(),
            String::new(),
            format!("\n\nSupervisor hint: {text}"),
        ),
    };
    let started = Instant::now();
    let observation = tools
        .execute(&action, sandbox)
        .await
        .map_err(|e| EpisodeError::Sandbox(e.to_string()))?;
    event.exec_millis = millis(started);
    event.exit_code = observation.exit_code;
    event.observation = format!("{preface}{}{suffix}", observation.text);
    event.tool_output = Some(observation.text.clone());
    event.executed = Some(action.clone());
    detector.executed(&action, observation.exit_code);
    Ok(observation.submitted)
}

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_deterministic_and_roughly_uniform() {
        let hits = (0..1000).filter(|&s| draw(7, "task", s) < 0.3).count();
        assert!((250..350).contains(&hits), "{hits}");
        assert_eq!(draw(1, "a", 3), draw(1, "a", 3));
    }
}
