//! How results and failures reach the user: aligned tables or one JSON document on stdout,
//! one-line errors on stderr, and the exit codes of the contract (0 ok, 1 failed, 2 bad input).

use std::process::ExitCode;

use serde::Serialize;

/// A command that could not do its job.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage or bad input: exit 2 with a one-line message naming what to fix.
    Input(String),
    /// The work ran and broke: exit 1.
    Crash(anyhow::Error),
}

impl Failure {
    pub fn report(self) -> ExitCode {
        match self {
            Failure::Input(message) => {
                eprintln!("error: {message}");
                ExitCode::from(2)
            }
            Failure::Crash(error) => {
                eprintln!("error: {error:#}");
                ExitCode::from(1)
            }
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Crash(error)
    }
}

impl From<apprentice_store::StoreError> for Failure {
    fn from(error: apprentice_store::StoreError) -> Self {
        match error {
            apprentice_store::StoreError::Usage(message) => Failure::Input(message),
            other => Failure::Crash(other.into()),
        }
    }
}

pub type CommandResult = Result<ExitCode, Failure>;

/// Prints `value` as the command's one JSON document.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::Crash(e.into()))?;
    println!("{text}");
    Ok(())
}

/// A plain text table with aligned columns; numbers are right-aligned.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(cell, &w)| {
                    if looks_numeric(cell) {
                        format!("{cell:>w$}")
                    } else {
                        format!("{cell:<w$}")
                    }
                })
                .collect();
            padded.join("  ").trim_end().to_string()
        };
        let mut out = line(&self.header);
        out.push('\n');
        out.push_str(
            &widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("  "),
        );
        for row in &self.rows {
            out.push('\n');
            out.push_str(&line(row));
        }
        out
    }
}

fn looks_numeric(cell: &str) -> bool {
    !cell.is_empty()
        && cell
            .trim_end_matches('%')
            .trim_start_matches('$')
            .parse::<f64>()
            .is_ok()
}

pub fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

pub fn dollars(cost: f64) -> String {
    format!("${cost:.4}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_text_left_and_numbers_right() {
        let mut table = Table::new(&["task", "steps"]);
        table.row(vec!["a-long-name".into(), "3".into()]);
        table.row(vec!["b".into(), "12".into()]);
        assert_eq!(
            table.render(),
            "task         steps\n-----------  -----\na-long-name      3\nb               12"
        );
    }
}
