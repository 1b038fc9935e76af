//! Per-repository environment specifications, as data.
//!
//! Old repositories only test correctly on their own Python and dependency versions, so the
//! environment is chosen per (repository, version), as SWE-bench's `MAP_REPO_VERSION_TO_SPECS`
//! does. Here that table lives in TOML files (`specs/<owner>__<name>.toml`), one per
//! repository, so a user adds a repository by adding a file, not by changing code:
//!
//! ```toml
//! repo = "pallets/flask"          # or a pattern such as "demo/*"
//! [defaults]                      # applies to every version below
//! test_cmd = "pytest -rA"
//! log_parser = "pytest"
//! [versions."2.3"]
//! python = "3.11"
//! pip = ["pytest==7.4.0", "werkzeug==2.3.7"]
//! [versions."*"]                  # any version not listed
//! python = "3.11"
//! ```
//!
//! A version table is merged over `[defaults]` field by field; the merged result is an
//! [`EnvSpec`]. Images are keyed by hashes of the parts of the spec that shape them
//! ([`EnvSpec::base_key`], [`EnvSpec::env_key`]), so editing a spec rebuilds exactly what
//! changed and nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use apprentice_sandbox::{EnvKey, TestSpec, TestSpecs};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::DockerError;

/// The log parser of a spec that names none.
const DEFAULT_LOG_PARSER: &str = "pytest";

/// Bumped when the way images are built changes, so old images are not reused.
const BUILD_RECIPE_VERSION: &str = "1";

/// One spec table as written in a file; every field optional so versions can override
/// defaults piecemeal.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpecTable {
    /// Python version (`"3.11"`); picks the Debian release whose `python3` it is.
    pub python: Option<String>,
    /// Debian release to debootstrap (`bookworm`); defaults from `python`.
    pub debian: Option<String>,
    /// Extra Debian packages for the base image (debootstrap `--include`).
    pub apt: Option<Vec<String>>,
    /// Pinned Python requirements, installed from the host-side wheelhouse.
    pub pip: Option<Vec<String>>,
    /// Commands run in the instance, in the repository, before `install` (SWE-bench's
    /// `pre_install`: `sed` fixes to config files and the like; no network).
    pub pre_install: Option<Vec<String>>,
    /// Commands that install the repository itself (e.g. `pip install --no-index -e .`).
    pub install: Option<Vec<String>>,
    /// Environment variables for every command (SWE-bench's `eval_commands` are mostly
    /// `export LANG=...`; they are data here).
    pub env: Option<BTreeMap<String, String>>,
    /// The test command; the test files of the task's test patch are appended.
    pub test_cmd: Option<String>,
    /// Log parser name in `apprentice-verify` (`pytest`, `django`, `sympy`, ...).
    pub log_parser: Option<String>,
    /// Free text for humans (why a pin exists, what is known not to work).
    pub notes: Option<String>,
}

impl SpecTable {
    /// `self` with every field `over` sets replaced by `over`'s value.
    fn merged(&self, over: &SpecTable) -> SpecTable {
        fn pick<T: Clone>(a: &Option<T>, b: &Option<T>) -> Option<T> {
            b.clone().or_else(|| a.clone())
        }
        SpecTable {
            python: pick(&self.python, &over.python),
            debian: pick(&self.debian, &over.debian),
            apt: pick(&self.apt, &over.apt),
            pip: pick(&self.pip, &over.pip),
            pre_install: pick(&self.pre_install, &over.pre_install),
            install: pick(&self.install, &over.install),
            env: pick(&self.env, &over.env),
            test_cmd: pick(&self.test_cmd, &over.test_cmd),
            log_parser: pick(&self.log_parser, &over.log_parser),
            notes: pick(&self.notes, &over.notes),
        }
    }
}

/// One spec file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RepoSpecFile {
    /// `owner/name`, or `owner/*` for a family of repositories (the bundled demo tasks).
    pub repo: String,
    #[serde(default)]
    pub defaults: SpecTable,
    #[serde(default)]
    pub versions: BTreeMap<String, SpecTable>,
    #[serde(skip)]
    pub path: PathBuf,
}

/// A fully resolved environment for one (repository, version).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EnvSpec {
    pub repo: String,
    pub version: String,
    pub python: String,
    pub debian: DebianRelease,
    pub apt: Vec<String>,
    pub pip: Vec<String>,
    pub pre_install: Vec<String>,
    pub install: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub test_cmd: String,
    pub log_parser: String,
}

/// A Debian release the base image is debootstrapped from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Hash)]
pub struct DebianRelease {
    pub suite: String,
    pub mirror: String,
    /// The `python3` version the release ships.
    pub python: String,
}

