//! Shared set-up for the integration tests: scratch engines, the demo corpus, ../shared data.

use std::path::{Path, PathBuf};

use clerk::config::{Config, FileConfig, Overrides};
use clerk::engine::{Engine, EngineLimits, Upload};

/// The admin token of every service a test starts.
pub const ADMIN: &str = "test-admin-token-0123456789";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn corpus() -> PathBuf {
    repo().join("corpus")
}

/// The config of a service a test starts with `clerk::app`: its data in `dir`, a free
/// loopback port, [`ADMIN`], the demo corpus, and neither model nor encoder (BM25 only) unless
/// the test gives them.
pub fn config(dir: &Path) -> Config {
    Config::resolve(
        FileConfig::default(),
        Overrides {
            data_dir: Some(dir.to_path_buf()),
            listen: Some("127.0.0.1:0".into()),
            admin_token: Some(ADMIN.into()),
            corpus_dir: Some(corpus()),
            model: Some("none".into()),
            encoder: Some("none".into()),
            ..Overrides::default()
        },
    )
    .expect("a valid test config")
}

/// ../shared beside the checkout (CI has it too).
pub fn shared() -> PathBuf {
    repo().join("..").join("shared")
}

/// `../shared/fixtures/<name>`, parsed from JSON.
pub fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = shared().join("fixtures").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The cosine of two logit (or embedding) vectors, summed in f64.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        ab += *x as f64 * *y as f64;
        aa += *x as f64 * *x as f64;
        bb += *y as f64 * *y as f64;
    }
    ab / (aa.sqrt() * bb.sqrt())
}

/// A JSON array of token ids (as llama.cpp's fixtures write them).
pub fn token_ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

pub struct Scratch {
    pub engine: Engine,
    _dir: tempfile::TempDir,
}

pub fn engine() -> Scratch {
    engine_with(EngineLimits::default())
}

pub fn engine_with(limits: EngineLimits) -> Scratch {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(dir.path(), limits).expect("open engine");
    Scratch { engine, _dir: dir }
}

pub fn upload(name: &str, text: &str) -> Upload {
    Upload {
        name: name.to_string(),
        bytes: text.as_bytes().to_vec(),
    }
}

/// How many demo businesses `corpus/` holds (one folder each).
pub fn demo_businesses() -> usize {
    std::fs::read_dir(corpus())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count()
}

/// The real sentence encoder as the index's embedder, loaded once (pulled if missing).
pub fn embedder() -> std::sync::Arc<dyn clerk::index::Embedder> {
    static EMBEDDER: std::sync::OnceLock<std::sync::Arc<clerk::engine::EncoderEmbedder>> =
        std::sync::OnceLock::new();
    EMBEDDER
        .get_or_init(|| {
            let path = clerk::embed::pull_encoder(&clerk::llm::fetch::default_models_dir())
                .expect("the encoder is available");
            std::sync::Arc::new(
                clerk::engine::EncoderEmbedder::load(&path).expect("the encoder loads"),
            )
        })
        .clone()
}
