//! WhatsApp from the terminal: `clerk whatsapp simulate` (a chat through the signed webhook and
//! a built-in fake Cloud API) and `clerk bench whatsapp` (webhook load at a steady rate).
//!
//! Both run a real server on loopback with the business's real index and model and a fake
//! number held in memory only, so a server on the same data dir is neither used nor disturbed.

use std::io::BufRead;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use rand::RngCore;

use super::answer_commands::AnswerTuning;
use super::generate_commands::ModelArgs;
use super::CommonArgs;
use crate::app::{self, App};
use crate::channels::whatsapp::fake::{choice_payload, text_payload, FakeCloud, FakeMessage};
use crate::channels::whatsapp::{interactive, signature};
use crate::config::{Config, Overrides};
use crate::engine::whatsapp::WhatsAppAccount;
use crate::engine::Engine;

/// The WhatsApp settings every command that runs the channel shares.
#[derive(Debug, Args, Clone, Default)]
pub struct WhatsAppArgs {
    /// The Cloud API's base URL [default: https://graph.facebook.com].
    #[arg(long, env = "CLERK_WHATSAPP_GRAPH_URL")]
    pub whatsapp_graph_url: Option<String>,
    /// The Graph API version used in request paths [default: v23.0].
    #[arg(long, env = "CLERK_WHATSAPP_API_VERSION")]
    pub whatsapp_api_version: Option<String>,
    /// WhatsApp customers answered at the same time [default: 4].
    #[arg(long, env = "CLERK_WHATSAPP_WORKERS")]
    pub whatsapp_workers: Option<usize>,
    /// Messages sent per second per number, below Meta's 80 [default: 60].
    #[arg(long, env = "CLERK_WHATSAPP_MAX_PER_SECOND")]
    pub whatsapp_max_per_second: Option<u32>,
    /// First retry delay of a failed send in ms, doubled per attempt [default: 1000].
    #[arg(long, env = "CLERK_WHATSAPP_RETRY_BASE_MS")]
    pub whatsapp_retry_base_ms: Option<u64>,
    /// Seconds a send cut off by a crash waits for Meta's status before it is sent again
    /// [default: 60].
    #[arg(long, env = "CLERK_WHATSAPP_RESEND_GRACE_S")]
    pub whatsapp_resend_grace_s: Option<u64>,
    /// Comma-separated words that, in a short message, ask for a person.
    #[arg(long, env = "CLERK_WHATSAPP_HANDOFF_WORDS", value_delimiter = ',')]
    pub whatsapp_handoff_words: Option<Vec<String>>,
}

