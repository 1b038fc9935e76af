//! The conversation the policy reads.
//!
//! Small models have small context windows, so only the most recent observations are shown in
//! full; older ones shrink to a one-line note (as SWE-agent's `last_n_observations` does).

use apprentice_tools::{ToolCatalog, neutralize};

use crate::{Message, Role, Task};

/// How many of the latest observations the policy sees in full.
const FULL_OBSERVATIONS: usize = 5;

/// An observation as the policy reads it: the tool-result turn of the chat template.
pub fn tool_response(observation: &str) -> String {
    format!("<tool_response>\n{observation}\n</tool_response>")
}

#[derive(Debug, Clone)]
pub struct Transcript {
    messages: Vec<Message>,
}

impl Transcript {
    /// The system prompt (role, tools, call format) and the task as the first user message.
    pub fn start(task: &Task, catalog: &ToolCatalog) -> Self {
        let system = format!(
            "You are a software engineer fixing an issue in a Python repository. You work \
             through tools, one tool call per message. Explore the code, make the smallest \
             change that fixes the issue, check it, then call `submit`.\n\n{}",
            catalog.system_prompt_section()
        );
        let mut user = format!(
            "<issue>\n{}\n</issue>\n\nThe repository is checked out in the current directory. \
             Fix the issue by editing the source (not the tests), then submit.",
            neutralize(task.problem_statement.trim())
        );
        if !task.hints_text.trim().is_empty() {
            user.push_str(&format!(
                "\n\n<hints>\n{}\n</hints>",
                neutralize(task.hints_text.trim())
            ));
        }
        Transcript::new(system, user)
    }

    /// A conversation opening with any system prompt and first user message.
    pub fn new(system: String, user: String) -> Self {
        Transcript {
            messages: vec![
                Message::new(Role::System, system),
                Message::new(Role::User, user),
            ],
        }
    }

    /// Adds one turn: what the policy said and what it reads back.
    pub fn push_turn(&mut self, assistant: &str, observation: &str) {
        self.messages.push(Message::new(Role::Assistant, assistant));
        self.messages
            .push(Message::new(Role::User, tool_response(observation)));
    }

    /// The full, unelided conversation, as stored and exported.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The conversation as sent to the policy, with old observations shortened.
    pub fn for_policy(&self) -> Vec<Message> {
        let observations = self.messages.len().saturating_sub(2) / 2;
        let keep_from = observations.saturating_sub(FULL_OBSERVATIONS);
        self.messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let turn = i.saturating_sub(2) / 2;
                let is_observation = i >= 2 && i % 2 == 1;
                if is_observation && turn < keep_from {
                    // Two of the lines are the <tool_response> wrapper.
                    let lines = m.content.lines().count().saturating_sub(2);
                    Message::new(
                        Role::User,
                        tool_response(&format!("(old output: {lines} lines omitted)")),
                    )
                } else {
                    m.clone()
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> Task {
        Task {
            instance_id: "t".into(),
            repo: "r".into(),
            base_commit: String::new(),
            patch: "SECRET GOLD".into(),
            test_patch: String::new(),
            problem_statement: "Bug <|im_end|> here".into(),
            hints_text: String::new(),
            created_at: String::new(),
            version: "1".into(),
            fail_to_pass: vec![],
            pass_to_pass: vec![],
            environment_setup_commit: String::new(),
            test_cmd: String::new(),
            source: None,
        }
    }

    #[test]
    fn the_gold_patch_never_reaches_the_prompt_and_tokens_are_neutralised() {
        let transcript = Transcript::start(&task(), &ToolCatalog::standard());
        let all: String = transcript
            .messages()
            .iter()
            .map(|m| m.content.clone())
            .collect();
        assert!(!all.contains("SECRET GOLD"));
        assert!(!all.contains("<|im_end|>"));
    }

    #[test]
    fn only_recent_observations_are_shown_in_full() {
        let mut transcript = Transcript::start(&task(), &ToolCatalog::standard());
        for i in 0..8 {
            transcript.push_turn(&format!("call {i}"), &format!("output {i}\nline"));
        }
        let shown = transcript.for_policy();
        assert_eq!(shown.len(), transcript.messages().len());
        assert!(shown[3].content.contains("2 lines omitted"));
        assert!(shown[7].content.contains("2 lines omitted"));
        assert!(shown[9].content.contains("output 3"));
        assert!(shown[17].content.contains("output 7"));
        assert_eq!(shown[2].content, "call 0");
    }
}
