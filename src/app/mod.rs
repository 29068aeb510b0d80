//! Starting the service: one [`start`] (or [`Builder::start`]) that `clerk serve`, `clerk
//! whatsapp simulate`, `clerk bench whatsapp` and the integration tests all call, so the
//! service they run is the same one. It opens the engine on the data dir, indexes the demo
//! businesses into a new one, listens at once while the encoder, model and judge load on a
//! thread of their own (answers and the WhatsApp workers wait for readiness), runs the
//! WhatsApp channel's workers and sender and the retention job, and hands back an [`App`]:
//! the bound address, the engine, the channel, and a graceful shutdown.
//!
//! What differs between callers is an option of the [`Builder`] (a model already loaded, a
//! moved clock, in-memory WhatsApp numbers), never a second way of assembling the parts. It
//! owns no request handling (`http`), no domain rules (`engine`) and no command line (`cli`).

mod first_run;
pub mod models;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::answer::AnswerSettings;
use crate::channels::whatsapp::{WhatsApp, WhatsAppError};
use crate::config::Config;
use crate::embed::EmbedError;
use crate::engine::whatsapp::WhatsAppAccount;
use crate::engine::{spawn_retention, system_clock, Clock, Engine, EngineError};
use crate::http::{self, AppState};
use crate::llm::{ChatModel, LlmError};

pub use first_run::{generated_admin_token, seed_demo};
pub use models::{attach_encoder, load_encoder, ModelChoice, ANSWER_CONTEXT};

/// How often the service removes what is past its retention.
pub const RETENTION_EVERY: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("opening data dir {path}: {source}")]
    Open { path: PathBuf, source: EngineError },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("writing {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the model {spec}: {source}")]
    Model { spec: String, source: LlmError },
    #[error("the sentence encoder {spec}: {source}")]
    Encoder { spec: String, source: EmbedError },
    #[error("opening the WhatsApp channel: {0}")]
    WhatsApp(#[from] WhatsAppError),
    #[error("cannot listen on {address} (CLERK_LISTEN): {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("starting the model loader: {0}")]
    Loader(std::io::Error),
    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),
    #[error("the server task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// The service as `config` describes it, with every option at its default: what `clerk
/// serve` runs.
pub async fn start(config: Config) -> Result<App, AppError> {
    Builder::new(config).start().await
}

/// The options of a start beyond [`Config`]; each defaults to what `clerk serve` does.
pub struct Builder {
    config: Config,
    answer_settings: AnswerSettings,
    model_languages: Option<Vec<String>>,
    judge: Option<String>,
    model: Option<Arc<ChatModel>>,
    seed_demo: bool,
    answering: bool,
    accounts: Option<Vec<WhatsAppAccount>>,
    clock: Clock,
    retention_every: Duration,
}

impl Builder {
    pub fn new(config: Config) -> Builder {
        Builder {
            config,
            answer_settings: AnswerSettings::default(),
            model_languages: None,
            judge: None,
            model: None,
            seed_demo: true,
            answering: true,
            accounts: None,
            clock: system_clock(),
            retention_every: RETENTION_EVERY,
        }
    }

    /// The answer pipeline's settings (thresholds, budgets, the judge's).
    pub fn answer_settings(mut self, settings: AnswerSettings) -> Builder {
        self.answer_settings = settings;
        self
    }

    /// The languages the model may write (default: what it declares).
    pub fn model_languages(mut self, languages: Option<Vec<String>>) -> Builder {
        self.model_languages = languages;
        self
    }

    /// The judge's spec (a .gguf path, `hf:…`, or None/`none`: no judge).
    pub fn judge(mut self, spec: Option<String>) -> Builder {
        self.judge = spec;
        self
    }

    /// A chat model already loaded, used instead of loading `config.model` (tests share one
    /// across servers).
    pub fn model(mut self, model: Arc<ChatModel>) -> Builder {
        self.model = Some(model);
        self
    }

    /// Starts with the data dir as it is, even when it holds no business.
    pub fn without_demo(mut self) -> Builder {
        self.seed_demo = false;
        self
    }

    /// The WhatsApp channel takes messages and sends what the business enqueues (orders'
    /// notices, a person's replies) but answers none: for tests of exactly that.
    pub fn without_answers(mut self) -> Builder {
        self.answering = false;
        self
    }

    /// The channel serves `accounts` only, held in memory, instead of the numbers connected
    /// in the store: the simulator's fake number, which must not touch (or be touched by) a
    /// server on the same data dir.
    pub fn whatsapp_accounts(mut self, accounts: Vec<WhatsAppAccount>) -> Builder {
        self.accounts = Some(accounts);
        self
    }

    /// The clock the retention job reads, and how often it runs (tests move the clock on).
    pub fn retention(mut self, clock: Clock, every: Duration) -> Builder {
        self.clock = clock;
        self.retention_every = every;
        self
    }

