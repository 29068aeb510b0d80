//! The `clerk` binary killed with SIGKILL at the two moments that matter: after a message is
//! acknowledged but before its reply is out, and after Meta took the reply but before clerk
//! recorded that. After each restart every message has exactly one reply at the fake Cloud API.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clerk::channels::whatsapp::fake::FakeCloud;
use clerk::channels::whatsapp::Fault;
use clerk::llm::fetch;

use super::{runtime, Rig, ADMIN, BIKES, SECRET};
use crate::support;

const NUMBER: &str = "3000001";
const GRACE_S: u64 = 4;

/// The bike shop's inbox and outbox counts, through the API.
async fn counts(client: &reqwest::Client, base: &str) -> serde_json::Value {
    let view: serde_json::Value = client
        .get(format!("{base}/v1/businesses/{BIKES}/whatsapp"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    view["counts"].clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(dir: &Path, port: u16, graph: &str, run: usize) -> Child {
    let log = std::fs::File::create(dir.join(format!("clerk-{run}.log"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_clerk"))
        .arg("serve")
        .env("CLERK_DATA_DIR", dir.join("data"))
        .env("CLERK_LISTEN", format!("127.0.0.1:{port}"))
        .env("CLERK_ADMIN_TOKEN", ADMIN)
        .env("CLERK_CORPUS_DIR", support::corpus())
        .env("CLERK_MODELS_DIR", fetch::default_models_dir())
        // The point is delivery, not retrieval: BM25 alone spares each start the embedding.
        .env("CLERK_ENCODER", "none")
        .env("CLERK_WHATSAPP_GRAPH_URL", graph)
        .env("CLERK_WHATSAPP_RETRY_BASE_MS", "50")
        .env("CLERK_WHATSAPP_RESEND_GRACE_S", GRACE_S.to_string())
        .env("RUST_LOG", "clerk=debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start clerk")
}

async fn ready(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    loop {
        let ok = client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ok {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "clerk did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn kill(mut clerk: Child) {
    clerk.kill().expect("SIGKILL clerk");
    clerk.wait().unwrap();
}

#[test]
fn killed_mid_delivery_clerk_neither_loses_nor_doubles_a_reply() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeCloud::start().await.unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        fake.report_statuses_to(&format!("{base}/webhooks/whatsapp"), SECRET);
        let client = reqwest::Client::new();
        let mut clerk = spawn(dir.path(), port, &fake.base_url, 1);
        ready(&client, &base).await;
        super::connect(&base, BIKES, NUMBER).await;
        let say = |customer: &'static str, text: &'static str| {
            let base = base.clone();
            async move { Rig::say_to(&base, NUMBER, customer, text).await }
        };

        // 1. Acknowledged; its reply is in flight and lost with the process.
        fake.fail_next([Fault::Hang { deliver: false }]);
        let lost_in_flight = say("447700000001", "do you sell helmets?").await;
        until("the reply to leave", || fake.requests() >= 2).await;
        // 2. Acknowledged; killed at once, before or while it is answered.
        let just_acknowledged = say("447700000002", "when are you open on sunday?").await;
        kill(clerk);
        clerk = spawn(dir.path(), port, &fake.base_url, 2);
        ready(&client, &base).await;
        until("both replies after the restart", || {
            fake.replies_to(&lost_in_flight).len() == 1
                && fake.replies_to(&just_acknowledged).len() == 1
        })
        .await;

        // 3. Meta took the reply, but the process died before it heard so, and Meta's status
        //    comes late: after the restart the row waits for it (it would go again after the
        //    resend grace), and the status, carrying the row's tracker, settles it.
        fake.hold_statuses();
        fake.fail_next([Fault::Hang { deliver: true }]);
        let taken = say("447700000003", "do you rent bikes?").await;
        until("Meta to take the reply", || {
            fake.replies_to(&taken).len() == 1
        })
        .await;
        kill(clerk);
        clerk = spawn(dir.path(), port, &fake.base_url, 3);
        ready(&client, &base).await;
        let waiting = counts(&client, &base).await;
        assert_eq!(waiting["outbox_pending"], 1, "{waiting}");
        fake.release_statuses();
        // Past the resend grace: a row the status had not settled would have gone again.
        tokio::time::sleep(Duration::from_secs(GRACE_S + 2)).await;
        for wamid in [&lost_in_flight, &just_acknowledged, &taken] {
            assert_eq!(fake.replies_to(wamid).len(), 1, "{wamid}");
        }
        let settled = counts(&client, &base).await;
        assert_eq!(settled["outbox_pending"], 0, "{settled}");
        assert_eq!(settled["dead"], 0, "{settled}");
        assert_eq!(settled["sent"], 3, "{settled}");
        kill(clerk);
    });
}
