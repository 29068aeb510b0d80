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
use super::error::{ApiError, ErrorBody};
use super::handlers::{blocking, json_body};
use super::openapi::{
    BusinessPath, Busy, ConversationPath, Internal, NotReady, OtherBusiness, Unauthorized,
    UnknownBusiness,
};
use super::AppState;
use crate::answer::{Answer, StreamEvent, Turn};
use crate::engine::History;
use crate::store::Conversation;

/// How long a client is told to wait while the model loads.
const LOADING_RETRY_SECONDS: u64 = 5;

/// A customer's question (unknown fields are refused).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// The customer's message (at most 2000 characters by default).
    #[schema(min_length = 1)]
    question: String,
    /// Continues (or starts) this conversation; a new id is made when absent. 1-128
    /// characters: letters, digits and `-_.:+@`.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_.:+@-]{1,128}$")]
    conversation_id: Option<String>,
    /// Answer as server-sent events.
    #[serde(default)]
    stream: bool,
    /// The id of a choice from an earlier answer's `order.choices` (confirm, change or cancel
    /// an order, or pick a product), with its title as the `question`.
    #[serde(default)]
    #[schema(max_length = 200)]
    choice: Option<String>,
}

/// The data of an `event: token` in an answer stream: reply text that has passed the fact
/// check.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenEvent<'a> {
    text: &'a str,
}

/// Where an answer's earlier turns come from, owned so it can move to the blocking pool.
pub(super) enum Turns {
    /// A stored conversation (a new one when None), and the choice sent back, if any.
    Stored(Option<String>, Option<String>),
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
        // A client that went away stops listening; the reply still finishes and is stored.
        let mut on_event = |event| {
            let _ = tx.blocking_send(Progress::Text(event));
        };
        let result = match &turns {
            Turns::Stored(id, choice) => engine.converse(
                &business,
                &question,
                id.as_deref(),
                choice.as_deref(),
                &mut on_event,
            ),
            Turns::Given(turns) => {
                engine.answer(&business, &question, History::Given(turns), &mut on_event)
            }
        };
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
            .json_data(TokenEvent { text: &text }),
        Progress::Text(StreamEvent::Reset) => Event::default()
            .event("reset")
            .json_data(serde_json::json!({})),
        Progress::Text(StreamEvent::Drafting) => Event::default()
            .event("drafting")
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

/// Answer a customer's question.
///
/// Answers from the business's documents: a matching FAQ or catalog entry, a model reply whose
/// facts are checked against the sources, an extractive reply, or an abstention that flags the
/// conversation for a person. A message that orders, reserves or buys something, or a
/// `choice` sent back from an earlier answer, is answered by the order conversation instead
/// (mode `order`): a summary to confirm with its choices, a list of products to pick from,
/// the order placed, changed or cancelled — the same orders `GET …/orders` lists. The
/// exchange is stored in the conversation before the answer returns. With `stream: true` the
/// reply comes as server-sent events.
#[utoipa::path(
    post,
    path = "/v1/businesses/{business}/answer",
    operation_id = "answer",
    tag = "answers",
    params(BusinessPath),
    request_body(
        content = AnswerRequest,
        example = json!({"question": "Do you rent e-bikes?", "conversation_id": "wa-4915112345678"}),
    ),
    responses(
        (status = 200, description = "The answer (JSON), or with `stream: true` a stream of \
            server-sent events: possibly one `event: drafting` (empty data: the model starts \
            writing, so a chat can show that it is typing); zero or more `event: token` whose data is a `TokenEvent` (reply \
            text that has already passed the fact check); possibly one `event: reset` with data \
            `{}` (the text streamed so far is withdrawn because a later sentence failed the \
            check); then exactly one `event: answer` whose data is the `Answer`, or instead of it \
            one `event: error` whose data is an `Error`.",
            content(
                (Answer = "application/json"),
                (String = "text/event-stream", example = json!("event: token\ndata: {\"text\":\"Yes, \"}\n\nevent: answer\ndata: {\"text\":\"Yes, from 25 EUR a day.\", …}\n\n")),
            ),
        ),
        (status = 400, description = "Empty or over-long question (`bad_question`), an invalid conversation id (`bad_conversation_id`), or a malformed body (`bad_request`).", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, response = UnknownBusiness),
        (status = 429, response = Busy),
        (status = 500, response = Internal),
        (status = 503, response = NotReady),
    ),
)]
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
        Turns::Stored(request.conversation_id, request.choice),
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

/// Show a conversation.
///
/// Returns a conversation's turns in order and whether it needs a person.
#[utoipa::path(
    get,
    path = "/v1/businesses/{business}/conversations/{conversation}",
    operation_id = "getConversation",
    tag = "answers",
    params(BusinessPath, ConversationPath),
    responses(
        (status = 200, description = "The conversation.", body = Conversation),
        (status = 400, description = "Invalid conversation id (`bad_conversation_id`).", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, description = "No such business (`unknown_business`) or conversation (`unknown_conversation`).", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
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

/// Give a conversation back to clerk.
///
/// Clears `needs_person` after a person has handled the conversation: clerk answers there
/// again. On WhatsApp a customer's conversation is `wa:<wa_id>`; while it needs a person, their
/// messages are kept in it unanswered.
#[utoipa::path(
    post,
    path = "/v1/businesses/{business}/conversations/{conversation}/release",
    operation_id = "releaseConversation",
    tag = "answers",
    params(BusinessPath, ConversationPath),
    responses(
        (status = 200, description = "The conversation, released.", body = Conversation),
        (status = 400, description = "Invalid conversation id (`bad_conversation_id`).", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, description = "No such business (`unknown_business`) or conversation (`unknown_conversation`).", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
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

/// Whether answers can be served.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// Whether the model and indexes are loaded.
    ready: bool,
    /// The loaded chat model, or null when none is (yet).
    #[schema(examples("SmolLM2 135M Instruct"))]
    model: Option<String>,
    /// How many businesses the service holds.
    businesses: usize,
}

/// Readiness probe.
///
/// Says whether the model and the businesses' indexes are loaded, so that answers can be
/// served. Before that it answers 503 with the same body and a `Retry-After` header.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "health",
    security(),
    responses(
        (status = 200, description = "Ready to answer.", body = Readiness),
        (status = 503, description = "Still loading (`ready` is false).", body = Readiness,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying.")),
        ),
        (status = 500, response = Internal),
    ),
)]
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