/// Debian releases and the Python each ships as `python3`. Only these Python versions can be
/// had without a registry or a compiler; specs asking for others fail with a clear error.
/// Buster and stretch live on archive.debian.org (untested here).
const RELEASES: &[(&str, &str, &str)] = &[
    ("3.13", "trixie", "http://deb.debian.org/debian"),
    ("3.11", "bookworm", "http://deb.debian.org/debian"),
    ("3.9", "bullseye", "http://deb.debian.org/debian"),
    ("3.7", "buster", "http://archive.debian.org/debian"),
    ("3.5", "stretch", "http://archive.debian.org/debian"),
];

/// Packages every base image has: what the sandbox and the verifier call (`bash`, `git`,
/// `patch`, `timeout`, `realpath`) and a Python able to make a virtual environment.
pub const BASE_PACKAGES: &[&str] = &[
    "python3",
    "python3-venv",
    "git",
    "patch",
    "ca-certificates",
    "coreutils",
];

impl DebianRelease {
    /// The release for `python`, or for an explicit `suite`.
    pub fn resolve(python: &str, suite: Option<&str>) -> Result<DebianRelease, String> {
        let found = match suite {
            Some(suite) => RELEASES.iter().find(|(_, s, _)| *s == suite),
            None => RELEASES.iter().find(|(py, _, _)| *py == python),
        };
        match found {
            Some((py, suite, mirror)) => {
                if *py != python {
                    return Err(format!(
                        "Debian {suite} ships Python {py}, but the spec asks for Python {python}"
                    ));
                }
                Ok(DebianRelease {
                    suite: suite.to_string(),
                    mirror: mirror.to_string(),
                    python: py.to_string(),
                })
            }
            None => {
                let known: Vec<String> = RELEASES
                    .iter()
                    .map(|(py, s, _)| format!("{py} ({s})"))
                    .collect();
                Err(format!(
                    "no Debian release ships Python {python}{}; available: {}",
                    suite.map(|s| format!(" as {s}")).unwrap_or_default(),
                    known.join(", ")
                ))
            }
        }
    }
}

fn hex(digest: impl AsRef<[u8]>) -> String {
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl EnvSpec {
    /// Hash of what shapes the base image: release, mirror, packages, architecture.
    pub fn base_key(&self) -> String {
        let mut apt: Vec<&str> = BASE_PACKAGES.to_vec();
        apt.extend(self.apt.iter().map(String::as_str));
        apt.sort_unstable();
        apt.dedup();
        let text = format!(
            "recipe={BUILD_RECIPE_VERSION}\nsuite={}\nmirror={}\narch={}\napt={}\n",
            self.debian.suite,
            self.debian.mirror,
            std::env::consts::ARCH,
            apt.join(",")
        );
        hex(Sha256::digest(text.as_bytes()))[..16].to_string()
    }

    /// The packages the base image is debootstrapped with.
    pub fn base_packages(&self) -> Vec<String> {
        let mut apt: Vec<String> = BASE_PACKAGES.iter().map(|s| s.to_string()).collect();
        for p in &self.apt {
            if !apt.contains(p) {
                apt.push(p.clone());
            }
        }
        apt
    }

    /// Hash of what shapes the environment image: its base and the Python packages. Install
    /// commands and the test command are not in it: they run per instance, so changing them
    /// needs no rebuild.
    pub fn env_key(&self) -> String {
        let text = format!(
            "recipe={BUILD_RECIPE_VERSION}\nbase={}\npython={}\npip={}\n",
            self.base_key(),
            self.python,
            self.pip.join("\n")
        );
        hex(Sha256::digest(text.as_bytes()))[..16].to_string()
    }

    /// `apprentice-base:<key>`.
    pub fn base_image(&self) -> String {
        format!("apprentice-base:{}", self.base_key())
    }

    /// `apprentice-env:<key>`.
    pub fn env_image(&self) -> String {
        format!("apprentice-env:{}", self.env_key())
    }
}

/// All spec files found, in override order.
#[derive(Debug, Clone, Default)]
pub struct Specs {
    files: Vec<RepoSpecFile>,
}

/// The spec directory shipped with the source tree.
pub fn builtin_specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../specs")
}

impl Specs {
    /// The shipped specs, then every directory in `$APPRENTICE_SPECS` (colon separated);
    /// later files override earlier ones for the same `repo`.
    pub fn discover() -> Result<Specs, DockerError> {
        let mut dirs = vec![builtin_specs_dir()];
        if let Some(extra) = std::env::var_os("APPRENTICE_SPECS") {
            dirs.extend(std::env::split_paths(&extra));
        }
        let mut specs = Specs::default();
        for dir in dirs.iter().filter(|d| d.is_dir()) {
            specs.load_dir(dir)?;
        }
        Ok(specs)
    }