impl WhatsAppArgs {
    /// These settings laid over `over`.
    pub fn overrides(self, over: Overrides) -> Overrides {
        Overrides {
            whatsapp_graph_url: self.whatsapp_graph_url,
            whatsapp_api_version: self.whatsapp_api_version,
            whatsapp_workers: self.whatsapp_workers,
            whatsapp_max_per_second: self.whatsapp_max_per_second,
            whatsapp_retry_base_ms: self.whatsapp_retry_base_ms,
            whatsapp_resend_grace_s: self.whatsapp_resend_grace_s,
            whatsapp_handoff_words: self.whatsapp_handoff_words,
            ..over
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum WhatsAppCommand {
    /// Chat with a business's bot in the terminal, through the signed webhook path and a
    /// built-in fake Cloud API, before connecting a number. Reads one message per line.
    Simulate(SimulateArgs),
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub tuning: AnswerTuning,
    #[command(flatten)]
    pub whatsapp: WhatsAppArgs,
    #[arg(long, short, env = "CLERK_BUSINESS")]
    pub business: String,
    /// The simulated customer's WhatsApp id; give the same one to continue a conversation
    /// [default: a new one each run].
    #[arg(long)]
    pub customer: Option<String>,
}

#[derive(Debug, Args)]
pub struct BenchWhatsAppArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub whatsapp: WhatsAppArgs,
    #[arg(long, short, env = "CLERK_BUSINESS", default_value = "harbour-bikes")]
    pub business: String,
    /// Webhook deliveries per second.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Distinct customers the messages come from.
    #[arg(long, default_value_t = 500)]
    pub customers: usize,
    /// Print one JSON object.
    #[arg(long, env = "CLERK_JSON")]
    pub json: bool,
}

/// The service on loopback with the channel, a fake Cloud API and a fake number of `business`.
struct Rig {
    webhook: String,
    fake: FakeCloud,
    app: App,
    secret: String,
    phone_number_id: String,
    client: reqwest::Client,
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Rig {
    /// Starts the service `config` describes, as `app::start` does for `clerk serve`, but on
    /// a free loopback port, its admin token a random one nobody is told, and its channel
    /// holding only a fake number of `business` that sends to a fake Cloud API. Returns once
    /// the encoder and the model are loaded.
    async fn start(
        mut config: Config,
        options: impl FnOnce(app::Builder) -> app::Builder,
        business: &str,
    ) -> anyhow::Result<Rig> {
        let fake = FakeCloud::start().await?;
        let secret = random_hex(16);
        // A made-up id no real number has, so its rows are never a real number's.
        let phone_number_id = format!("9{}", rand::rng().next_u64() % 10u64.pow(14));
        let account = WhatsAppAccount {
            business_id: business.to_string(),
            phone_number_id: phone_number_id.clone(),
            access_token: random_hex(16),
            app_secret: secret.clone(),
            verify_token: random_hex(16),
        };
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.admin_token = Some(random_hex(16));
        config.whatsapp.graph_url = fake.base_url.clone();
        let service = options(app::Builder::new(config)).whatsapp_accounts(vec![account]);
        let app = service.start().await?;
        check_business(app.engine(), business)?;
        app.until_ready().await;
        let webhook = format!("{}/webhooks/whatsapp", app.base_url());
        fake.report_statuses_to(&webhook, &secret);
        Ok(Rig {
            webhook,
            fake,
            app,
            secret,
            phone_number_id,
            client: reqwest::Client::new(),
        })
    }

    /// Delivers a customer's text as Meta would; returns its wamid and the HTTP status.
    async fn deliver(&self, wa_id: &str, text: &str) -> anyhow::Result<(String, u16)> {
        let wamid = format!("wamid.sim.{}", random_hex(12));
        let body = text_payload(&self.phone_number_id, wa_id, &wamid, text, now_secs());
        Ok((wamid, self.post_signed(body.to_string()).await?))
    }

    /// Delivers a tap on choice `choice` of our interactive message `of`, as Meta would.
    async fn tap(
        &self,
        wa_id: &str,
        of: &serde_json::Value,
        choice: (&str, &str),
    ) -> anyhow::Result<(String, u16)> {
        let wamid = format!("wamid.sim.{}", random_hex(12));
        let body = choice_payload(&self.phone_number_id, wa_id, &wamid, of, choice, now_secs());
        Ok((wamid, self.post_signed(body.to_string()).await?))
    }

    /// POSTs a webhook body signed with the app secret; returns the HTTP status.
    async fn post_signed(&self, body: String) -> anyhow::Result<u16> {
        let response = self
            .client
            .post(&self.webhook)
            .header("content-type", "application/json")
            .header(
                "x-hub-signature-256",
                signature::header_for(&self.secret, body.as_bytes()),
            )
            .body(body)
            .send()
            .await?;
        Ok(response.status().as_u16())
    }

    /// Waits until `wamid` is settled and its replies are sent or given up; returns them
    /// (or, when there are none, why).
    async fn replies(&self, wamid: &str, patience: Duration) -> Result<Vec<FakeMessage>, String> {
        let started = Instant::now();
        loop {
            let (engine, id) = (self.app.engine().clone(), wamid.to_string());
            let (outcome, rows) = tokio::task::spawn_blocking(move || {
                let desk = engine.whatsapp();
                (
                    desk.inbound_outcome(&id).ok().flatten(),
                    desk.replies_to(&id).unwrap_or_default(),
                )
            })
            .await
            .map_err(|e| e.to_string())?;
            let settled = outcome.as_deref().is_some_and(|o| o != "pending")
                && rows
                    .iter()
                    .all(|(state, _)| state != "pending" && state != "sending");
            if settled {
                let sent = self.fake.replies_to(wamid);
                return if sent.is_empty() {
                    Err(format!("(no reply: {})", outcome.unwrap_or_default()))
                } else {
                    Ok(sent)
                };
            }
            if started.elapsed() > patience {
                return Err("(no reply yet; still waiting)".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The config of `common` and `whatsapp`, with the model `model` names.
fn config(
    common: &CommonArgs,
    model: &ModelArgs,
    whatsapp: WhatsAppArgs,
) -> anyhow::Result<Config> {
    common.config(whatsapp.overrides(Overrides {
        model: Some(model.model.clone()),
        models_dir: model.models_dir.clone(),
        device: Some(model.device.clone()),
        ..Overrides::default()
    }))
}

fn check_business(engine: &Engine, business: &str) -> anyhow::Result<()> {
    if engine.business(business).is_err() {
        let known: Vec<String> = engine.businesses()?.into_iter().map(|b| b.id).collect();
        bail!(
            "no business {business:?} in this data dir; known: {}",
            known.join(", ")
        );
    }
    Ok(())
}

pub fn run(command: WhatsAppCommand) -> anyhow::Result<()> {
    match command {
        WhatsAppCommand::Simulate(args) => simulate(args),
    }
}

fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let config = config(&args.common, &args.model, args.whatsapp)?;
    let settings = args.tuning.settings()?;
    let tuning = args.tuning.clone();
    let options = move |service: app::Builder| {
        service
            .answer_settings(settings)
            .model_languages(tuning.model_languages)
            .judge(tuning.judge)
    };
    let customer = args
        .customer
        .clone()
        .unwrap_or_else(|| format!("1555{:07}", rand::rng().next_u32() % 10_000_000));
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let rig = Rig::start(config, options, &args.business).await?;
        eprintln!(
            "Chatting with {} as customer {} through the signed webhook and a fake Cloud API. \
             One message per line; end with Ctrl-D.",
            args.business, customer
        );
        let (lines_tx, mut lines) = tokio::sync::mpsc::channel::<String>(16);
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if lines_tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
        // The buttons or list rows of clerk's last reply: a line that is one of their
        // numbers taps it.
        let mut offered: Option<(serde_json::Value, Vec<(String, String)>)> = None;
        while let Some(line) = lines.recv().await {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let picked = offered.as_ref().and_then(|(of, choices)| {
                let n: usize = line.parse().ok()?;
                let (id, title) = choices.get(n.checked_sub(1)?)?;
                Some((of.clone(), id.clone(), title.clone()))
            });
            let (wamid, status) = match &picked {
                Some((of, id, title)) => rig.tap(&customer, of, (id, title)).await?,
                None => rig.deliver(&customer, line).await?,
            };
            if status != 200 {
                bail!("the webhook refused the message with HTTP {status}");
            }
            offered = None;
            match rig.replies(&wamid, Duration::from_secs(300)).await {
                Ok(replies) => {
                    for reply in replies {
                        println!("{}: {}\n", args.business, reply.body);
                        if let Some(object) = reply.interactive {
                            let choices = interactive::choices_of(&object);
                            for (i, (_, title)) in choices.iter().enumerate() {
                                println!("  [{}] {title}", i + 1);
                            }
                            println!();
                            offered = Some((object, choices));
                        }
                    }
                }
                Err(why) => println!("{why}\n"),
            }
        }
        Ok(())
    })
}

/// The questions of the business's evaluation file, to make the load realistic.
fn questions(corpus: &std::path::Path, business: &str) -> Vec<String> {
    let path = corpus.join(business).join("eval.json");
    let parsed: Option<serde_json::Value> = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let mut found: Vec<String> = parsed
        .as_ref()
        .and_then(|v| v.get("questions").and_then(|q| q.as_array()).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|q| {
            q.get("question")
                .and_then(|t| t.as_str())
                .map(str::to_string)
        })
        .collect();
    if found.is_empty() {
        found.push("when are you open on saturday?".to_string());
    }
    found
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn bench(args: BenchWhatsAppArgs) -> anyhow::Result<()> {
    if args.rate == 0 || args.seconds == 0 || args.customers == 0 {
        bail!("--rate, --seconds and --customers must be at least 1");
    }
    let config = config(&args.common, &args.model, args.whatsapp)?;
    let questions = questions(&config.corpus_dir, &args.business);
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(async move {
        let rig = Arc::new(Rig::start(config, |service| service, &args.business).await?);
        let rss_start = rss_mib();
        let total = args.rate as u64 * args.seconds;
        let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate));
        let started = tokio::time::Instant::now();
        let mut tasks = Vec::with_capacity(total as usize);
        let mut rss_samples = Vec::new();
        for i in 0..total {
            tokio::time::sleep_until(started + interval * i as u32).await;
            if i % (10 * u64::from(args.rate)) == 0 {
                rss_samples.push(rss_mib());
            }
            let rig = rig.clone();
            let customer = format!("1555{:07}", i as usize % args.customers);
            let question = questions[i as usize % questions.len()].clone();
            tasks.push(tokio::spawn(async move {
                let sent = Instant::now();
                let result = rig.deliver(&customer, &question).await;
                (sent.elapsed().as_secs_f64() * 1000.0, result)
            }));
        }
        let mut latencies = Vec::with_capacity(tasks.len());
        let mut errors = 0u64;
        for task in tasks {
            let (ms, result) = task.await.context("a delivery task failed")?;
            match result {
                Ok((_, 200)) => latencies.push(ms),
                _ => errors += 1,
            }
        }
        let send_seconds = started.elapsed().as_secs_f64();
        let rss_end = rss_mib();
        let counts = rig.app.channel().counts(None)?;
        latencies.sort_by(f64::total_cmp);
        anyhow::Ok(serde_json::json!({
            "business": args.business,
            "deliveries": total,
            "rate_per_s": args.rate,
            "achieved_rate_per_s": total as f64 / send_seconds,
            "errors": errors,
            "ack_ms": {
                "p50": percentile(&latencies, 50.0),
                "p99": percentile(&latencies, 99.0),
                "max": latencies.last().copied().unwrap_or(0.0),
            },
            "inbox": {"answered": counts.inbox_done, "queued": counts.inbox_pending},
            "replies": {"sent": counts.sent, "queued": counts.outbox_pending, "dead": counts.dead},
            "rss_mib": {"start": rss_start, "end": rss_end, "every_10_s": rss_samples},
        }))
    })?;
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{} deliveries at {}/s ({:.0}/s achieved): {} errors; acknowledgement p50 {:.2} ms, \
             p99 {:.2} ms, max {:.2} ms",
            report["deliveries"],
            report["rate_per_s"],
            report["achieved_rate_per_s"].as_f64().unwrap_or(0.0),
            report["errors"],
            report["ack_ms"]["p50"].as_f64().unwrap_or(0.0),
            report["ack_ms"]["p99"].as_f64().unwrap_or(0.0),
            report["ack_ms"]["max"].as_f64().unwrap_or(0.0),
        );
        println!(
            "inbox: {} answered, {} queued; replies: {} sent, {} queued, {} dead",
            report["inbox"]["answered"],
            report["inbox"]["queued"],
            report["replies"]["sent"],
            report["replies"]["queued"],
            report["replies"]["dead"],
        );
        let every: Vec<String> = report["rss_mib"]["every_10_s"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| format!("{:.0}", v.as_f64().unwrap_or(0.0)))
            .collect();
        println!(
            "memory (RSS, MiB): {:.0} before sending, every 10 s {}, {:.0} at the end",
            report["rss_mib"]["start"].as_f64().unwrap_or(0.0),
            every.join(" → "),
            report["rss_mib"]["end"].as_f64().unwrap_or(0.0),
        );
    }
    Ok(())
}
