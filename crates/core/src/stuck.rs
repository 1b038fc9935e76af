//! Signs that an agent is stuck, for the `stuck` supervision mode.

use apprentice_tools::ToolCall;

/// What the loop remembers about recent turns to spot loops.
#[derive(Debug, Default)]
pub(crate) struct StuckDetector {
    recent: Vec<(ToolCall, Option<i32>)>,
    consecutive_format_errors: usize,
}

impl StuckDetector {
    pub(crate) fn format_error(&mut self) {
        self.consecutive_format_errors += 1;
    }

    pub(crate) fn executed(&mut self, call: &ToolCall, exit_code: Option<i32>) {
        self.consecutive_format_errors = 0;
        self.recent.push((call.clone(), exit_code));
        if self.recent.len() > 8 {
            self.recent.remove(0);
        }
    }

    /// Why the agent looks stuck before it runs `proposal` at step `step` of `max_steps`.
    pub(crate) fn reason(
        &self,
        proposal: &ToolCall,
        step: usize,
        max_steps: usize,
    ) -> Option<String> {
        if self.consecutive_format_errors >= 2 {
            return Some(format!(
                "{} format errors in a row",
                self.consecutive_format_errors
            ));
        }
        let repeats = self
            .recent
            .iter()
            .rev()
            .take_while(|(call, _)| call == proposal)
            .count();
        if repeats >= 2 {
            return Some(format!(
                "the same action proposed {} times in a row",
                repeats + 1
            ));
        }
        let failing_repeat = self
            .recent
            .iter()
            .rev()
            .take(3)
            .any(|(call, code)| call == proposal && call.name == "bash" && *code != Some(0));
        if failing_repeat {
            return Some("repeating a command that failed".into());
        }
        if max_steps > 0 && step * 5 >= max_steps * 4 {
            return Some(format!("step {} of a budget of {max_steps}", step + 1));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bash(cmd: &str) -> ToolCall {
        ToolCall::new("bash").arg("command", cmd)
    }

    #[test]
    fn spots_repeats_failures_format_slips_and_budget() {
        let mut detector = StuckDetector::default();
        assert_eq!(detector.reason(&bash("ls"), 0, 30), None);
        detector.executed(&bash("pytest"), Some(1));
        assert!(
            detector
                .reason(&bash("pytest"), 1, 30)
                .unwrap()
                .contains("failed")
        );
        detector.executed(&bash("ls"), Some(0));
        detector.executed(&bash("ls"), Some(0));
        assert!(
            detector
                .reason(&bash("ls"), 3, 30)
                .unwrap()
                .contains("3 times")
        );
        detector.format_error();
        detector.format_error();
        assert!(
            detector
                .reason(&bash("cat x"), 5, 30)
                .unwrap()
                .contains("format")
        );
        let mut fresh = StuckDetector::default();
        assert!(
            fresh
                .reason(&bash("ls"), 24, 30)
                .unwrap()
                .contains("budget")
        );
        fresh.format_error();
        assert_eq!(fresh.reason(&bash("ls"), 1, 30), None);
    }
}