    /// Loads every `*.toml` file of `dir`.
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), DockerError> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| DockerError::Spec {
                path: dir.to_path_buf(),
                message: e.to_string(),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            self.add(Self::parse_file(&path)?);
        }
        Ok(())
    }

    /// Parses one spec file, checking that every version resolves.
    pub fn parse_file(path: &Path) -> Result<RepoSpecFile, DockerError> {
        let spec_error = |message: String| DockerError::Spec {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| spec_error(e.to_string()))?;
        let mut file: RepoSpecFile =
            toml::from_str(&text).map_err(|e| spec_error(e.to_string()))?;
        file.path = path.to_path_buf();
        // Structure only: a Python that no Debian release ships is an error when that
        // version is used, not when the file is read, so one old version cannot hide the rest.
        for (version, table) in &file.versions {
            let merged = file.defaults.merged(table);
            if merged.python.is_none() || merged.test_cmd.is_none() {
                return Err(spec_error(format!(
                    "version `{version}` needs `python` and `test_cmd` (here or in [defaults])"
                )));
            }
        }
        Ok(file)
    }

    /// Adds (or replaces, for the same `repo`) a spec file.
    pub fn add(&mut self, file: RepoSpecFile) {
        self.files.retain(|f| f.repo != file.repo);
        self.files.push(file);
    }

    pub fn files(&self) -> &[RepoSpecFile] {
        &self.files
    }

    /// The environment for `repo` at `version`: the file whose `repo` is exactly `repo`, else
    /// one whose pattern `owner/*` matches; in it, the version's table, else `"*"`.
    pub fn resolve(&self, repo: &str, version: &str) -> Result<EnvSpec, DockerError> {
        let file = self.file_for(repo, version)?;
        resolve_in(file, repo, version).map_err(|detail| DockerError::NoSpec {
            repo: repo.to_string(),
            version: version.to_string(),
            detail: format!("{}: {detail}", file.path.display()),
        })
    }

    /// The file for `repo`: the one whose `repo` is exactly `repo`, else a matching pattern.
    fn file_for(&self, repo: &str, version: &str) -> Result<&RepoSpecFile, DockerError> {
        self.files
            .iter()
            .find(|f| f.repo == repo)
            .or_else(|| self.files.iter().find(|f| pattern_matches(&f.repo, repo)))
            .ok_or_else(|| DockerError::NoSpec {
                repo: repo.to_string(),
                version: version.to_string(),
                detail: format!(
                    "no spec file for this repository; add specs/{}.toml",
                    repo.replace('/', "__")
                ),
            })
    }

    /// The test command and log parser for `repo` at `version`. Only those two fields are
    /// read, so a spec whose Python no Debian release ships still says how its tests run
    /// (for the local backend).
    pub fn test_spec(&self, repo: &str, version: &str) -> Option<TestSpec> {
        let merged = table_for(self.file_for(repo, version).ok()?, version).ok()?;
        Some(TestSpec {
            test_cmd: merged.test_cmd?,
            log_parser: merged
                .log_parser
                .unwrap_or_else(|| DEFAULT_LOG_PARSER.to_string()),
        })
    }

    /// The images (environment and base) some current spec uses: what `images prune` keeps.
    pub fn images(&self) -> std::collections::HashSet<String> {
        self.all_versions()
            .iter()
            .flat_map(|s| [s.env_image(), s.base_image()])
            .collect()
    }

    /// Every concrete (file, version) pair, for building or keeping all images.
    pub fn all_versions(&self) -> Vec<EnvSpec> {
        let mut out = Vec::new();
        for file in &self.files {
            for version in file.versions.keys() {
                if let Ok(spec) = resolve_in(file, &file.repo, version) {
                    out.push(spec);
                }
            }
        }
        out
    }
}

impl TestSpecs for Specs {
    /// A task of unknown provenance (empty repository) gets the demo spec, as the Docker
    /// backend gives it the demo environment.
    fn test_spec(&self, env: &EnvKey) -> Option<TestSpec> {
        if env.repo.is_empty() {
            return Specs::test_spec(self, DEMO_REPO, "*");
        }
        Specs::test_spec(self, &env.repo, &env.version)
    }
}

/// The repository name the environment of tasks with no repository resolves as.
pub const DEMO_REPO: &str = "demo/any";

