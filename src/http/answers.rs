//! The answer endpoints: a question in, an [`Answer`] out, whole or as Server-Sent Events; a
//! stored conversation; and readiness (answers wait until the model is loaded).
//!
//! The pipeline runs on the blocking pool; while it runs, reply text that has passed the fact
//! check reaches the client as `token` events, and the finished answer as one `answer` event.
//! Failures that happen before anything is streamed (a bad question, a full generation queue)
//! are answered with their status code, never as a 200 stream.

use std::convert::Infallible;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::auth::Caller;
use super::error::ApiError;
use super::handlers::{blocking, json_body};
use super::AppState;
use crate::answer::{Answer, StreamEvent, Turn};
use crate::engine::History;
use crate::store::Conversation;

/// How long a client is told to wait while the model loads.
const LOADING_RETRY_SECONDS: u64 = 5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    question: String,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    stream: bool,
}

/// Where an answer's earlier turns come from, owned so it can move to the blocking pool.
pub(super) enum Turns {
    Stored(Option<String>),
    Given(Vec<Turn>),
}

/// What the blocking pipeline reports back.
pub(super) enum Progress {
    Text(StreamEvent),
    /// Boxed: an answer is large beside a piece of text.
    Done(Box<Result<Answer, ApiError>>),
}

pub(super) fn require_ready(state: &AppState) -> Result<(), ApiError> {
    if state.is_ready() {
        Ok(())
    } else {
        Err(ApiError::overloaded(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "clerk is still loading its model and indexes; try again shortly",
            LOADING_RETRY_SECONDS,
        ))
    }
}

/// Starts the pipeline on the blocking pool; its progress arrives on the returned channel,
/// ending with exactly one `Progress::Done`.
pub(super) fn start(
    state: &AppState,
    business: String,
    question: String,
    turns: Turns,
) -> mpsc::Receiver<Progress> {
    let (tx, rx) = mpsc::channel(64);
    let engine = state.engine.clone();
    let metrics = state.metrics.clone();
    tokio::task::spawn_blocking(move || {
        let history = match &turns {
            Turns::Stored(id) => History::Stored(id.as_deref()),
            Turns::Given(turns) => History::Given(turns),
        };
        let result = engine.answer(&business, &question, history, &mut |event| {
            // A client that went away stops listening; the reply still finishes and is stored.
            let _ = tx.blocking_send(Progress::Text(event));
        });
        if let Ok(answer) = &result {
            metrics.record_answer(answer);
        }
        let _ = tx.blocking_send(Progress::Done(Box::new(result.map_err(ApiError::from))));
    });
    rx
}

/// Waits for the pipeline to finish, ignoring streamed text.
pub(super) async fn finish(mut rx: mpsc::Receiver<Progress>) -> Result<Answer, ApiError> {
    while let Some(progress) = rx.recv().await {
        if let Progress::Done(result) = progress {
            return *result;
        }
    }
    Err(ApiError::internal(
        &"the answer task ended without a result",
    ))
}

fn receiver_stream(rx: mpsc::Receiver<Progress>) -> impl Stream<Item = Progress> {
    stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|p| (p, rx)) })
}

fn sse_event(progress: Progress) -> Result<Event, Infallible> {
    let event = match progress {
        Progress::Text(StreamEvent::Text(text)) => Event::default()
            .event("token")
            .json_data(serde_json::json!({ "text": text })),
        Progress::Text(StreamEvent::Reset) => Event::default()
            .event("reset")
            .json_data(serde_json::json!({})),
        Progress::Done(done) => match *done {
            Ok(answer) => Event::default().event("answer").json_data(&answer),
            Err(e) => Event::default()
                .event("error")
                .json_data(serde_json::json!({
                    "error": { "code": e.code, "message": e.message }
                })),
        },
    };
    Ok(event.unwrap_or_else(|_| Event::default().event("error").data("{}")))
}

pub async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
    body: Result<Json<AnswerRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.check(&business)?;
    let request = json_body(&state, body, "; send {\"question\": \"...\"}")?;
    require_ready(&state)?;
    let mut rx = start(
        &state,
        business,
        request.question,
        Turns::Stored(request.conversation_id),
    );
    if !request.stream {
        return Ok(Json(finish(rx).await?).into_response());
    }
    // Nothing is streamed until the pipeline has either produced text or finished, so a
    // refused question still gets its status code.
    let first = match rx.recv().await {
        Some(Progress::Done(done)) if done.is_err() => {
            return Err(done.err().expect("checked to be an error"))
        }
        Some(first) => first,
        None => {
            return Err(ApiError::internal(
                &"the answer task ended without a result",
            ))
        }
    };
    let events = stream::once(async move { first })
        .chain(receiver_stream(rx))
        .map(sse_event);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

pub async fn conversation(
    State(state): State<AppState>,
    caller: Caller,
    Path((business, id)): Path<(String, String)>,
) -> Result<Json<Conversation>, ApiError> {
    caller.check(&business)?;
    Ok(Json(
        blocking(&state, move |e| e.conversation(&business, &id)).await?,
    ))
}

/// `POST …/conversations/{conversation}/release`: a person is done; clerk answers there again
/// (on WhatsApp, the conversation `wa:<wa_id>`).
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path((business, id)): Path<(String, String)>,
) -> Result<Json<Conversation>, ApiError> {
    caller.check(&business)?;
    let conversation = blocking(&state, move |e| {
        e.release_conversation(&business, &id)?;
        e.conversation(&business, &id)
    })
    .await?;
    if let Some(whatsapp) = &state.whatsapp {
        whatsapp.wake();
    }
    Ok(Json(conversation))
}

#[derive(Serialize)]
pub struct Readiness {
    ready: bool,
    model: Option<String>,
    businesses: usize,
}

pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    let businesses = blocking(&state, |e| e.businesses()).await?.len();
    let ready = state.is_ready();
    let body = Json(Readiness {
        ready,
        model: state.engine.model().map(|m| m.name.clone()),
        businesses,
    });
    if ready {
        Ok(body.into_response())
    } else {
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            LOADING_RETRY_SECONDS.into(),
        );
        Ok(response)
    }
}
