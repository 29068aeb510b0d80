//! `clerk whatsapp simulate` and `clerk bench whatsapp` as a user runs them: the real binary on
//! a fresh data dir (the demo businesses seeded, the default model loaded).

use std::io::Write;
use std::process::{Command, Stdio};

use clerk::llm::fetch;

use crate::support;

fn clerk(data: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clerk"));
    command
        .env("CLERK_DATA_DIR", data)
        .env("CLERK_CORPUS_DIR", support::corpus())
        .env("CLERK_MODELS_DIR", fetch::default_models_dir())
        .env("RUST_LOG", "warn");
    command
}

#[test]
fn the_simulator_chats_through_the_webhook_and_answers_from_the_documents() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = clerk(dir.path())
        .args([
            "whatsapp",
            "simulate",
            "--business",
            "buchhandlung-lindenblatt",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("Wann habt ihr am Samstag geöffnet?\nIch möchte mit einem Mitarbeiter sprechen\nnoch da?\n".as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let replies: Vec<&str> = stdout
        .split("\n\n")
        .filter(|r| !r.trim().is_empty())
        .collect();
    assert!(
        replies[0].starts_with("buchhandlung-lindenblatt: "),
        "{stdout}"
    );
    assert!(stdout.contains("Samstag: 10:00 bis 16:00 Uhr"), "{stdout}");
    assert!(stdout.contains("Quelle:"), "{stdout}");
    assert!(stdout.contains("Kollegin"), "{stdout}");
    // Handed to a person: the last message gets no reply, and the simulator says why.
    assert!(stdout.contains("(no reply: held for a person)"), "{stdout}");

    let unknown = clerk(dir.path())
        .args(["whatsapp", "simulate", "--business", "no-such-shop"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("harbour-bikes"), "{stderr}");
}

#[test]
fn the_load_benchmark_reports_acknowledgement_latency() {
    let dir = tempfile::tempdir().unwrap();
    let output = clerk(dir.path())
        .args([
            "bench",
            "whatsapp",
            "--rate",
            "50",
            "--seconds",
            "2",
            "--json",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["deliveries"], 100);
    assert_eq!(report["errors"], 0);
    assert!(report["ack_ms"]["p99"].as_f64().unwrap() > 0.0);
    let inbox = &report["inbox"];
    assert_eq!(
        inbox["answered"].as_u64().unwrap() + inbox["queued"].as_u64().unwrap(),
        100,
        "{report}"
    );
}