    /// Starts the service on the current tokio runtime; returns once it listens.
    pub async fn start(self) -> Result<App, AppError> {
        let Builder {
            config,
            answer_settings,
            model_languages,
            judge,
            model,
            seed_demo,
            answering,
            accounts,
            clock,
            retention_every,
        } = self;
        let prepare_config = config.clone();
        // Opening the store and indexing the demo corpus are blocking, CPU-heavy work.
        let (engine, admin_token, demo_keys) = tokio::task::spawn_blocking(move || {
            let config = prepare_config;
            let engine = Engine::open(&config.data_dir, config.limits)
                .map_err(|source| AppError::Open {
                    path: config.data_dir.clone(),
                    source,
                })?
                .with_answer_settings(answer_settings)
                .with_retention_days(config.retention_days);
            let demo_keys = if seed_demo && engine.businesses()?.is_empty() {
                first_run::seed_demo(&engine, &config.corpus_dir)?
            } else {
                Vec::new()
            };
            let admin_token = match &config.admin_token {
                Some(token) => token.clone(),
                None => first_run::generated_admin_token(&config.data_dir)?,
            };
            Ok::<_, AppError>((Arc::new(engine), admin_token, demo_keys))
        })
        .await??;
        let loading = models::Loading {
            encoder: config.encoder.clone(),
            choice: ModelChoice {
                model: config.model.clone(),
                models_dir: config.models_dir.clone(),
                device: config.device.clone(),
            },
            chat: model.is_none(),
            queue: config.queue,
            languages: model_languages,
            judge,
        };
        if let Some(model) = model {
            engine.set_model(Some(model));
        }
        let state = AppState::new(engine.clone(), Some(&admin_token));
        let state = if loading.is_empty() {
            state
        } else {
            // The API listens at once; /readyz and the answer endpoints say 503 until the
            // encoder and the model (pulled on first start) are loaded.
            let state = state.starting();
            let loaded = state.clone();
            models::load_in_background(engine.clone(), loading, move || loaded.set_ready())
                .map_err(AppError::Loader)?;
            state
        };
        let answering_flag = if answering {
            state.readiness()
        } else {
            Arc::new(AtomicBool::new(false))
        };
        let channel = match accounts {
            Some(accounts) => WhatsApp::with_accounts(
                engine.clone(),
                config.whatsapp.clone(),
                answering_flag,
                accounts,
            ),
            None => {
                let (engine, settings) = (engine.clone(), config.whatsapp.clone());
                tokio::task::spawn_blocking(move || WhatsApp::new(engine, settings, answering_flag))
                    .await??
            }
        };
        // Customer messages a previous run acknowledged but did not answer are answered now.
        channel.start();
        let retention = spawn_retention(engine.clone(), retention_every, clock);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| AppError::Listen {
                address: config.listen,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| AppError::Listen {
            address: config.listen,
            source,
        })?;
        tracing::info!(address = %address, "clerk is listening");
        let ready = state.readiness();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(http::serve(
            listener,
            state.with_whatsapp(channel.clone()),
            async {
                // A dropped App stops its server too.
                let _ = stopped.await;
            },
        ));
        Ok(App {
            address,
            engine,
            channel,
            ready,
            demo_keys,
            stop: Some(stop),
            server,
            retention,
        })
    }
}

/// A running service. Dropping it stops the server (the channel's tasks end with the
/// runtime); [`App::shutdown`] also waits for the requests in flight.
pub struct App {
    address: SocketAddr,
    engine: Arc<Engine>,
    channel: Arc<WhatsApp>,
    ready: Arc<AtomicBool>,
    demo_keys: Vec<(String, String)>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    retention: JoinHandle<()>,
}

impl App {
    /// The address the server listens on (the port chosen when `listen` said 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://ADDRESS`, for clients.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn channel(&self) -> &Arc<WhatsApp> {
        &self.channel
    }

    /// The demo businesses this start created, each with its API key (also in
    /// `<data dir>/demo-api-keys`); empty when the data dir had businesses.
    pub fn demo_keys(&self) -> &[(String, String)] {
        &self.demo_keys
    }

    /// Whether the encoder, model and judge have loaded (or failed to).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Waits until [`App::is_ready`].
    pub async fn until_ready(&self) {
        while !self.is_ready() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Serves until `signal` resolves (or the server fails), then shuts down gracefully.
    pub async fn serve_until(mut self, signal: impl Future<Output = ()>) -> Result<(), AppError> {
        tokio::select! {
            _ = signal => {}
            ended = &mut self.server => {
                self.retention.abort();
                return ended?.map_err(AppError::Serve);
            }
        }
        tracing::info!("shutting down");
        self.shutdown().await
    }

    /// Stops taking connections, finishes the requests in flight and stops the retention job.
    pub async fn shutdown(mut self) -> Result<(), AppError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.retention.abort();
        (&mut self.server).await?.map_err(AppError::Serve)
    }
}
