//! Connecting to the engine and the labels every apprentice object carries.

use std::collections::HashMap;

use bollard::Docker;

use crate::DockerError;

/// Label on every container and image apprentice creates; `images prune` and the start-up
/// clean-up only ever touch objects that carry it.
pub const LABEL: &str = "apprentice";
/// What an object is: `sandbox`, `build`, `base`, `env`.
pub const LABEL_KIND: &str = "apprentice.kind";
/// Host name of the process that owns a container.
pub const LABEL_HOST: &str = "apprentice.host";
/// Pid of the owning process.
pub const LABEL_PID: &str = "apprentice.pid";
/// Start time (clock ticks since boot, `/proc/<pid>/stat` field 22) of the owning process, so
/// a recycled pid is not mistaken for the owner.
pub const LABEL_STARTED: &str = "apprentice.started";
/// A per-process session id, to tell this run's containers apart in `docker ps`.
pub const LABEL_SESSION: &str = "apprentice.session";
/// For images: the spec key (hash) the image was built from.
pub const LABEL_SPEC: &str = "apprentice.spec";

/// Connects over the local socket (or `DOCKER_HOST`) and negotiates the API version down to
/// what the engine speaks: the client defaults to API 1.53, and older engines (20.10 speaks
/// 1.41) refuse newer versions outright.
pub async fn connect() -> Result<Docker, DockerError> {
    let docker =
        Docker::connect_with_defaults().map_err(|e| DockerError::Connect(e.to_string()))?;
    docker
        .negotiate_version()
        .await
        .map_err(|e| DockerError::Connect(e.to_string()))
}

/// This host's name, as stored in [`LABEL_HOST`].
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// The start time of process `pid` in clock ticks since boot, if it exists.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses; fields after the last
    // `)` are plain numbers. Start time is field 22, the 20th after the name.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// A per-process id: pid and start time, unique on this host across pid reuse.
pub fn session_id() -> String {
    let pid = std::process::id();
    format!("{pid}-{}", process_start_time(pid).unwrap_or_default())
}

/// The owner labels for a container made by this process.
pub fn owner_labels(kind: &str) -> HashMap<String, String> {
    let pid = std::process::id();
    HashMap::from([
        (LABEL.to_string(), "1".to_string()),
        (LABEL_KIND.to_string(), kind.to_string()),
        (LABEL_HOST.to_string(), hostname()),
        (LABEL_PID.to_string(), pid.to_string()),
        (
            LABEL_STARTED.to_string(),
            process_start_time(pid).unwrap_or_default().to_string(),
        ),
        (LABEL_SESSION.to_string(), session_id()),
    ])
}

/// True when the process that made a container with these labels is still running here.
/// Containers from other hosts sharing the engine are assumed alive: we cannot tell.
pub fn owner_alive(labels: &HashMap<String, String>) -> bool {
    if labels.get(LABEL_HOST).map(String::as_str) != Some(hostname().as_str()) {
        return true;
    }
    let Some(pid) = labels.get(LABEL_PID).and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    let started = labels
        .get(LABEL_STARTED)
        .and_then(|s| s.parse::<u64>().ok());
    match process_start_time(pid) {
        None => false,
        Some(now) => started.is_none_or(|s| s == now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_pid_is_not() {
        let mine = owner_labels("sandbox");
        assert!(owner_alive(&mine));
        let mut recycled = mine.clone();
        recycled.insert(LABEL_STARTED.into(), "1".into());
        assert!(!owner_alive(&recycled));
        let mut gone = mine.clone();
        gone.insert(LABEL_PID.into(), "4194304".into());
        assert!(!owner_alive(&gone));
        let mut elsewhere = gone;
        elsewhere.insert(LABEL_HOST.into(), "another-host".into());
        assert!(owner_alive(&elsewhere));
    }
}
