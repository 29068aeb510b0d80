//! The default model's tokenizer and chat template against what llama.cpp and jinja2 produce
//! for it (../shared/fixtures): every tokenization case must give llama.cpp's ids, every chat
//! case jinja2's text. The model file is pulled into the models dir if it is missing.

use std::path::PathBuf;
use std::sync::OnceLock;

use clerk::llm::fetch::{self, DEFAULT_MODEL_SHA256};
use clerk::llm::gguf_tokenizer::read_gguf;
use clerk::llm::{ChatMessage, ChatTemplate, GgufTokenizer};
use serde::Deserialize;

use crate::support;

#[derive(Deserialize)]
struct Fixture {
    model: FixtureModel,
    tokenize: TokenizeCases,
    chat_template: ChatCases,
}

#[derive(Deserialize)]
struct FixtureModel {
    sha256: String,
}

#[derive(Deserialize)]
struct TokenizeCases {
    cases: Vec<TokenizeCase>,
}

#[derive(Deserialize)]
struct TokenizeCase {
    text: String,
    ids: Vec<u32>,
}

#[derive(Deserialize)]
struct ChatCases {
    template: String,
    cases: Vec<ChatCase>,
}

#[derive(Deserialize)]
struct ChatCase {
    messages: Vec<ChatMessage>,
    add_generation_prompt: bool,
    rendered: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| support::fixture("smollm2-135m-instruct-q4_1.llamacpp.json"))
}

fn model_path() -> &'static PathBuf {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        fetch::pull_default(&fetch::default_models_dir()).expect("the default model is available")
    })
}

struct Loaded {
    tokenizer: GgufTokenizer,
    template: ChatTemplate,
}

fn loaded() -> &'static Loaded {
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    LOADED.get_or_init(|| {
        let content = read_gguf(model_path()).expect("read GGUF metadata");
        let tokenizer = GgufTokenizer::from_gguf_metadata(&content.metadata, Some(model_path()))
            .expect("tokenizer from GGUF");
        let template =
            ChatTemplate::from_gguf_metadata(&content.metadata, &tokenizer).expect("template");
        Loaded {
            tokenizer,
            template,
        }
    })
}

#[test]
fn fixture_is_for_the_default_model() {
    assert_eq!(fixture().model.sha256, DEFAULT_MODEL_SHA256);
}

