//! Containers never outlive their run.
//!
//! Three layers, because each alone leaks: a sandbox removes its container when dropped; a
//! Ctrl-C (or SIGTERM) handler removes every container this process still holds before
//! exiting, since a signal skips destructors; and a start-up sweep removes containers whose
//! owner process is gone (a `kill -9`, a crash, a power cut), identified by the owner labels
//! of [`crate::engine`].

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};

use crate::DockerError;
use crate::engine::{LABEL, owner_alive};

fn live() -> &'static Mutex<HashSet<String>> {
    static LIVE: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Records a container this process must remove before exiting.
pub fn track(id: &str) {
    if let Ok(mut set) = live().lock() {
        set.insert(id.to_string());
    }
}

/// Forgets a container once it has been removed.
pub fn untrack(id: &str) {
    if let Ok(mut set) = live().lock() {
        set.remove(id);
    }
}

/// The containers this process still holds.
pub fn tracked() -> Vec<String> {
    live()
        .lock()
        .map(|s| s.iter().cloned().collect())
        .unwrap_or_default()
}

/// Force-removes a container (killing it first), ignoring "already gone".
pub async fn remove(docker: &Docker, id: &str) -> Result<(), DockerError> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => {}
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        // 409: removal already in progress.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => {}
        Err(e) => return Err(e.into()),
    }
    untrack(id);
    Ok(())
}

/// Removes every tracked container, each with a time limit so a hung engine cannot keep a
/// Ctrl-C'd process alive.
pub async fn remove_tracked(docker: &Docker) {
    let ids = tracked();
    let removals = ids.iter().map(|id| async move {
        match tokio::time::timeout(Duration::from_secs(20), remove(docker, id)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not remove container {id}: {e}"),
            Err(_) => eprintln!("warning: timed out removing container {id}"),
        }
    });
    futures::future::join_all(removals).await;
}

/// Installs (once per process) a handler that, on Ctrl-C or SIGTERM, removes the containers
/// this process holds and exits with 130 / 143, as the shell would report the signal.
pub fn install_signal_cleanup(docker: &Docker) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if INSTALLED.set(()).is_err() {
        return;
    }
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let docker = docker.clone();
    handle.spawn(async move {
        let code = wait_for_signal().await;
        let held = tracked().len();
        if held > 0 {
            eprintln!("interrupted: removing {held} container(s)");
        }
        remove_tracked(&docker).await;
        std::process::exit(code);
    });
}

async fn wait_for_signal() -> i32 {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return 130;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => 130,
        _ = term.recv() => 143,
    }
}

/// Removes apprentice containers whose owner process is gone. With `all`, removes every
/// apprentice container not owned by this process (for `images prune --all` on a quiet host).
/// Returns the names (or ids) removed.
pub async fn sweep_stale(docker: &Docker, all: bool) -> Result<Vec<String>, DockerError> {
    let filters = HashMap::from([("label", vec![format!("{LABEL}=1")])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let mine = tracked();
    let mut removed = Vec::new();
    for container in docker.list_containers(Some(options)).await? {
        let Some(id) = container.id.clone() else {
            continue;
        };
        if mine.contains(&id) {
            continue;
        }
        let labels = container.labels.clone().unwrap_or_default();
        let own_session =
            labels.get(crate::engine::LABEL_SESSION) == Some(&crate::engine::session_id());
        if own_session || (!all && owner_alive(&labels)) {
            continue;
        }
        remove(docker, &id).await?;
        let name = container
            .names
            .and_then(|n| n.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or(id);
        removed.push(name);
    }
    if !removed.is_empty() {
        tracing::info!("removed {} stale container(s)", removed.len());
    }
    Ok(removed)
}
