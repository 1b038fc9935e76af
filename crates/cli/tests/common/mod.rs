//! Helpers for driving the real `apprentice` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("store.db")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("apprentice").unwrap();
        cmd.arg("--db")
            .arg(self.db())
            .arg("-q")
            .env_remove("APPRENTICE_REPOS");
        cmd
    }

    /// The stored steps of the first episode in a run summary.
    pub fn first_episode_steps(&self, summary: &Value) -> Vec<Value> {
        let episode = summary["episodes_detail"][0]["episode"]
            .as_i64()
            .unwrap()
            .to_string();
        let (_, shown) = self.json(&["show", "--episode", &episode]);
        shown["steps"].as_array().unwrap().clone()
    }

    pub fn json(&self, args: &[&str]) -> (Output, Value) {
        let output = self.cmd().args(args).arg("--json").output().unwrap();
        let value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        (output, value)
    }
}

/// A tool call in the Qwen3-Coder form the policy writes.
pub fn call(name: &str, args: &[(&str, &str)]) -> String {
    let mut text = format!("<tool_call>\n<function={name}>\n");
    for (key, value) in args {
        text.push_str(&format!("<parameter={key}>\n{value}\n</parameter>\n"));
    }
    text.push_str("</function>\n</tool_call>");
    text
}

/// The wrong fix for `demo__numerals-1`: it narrows the range instead of including 3999.
pub fn wrong_numerals_edit() -> String {
    call(
        "str_replace",
        &[
            ("path", "numerals/convert.py"),
            ("old_str", "    if not MIN_VALUE <= number < MAX_VALUE:"),
            ("new_str", "    if not MIN_VALUE < number < MAX_VALUE:"),
        ],
    )
}

pub fn script(path: &Path, replies: &[String]) {
    std::fs::write(path, serde_json::to_string(replies).unwrap()).unwrap();
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Answers one HTTP request per body on `listener`, in order, then stops listening (a server
/// that goes away). Returns every request it saw, headers and body, as text.
pub fn serve_json(
    listener: std::net::TcpListener,
    bodies: Vec<String>,
) -> std::thread::JoinHandle<Vec<String>> {
    use std::io::{BufRead, BufReader, Read, Write};
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for body in bodies {
            let Ok((mut stream, _)) = listener.accept() else {
                break;
            };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut request, mut length) = (String::new(), 0);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                request.push_str(&line);
            }
            let mut content = vec![0; length];
            let _ = reader.read_exact(&mut content);
            request.push_str(&String::from_utf8_lossy(&content));
            seen.push(request);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        seen
    })
}