fn pattern_matches(pattern: &str, repo: &str) -> bool {
    match pattern.strip_suffix("/*") {
        Some(owner) => repo
            .split_once('/')
            .is_some_and(|(repo_owner, _)| repo_owner == owner),
        None => false,
    }
}

/// `version`'s table (else `"*"`'s) merged over the file's defaults.
fn table_for(file: &RepoSpecFile, version: &str) -> Result<SpecTable, String> {
    let table = file
        .versions
        .get(version)
        .or_else(|| file.versions.get("*"))
        .ok_or_else(|| {
            let known: Vec<&str> = file.versions.keys().map(String::as_str).collect();
            format!(
                "no entry for version `{version}` (known: {})",
                known.join(", ")
            )
        })?;
    Ok(file.defaults.merged(table))
}

fn resolve_in(file: &RepoSpecFile, repo: &str, version: &str) -> Result<EnvSpec, String> {
    let merged = table_for(file, version)?;
    let python = merged
        .python
        .ok_or_else(|| format!("version `{version}` has no `python`"))?;
    let debian = DebianRelease::resolve(&python, merged.debian.as_deref())?;
    let test_cmd = merged
        .test_cmd
        .ok_or_else(|| format!("version `{version}` has no `test_cmd`"))?;
    Ok(EnvSpec {
        repo: repo.to_string(),
        version: version.to_string(),
        python,
        debian,
        apt: merged.apt.unwrap_or_default(),
        pip: merged.pip.unwrap_or_default(),
        pre_install: merged.pre_install.unwrap_or_default(),
        install: merged.install.unwrap_or_default(),
        env: merged.env.unwrap_or_default(),
        test_cmd,
        log_parser: merged
            .log_parser
            .unwrap_or_else(|| DEFAULT_LOG_PARSER.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> RepoSpecFile {
        toml::from_str(text).expect("valid spec")
    }

    #[test]
    fn versions_merge_over_defaults_and_star_catches_the_rest() {
        let mut specs = Specs::default();
        specs.add(file(
            r#"
repo = "demo/*"
[defaults]
test_cmd = "pytest -rA"
pip = ["pytest==8.3.3"]
[versions."*"]
python = "3.11"
[versions."0.2"]
python = "3.9"
pip = ["pytest==7.4.0"]
"#,
        ));
        let any = specs.resolve("demo/calcy", "0.6").expect("star");
        assert_eq!(any.python, "3.11");
        assert_eq!(any.debian.suite, "bookworm");
        assert_eq!(any.pip, vec!["pytest==8.3.3"]);
        let old = specs.resolve("demo/x", "0.2").expect("exact");
        assert_eq!(old.debian.suite, "bullseye");
        assert_eq!(old.pip, vec!["pytest==7.4.0"]);
        assert_ne!(any.env_key(), old.env_key());
        assert!(specs.resolve("other/x", "1").is_err());
    }

    #[test]
    fn keys_ignore_per_instance_commands() {
        let mut specs = Specs::default();
        specs.add(file(
            "repo = \"a/b\"\n[versions.\"1\"]\npython = \"3.11\"\ntest_cmd = \"x\"\n",
        ));
        let a = specs.resolve("a/b", "1").expect("spec");
        let mut b = a.clone();
        b.install = vec!["pip install -e .".into()];
        b.test_cmd = "y".into();
        assert_eq!(a.env_key(), b.env_key());
        b.pip = vec!["six==1.16.0".into()];
        assert_ne!(a.env_key(), b.env_key());
        assert_eq!(a.base_key(), b.base_key());
    }

    #[test]
    fn unavailable_python_is_a_clear_error() {
        let err = DebianRelease::resolve("3.6", None).unwrap_err();
        assert!(err.contains("3.6") && err.contains("bookworm"), "{err}");
        assert!(DebianRelease::resolve("3.11", Some("bullseye")).is_err());
    }

    #[test]
    fn shipped_specs_parse() {
        let mut specs = Specs::default();
        specs
            .load_dir(&builtin_specs_dir())
            .expect("shipped specs parse");
        for repo in [
            "django/django",
            "sympy/sympy",
            "sphinx-doc/sphinx",
            "matplotlib/matplotlib",
            "scikit-learn/scikit-learn",
            "astropy/astropy",
            "pydata/xarray",
            "pytest-dev/pytest",
            "psf/requests",
            "pallets/flask",
            "mwaskom/seaborn",
            "pylint-dev/pylint",
        ] {
            assert!(
                specs.files().iter().any(|f| f.repo == repo),
                "missing spec for {repo}"
            );
        }
        let demo = specs.resolve("demo/calcy", "0.6").expect("demo spec");
        assert_eq!(demo.python, "3.11");
    }
}