#[test]
fn every_tokenize_case_matches_llama_cpp() {
    let tok = &loaded().tokenizer;
    let cases = &fixture().tokenize.cases;
    assert_eq!(cases.len(), 25, "the fixture's case count changed");
    let mut failures = Vec::new();
    for case in cases {
        let ids = tok.encode(&case.text).expect("encode");
        if ids != case.ids {
            failures.push(format!(
                "{:?}\n  llama.cpp: {:?}\n  ours:      {:?}",
                case.text, case.ids, ids
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from llama.cpp:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn decoding_gives_the_text_back() {
    let tok = &loaded().tokenizer;
    for case in &fixture().tokenize.cases {
        assert_eq!(
            tok.decode(&case.ids, false).expect("decode"),
            case.text,
            "decoding llama.cpp's ids for {:?}",
            case.text
        );
    }
}

#[test]
fn special_ids_come_from_the_metadata() {
    let tok = &loaded().tokenizer;
    let special = tok.special();
    assert_eq!(special.bos, Some(1));
    assert_eq!(special.eos, Some(2));
    assert_eq!(special.unk, Some(0));
    assert!(!special.add_bos, "SmolLM2 adds no BOS");
    assert_eq!(tok.token_text(1).as_deref(), Some("<|im_start|>"));
    assert_eq!(tok.token_id("<|im_end|>"), Some(2));
    assert!(
        tok.is_eog(2) && tok.is_eog(0),
        "<|im_end|> and <|endoftext|> end a turn"
    );
    assert!(!tok.is_eog(1));
    assert_eq!(tok.vocab_size(), 49152);
}

#[test]
fn literal_encoding_keeps_control_tokens_out() {
    let tok = &loaded().tokenizer;
    let ids = tok
        .encode_literal("<|im_end|>\n<|im_start|>system")
        .expect("encode");
    assert!(!ids.contains(&1) && !ids.contains(&2), "{ids:?}");
    assert_eq!(
        tok.decode(&ids, false).expect("decode"),
        "<|im_end|>\n<|im_start|>system"
    );
}

#[test]
fn every_chat_case_matches_jinja2() {
    let template = &loaded().template;
    assert!(!template.is_fallback());
    assert_eq!(template.source(), fixture().chat_template.template);
    let cases = &fixture().chat_template.cases;
    assert!(!cases.is_empty());
    for case in cases {
        let rendered = template
            .render(&case.messages, case.add_generation_prompt)
            .expect("render");
        assert_eq!(
            rendered, case.rendered,
            "messages {:?}, add_generation_prompt {}",
            case.messages, case.add_generation_prompt
        );
    }
}

#[test]
fn a_rendered_prompt_tokenizes_into_turns() {
    let Loaded {
        tokenizer,
        template,
    } = loaded();
    let prompt = template
        .render(&[ChatMessage::user("Hi")], true)
        .expect("render");
    let ids = tokenizer.encode(&prompt).expect("encode");
    assert_eq!(ids.first(), Some(&1), "starts with <|im_start|>");
    assert_eq!(
        ids.iter().filter(|&&id| id == 1).count(),
        3,
        "system, user, assistant"
    );
    assert_eq!(
        ids.iter().filter(|&&id| id == 2).count(),
        2,
        "two closed turns"
    );
}

#[test]
fn the_tokenizer_loads_from_the_file_alone() {
    let tok = GgufTokenizer::from_gguf_file(model_path()).expect("load");
    assert_eq!(
        tok.encode("Hello world!").expect("encode"),
        [19556, 905, 17]
    );
}

fn clerk() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_clerk"));
    cmd.env("CLERK_LOG", "warn")
        .env_remove("CLERK_MODEL")
        .env_remove("CLERK_JSON");
    cmd
}

#[test]
fn cli_pull_prints_path_and_sha256() {
    let models_dir = model_path().parent().expect("models dir");
    let out = clerk()
        .args(["models", "pull", "--models-dir"])
        .arg(models_dir)
        .output()
        .expect("run clerk");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        format!(
            "{}\nsha256 {DEFAULT_MODEL_SHA256}\n",
            model_path().display()
        )
    );
}

/// A hub spec is answered from a Hugging Face cache laid out as huggingface_hub lays it out,
/// with HF_HUB_OFFLINE=1 so that nothing may touch the network.
#[cfg(unix)]
#[test]
fn cli_tokenizes_a_cached_hub_model_offline() {
    let home = tempfile::tempdir().expect("tempdir");
    let hash = "0123456789abcdef0123456789abcdef01234567";
    let repo = home.path().join("hub").join("models--org--smol");
    std::fs::create_dir_all(repo.join("refs")).expect("refs");
    std::fs::write(repo.join("refs/main"), hash).expect("ref");
    let snapshot = repo.join("snapshots").join(hash);
    std::fs::create_dir_all(&snapshot).expect("snapshot");
    std::os::unix::fs::symlink(model_path(), snapshot.join("m.gguf")).expect("symlink");

    let run = |spec: &str| {
        clerk()
            .args(["tokenize", "--json", "--model", spec, "Hello world!"])
            .env("HF_HOME", home.path())
            .env("HF_HUB_OFFLINE", "1")
            .env_remove("HF_HUB_CACHE")
            .output()
            .expect("run clerk")
    };
    let out = run("hf:org/smol/m.gguf");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[19556,905,17]\n");

    let out = run("hf:org/smol/missing.gguf");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HF_HUB_OFFLINE"), "{stderr}");
}
