//! The HTTP API (axum): routes, request and response shapes, authentication; the business's
//! orders in `orders`; settings, a customer's export and erasure, a person's replies in
//! `privacy`.
//!
//! Handlers turn a request into a call on the [`Engine`] (on the blocking pool, since engine
//! calls parse, index and search) and its result back into JSON. No tantivy or SQLite type is
//! seen here; errors become status codes in `error` and nowhere else.

mod answers;
mod auth;
mod error;
mod handlers;
mod metrics;
mod openai;
mod openapi;
mod orders;
mod privacy;
mod search;
mod web;
mod whatsapp;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use axum::Router;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub use auth::Caller;
pub use error::ApiError;

use crate::channels::whatsapp::WhatsApp;
use crate::engine::Engine;

/// Meta's notifications are at most a few MB; a larger body is not one of them.
const WEBHOOK_MAX_BYTES: usize = 4 << 20;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    /// SHA-256 of the admin token; None refuses every admin action.
    admin_token_hash: Option<[u8; 32]>,
    metrics: Arc<metrics::Metrics>,
    /// Set once the model (if any) and the indexes are loaded; answers wait for it.
    ready: Arc<AtomicBool>,
    /// The WhatsApp channel, when this server takes Meta's webhooks.
    whatsapp: Option<Arc<WhatsApp>>,
    /// The web page's signed-in browsers.
    sessions: Arc<web::Sessions>,
    /// Turns true when the server stops taking requests: streams that would run on (the
    /// live inbox) end, so a graceful shutdown does not wait for their browsers.
    closing: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    /// State for a service that is ready at once (its model, if any, already set on `engine`).
    pub fn new(engine: Arc<Engine>, admin_token: Option<&str>) -> AppState {
        AppState {
            engine,
            admin_token_hash: admin_token
                .filter(|t| !t.is_empty())
                .map(|t| Sha256::digest(t.as_bytes()).into()),
            metrics: Arc::default(),
            ready: Arc::new(AtomicBool::new(true)),
            whatsapp: None,
            sessions: Arc::default(),
            closing: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }

    /// The same state taking WhatsApp's webhooks through `channel`.
    pub fn with_whatsapp(mut self, channel: Arc<WhatsApp>) -> AppState {
        self.whatsapp = Some(channel);
        self
    }

    /// The flag answers wait for; the WhatsApp workers wait for it too.
    pub fn readiness(&self) -> Arc<AtomicBool> {
        self.ready.clone()
    }

    /// The same state, not ready until [`AppState::set_ready`] (a model is still loading).
    pub fn starting(self) -> AppState {
        self.ready.store(false, Ordering::SeqCst);
        self
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// The largest request body accepted (the webhook has its own): room for the most files
    /// of the largest size an upload may carry, plus multipart framing; each file's own limit
    /// is checked by the parser with a message naming it.
    pub fn body_limit(&self) -> usize {
        let limits = self.engine.limits();
        limits
            .documents
            .max_file_bytes
            .saturating_mul(limits.max_files.min(8))
            .saturating_add(1 << 20)
    }
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.body_limit();
    Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/openapi.json", get(openapi::openapi))
        .route(
            "/v1/businesses",
            post(handlers::create_business).get(handlers::list_businesses),
        )
        .route("/v1/businesses/{business}", get(handlers::get_business))
        .route("/v1/businesses/{business}/keys", post(handlers::rotate_key))
        .route(
            "/v1/businesses/{business}/documents",
            post(handlers::upload).get(handlers::list_documents),
        )
        .route(
            "/v1/businesses/{business}/documents/{name}",
            delete(handlers::delete_document),
        )
        .route(
            "/v1/businesses/{business}/search",
            get(search::search_get).post(search::search_post),
        )
        .route("/v1/businesses/{business}/answer", post(answers::answer))
        .route(
            "/v1/businesses/{business}/conversations/{conversation}",
            get(answers::conversation),
        )
        .route(
            "/v1/businesses/{business}/conversations/{conversation}/release",
            post(answers::release),
        )
        .route(
            "/v1/businesses/{business}/conversations/{conversation}/reply",
            post(privacy::reply),
        )
        .route(
            "/v1/businesses/{business}/settings",
            get(privacy::settings).put(privacy::put_settings),
        )
        .route(
            "/v1/businesses/{business}/customers/{customer}",
            get(privacy::export).delete(privacy::erase),
        )
        .route("/v1/businesses/{business}/orders", get(orders::list))
        .route("/v1/businesses/{business}/orders/{order}", get(orders::get))
        .route(
            "/v1/businesses/{business}/orders/{order}/{action}",
            post(orders::act),
        )
        .route(
            "/v1/businesses/{business}/whatsapp",
            put(whatsapp::connect).get(whatsapp::connection),
        )
        .route(
            "/v1/businesses/{business}/whatsapp/dead-letters",
            get(whatsapp::dead_letters),
        )
        .route(
            "/v1/businesses/{business}/whatsapp/unanswered",
            get(whatsapp::unanswered),
        )
        .route(
            "/v1/businesses/{business}/whatsapp/customers/{wa_id}",
            get(whatsapp::customer),
        )
        .route(
            "/webhooks/whatsapp",
            get(whatsapp::verify)
                .post(whatsapp::receive)
                .layer(DefaultBodyLimit::max(WEBHOOK_MAX_BYTES)),
        )
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/models", get(openai::models))
        .route("/readyz", get(answers::readyz))
        .route("/metrics", get(metrics::metrics))
        .merge(web::routes())
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            error::BodyLimits {
                webhook: WEBHOOK_MAX_BYTES,
                other: body_limit,
            },
            error::json_errors,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` resolves, then finishes requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = state.closing.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            closing.send_replace(true);
        })
        .await
}
