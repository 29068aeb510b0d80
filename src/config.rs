//! One validated [`Config`] from a TOML file, `CLERK_*` environment variables and flags.
//!
//! Flags and environment variables (clap reads both) win over the file, the file over the
//! defaults. Validation happens once, here, with messages that name the setting to fix.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::documents::Limits;
use crate::engine::EngineLimits;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("invalid listen address {0:?}: use HOST:PORT, e.g. 127.0.0.1:8080 (CLERK_LISTEN)")]
    Listen(String),
    #[error("{name} must be at least {min}, got {value}")]
    TooSmall {
        name: &'static str,
        min: usize,
        value: usize,
    },
    #[error("the admin token (CLERK_ADMIN_TOKEN) must be at least 16 characters")]
    WeakAdminToken,
    #[error("invalid device {0:?} (CLERK_DEVICE): use cpu, cuda, cuda:N or metal")]
    Device(String),
}

/// The settings a config file may hold; every one optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub admin_token: Option<String>,
    pub corpus_dir: Option<PathBuf>,
    pub max_file_bytes: Option<usize>,
    pub max_rows: Option<usize>,
    pub max_files: Option<usize>,
    pub max_question_chars: Option<usize>,
    /// `default`, a .gguf path, `hf:OWNER/REPO/FILE.gguf`, or `none`.
    pub model: Option<String>,
    pub models_dir: Option<PathBuf>,
    /// cpu, cuda, cuda:N or metal.
    pub device: Option<String>,
    /// Generation requests that may wait while one runs.
    pub queue: Option<usize>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

/// Settings as given on the command line or in the environment (None = not given): the same
/// shape as the file, laid over it.
pub type Overrides = FileConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub admin_token: Option<String>,
    pub corpus_dir: PathBuf,
    pub limits: EngineLimits,
    pub model: String,
    pub models_dir: Option<PathBuf>,
    pub device: String,
    pub queue: usize,
}

pub const DEFAULT_DATA_DIR: &str = "clerk-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_QUEUE: usize = 4;

/// The demo corpus: `./corpus` when run from a checkout, else the one the binary was built from.
pub fn default_corpus_dir() -> PathBuf {
    let local = PathBuf::from("corpus");
    if local.is_dir() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
    }
}

impl Config {
    pub fn resolve(file: FileConfig, over: Overrides) -> Result<Config, ConfigError> {
        let listen = over
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = listen
            .parse()
            .or_else(|_| {
                use std::net::ToSocketAddrs;
                listen
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or(())
            })
            .map_err(|_| ConfigError::Listen(listen.clone()))?;
        let admin_token = over
            .admin_token
            .or(file.admin_token)
            .filter(|t| !t.is_empty());
        if admin_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(ConfigError::WeakAdminToken);
        }
        let defaults = EngineLimits::default();
        let limits = EngineLimits {
            documents: Limits {
                max_file_bytes: at_least(
                    "max_file_bytes",
                    1024,
                    over.max_file_bytes
                        .or(file.max_file_bytes)
                        .unwrap_or(defaults.documents.max_file_bytes),
                )?,
                max_rows: at_least(
                    "max_rows",
                    1,
                    over.max_rows
                        .or(file.max_rows)
                        .unwrap_or(defaults.documents.max_rows),
                )?,
            },
            max_files: at_least(
                "max_files",
                1,
                over.max_files
                    .or(file.max_files)
                    .unwrap_or(defaults.max_files),
            )?,
            max_question_chars: at_least(
                "max_question_chars",
                16,
                over.max_question_chars
                    .or(file.max_question_chars)
                    .unwrap_or(defaults.max_question_chars),
            )?,
            max_results: defaults.max_results,
        };
        let device = over
            .device
            .or(file.device)
            .unwrap_or_else(|| "cpu".to_string());
        if device.parse::<crate::llm::model::DeviceSpec>().is_err() {
            return Err(ConfigError::Device(device));
        }
        Ok(Config {
            model: over
                .model
                .or(file.model)
                .unwrap_or_else(|| "default".to_string()),
            models_dir: over.models_dir.or(file.models_dir),
            device,
            queue: at_least(
                "queue (CLERK_QUEUE)",
                1,
                over.queue.or(file.queue).unwrap_or(DEFAULT_QUEUE),
            )?,
            data_dir: over
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            listen,
            admin_token,
            corpus_dir: over
                .corpus_dir
                .or(file.corpus_dir)
                .unwrap_or_else(default_corpus_dir),
            limits,
        })
    }
}

fn at_least(name: &'static str, min: usize, value: usize) -> Result<usize, ConfigError> {
    if value < min {
        Err(ConfigError::TooSmall { name, min, value })
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_beats_defaults() {
        let file: FileConfig =
            toml::from_str("listen = \"127.0.0.1:9000\"\nmax_rows = 50\n").unwrap();
        let over = Overrides {
            max_rows: Some(70),
            ..Overrides::default()
        };
        let config = Config::resolve(file, over).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.limits.documents.max_rows, 70);
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    }

    #[test]
    fn bad_settings_are_named() {
        let over = Overrides {
            listen: Some("nowhere".into()),
            ..Overrides::default()
        };
        let err = Config::resolve(FileConfig::default(), over).unwrap_err();
        assert!(err.to_string().contains("CLERK_LISTEN"), "{err}");
        assert!(toml::from_str::<FileConfig>("colour = 1").is_err());
        let over = Overrides {
            admin_token: Some("short".into()),
            ..Overrides::default()
        };
        assert!(matches!(
            Config::resolve(FileConfig::default(), over),
            Err(ConfigError::WeakAdminToken)
        ));
    }
}
