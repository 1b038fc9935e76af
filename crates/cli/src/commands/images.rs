//! `apprentice images list|build SRC|prune`: the Docker images verification runs in.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use apprentice_docker::{DockerSandboxFactory, EnvSpec};
use apprentice_sandbox::EnvKey;
use clap::Subcommand;
use serde_json::json;

use super::{Context, load_tasks};
use crate::output::{CommandResult, Failure, Table, print_json};

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// List apprentice's base and environment images.
    List,
    /// Build the environment images (and their bases) a task source needs.
    Build {
        /// Task source: `demo`, a SWE-bench file, a SWE-Bench-CL file, or a directory.
        source: String,
        #[arg(long = "task", value_name = "ID")]
        task_ids: Vec<String>,
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Remove containers left by dead runs and images no current spec produces.
    Prune {
        /// Remove every apprentice image and every container not owned by this process.
        #[arg(long)]
        all: bool,
    },
}

fn docker_failure(e: apprentice_docker::DockerError) -> Failure {
    match e {
        apprentice_docker::DockerError::Spec { .. }
        | apprentice_docker::DockerError::NoSpec { .. } => Failure::Input(e.to_string()),
        other => Failure::Crash(other.into()),
    }
}

pub async fn run(ctx: &Context, command: &ImagesCommand) -> CommandResult {
    let factory = DockerSandboxFactory::new().map_err(docker_failure)?;
    match command {
        ImagesCommand::List => list(ctx, &factory).await,
        ImagesCommand::Build {
            source,
            task_ids,
            limit,
        } => build(ctx, &factory, source, task_ids, *limit).await,
        ImagesCommand::Prune { all } => prune(ctx, &factory, *all).await,
    }
}

async fn list(ctx: &Context, factory: &DockerSandboxFactory) -> CommandResult {
    let images = factory
        .with_images(async |b| b.list().await)
        .await
        .map_err(docker_failure)?;
    if ctx.json {
        print_json(&json!({ "images": images }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["image", "kind", "MB", "created"]);
    for image in &images {
        let created = chrono::DateTime::from_timestamp(image.created, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        table.row(vec![
            image.tag.clone(),
            image.kind.clone(),
            format!("{}", image.size_bytes / 1_000_000),
            created,
        ]);
    }
    println!("{}", table.render());
    Ok(ExitCode::SUCCESS)
}

async fn build(
    ctx: &Context,
    factory: &DockerSandboxFactory,
    source: &str,
    ids: &[String],
    limit: Option<usize>,
) -> CommandResult {
    let tasks = load_tasks(ctx, source, ids, limit)?;
    // One build per distinct environment, however many tasks share it.
    let mut envs: BTreeMap<String, (EnvSpec, usize)> = BTreeMap::new();
    let mut failed: Vec<serde_json::Value> = Vec::new();
    for task in &tasks {
        let key = EnvKey {
            repo: task.repo.clone(),
            version: task.version.clone(),
        };
        match factory.resolve(&key) {
            Ok(spec) => envs.entry(spec.env_image()).or_insert((spec, 0)).1 += 1,
            Err(e) => failed.push(json!({"task": task.instance_id, "error": e.to_string()})),
        }
    }
    let mut built = Vec::new();
    for (image, (spec, count)) in &envs {
        let started = Instant::now();
        if !ctx.json && !ctx.quiet {
            eprintln!(
                "building {image} for {} {} ({count} task(s))",
                spec.repo, spec.version
            );
        }
        let result = factory
            .with_images(async |b| b.ensure_env(spec).await)
            .await;
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(tag) => built.push(
                json!({"image": tag, "repo": spec.repo, "version": spec.version,
                                         "tasks": count, "seconds": seconds}),
            ),
            Err(e) => failed.push(json!({"image": image, "repo": spec.repo,
                                         "version": spec.version, "error": e.to_string()})),
        }
    }
    if ctx.json {
        print_json(&json!({"built": built, "failed": failed}))?;
    } else {
        for b in &built {
            println!(
                "ok      {} ({} {}, {:.1}s)",
                b["image"].as_str().unwrap_or_default(),
                b["repo"].as_str().unwrap_or_default(),
                b["version"].as_str().unwrap_or_default(),
                b["seconds"].as_f64().unwrap_or_default()
            );
        }
        for f in &failed {
            println!("FAILED  {}", f["error"].as_str().unwrap_or_default());
        }
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn prune(ctx: &Context, factory: &DockerSandboxFactory, all: bool) -> CommandResult {
    let keep = factory.specs().images();
    let report = factory
        .with_images(async |b| b.prune(&keep, all).await)
        .await
        .map_err(docker_failure)?;
    if ctx.json {
        print_json(&report)?;
    } else {
        println!(
            "removed {} container(s), {} image(s), {} untagged image(s), {} layer(s), {} MB",
            report.containers.len(),
            report.images.len(),
            report.dangling.len(),
            report.layers,
            report.bytes / 1_000_000
        );
        for s in &report.skipped {
            println!("kept    {s}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
