//! The OpenAI-compatible face: `POST /v1/chat/completions` and `GET /v1/models`, so existing
//! OpenAI client libraries talk to clerk unchanged. The model name is the business id; the
//! last user message is the question and the earlier messages are the conversation. Sources,
//! the answer's mode and the hand-over flag come back in extra fields.
//!
//! A streamed completion is sent once the reply has passed the fact check: OpenAI's protocol
//! has no way to withdraw text already sent, and clerk never shows an unchecked reply.

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::answers::{finish, require_ready, start, Turns};
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::handlers::{blocking, json_body};
use super::openapi::{Busy, Internal, NotReady, OtherBusiness, Unauthorized};
use super::AppState;
use crate::answer::{Answer, Mode, Role, Source, Turn};

/// OpenAI's chat completion request; other OpenAI fields (temperature, max_tokens, user, …)
/// are accepted and ignored: the business's pipeline decides how a reply is made.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChatRequest {
    /// The business to answer as.
    #[schema(examples("harbour-bikes"))]
    model: String,
    #[schema(min_items = 1)]
    messages: Vec<ChatMessage>,
    /// Send the completion as server-sent events of `ChatCompletionChunk`s.
    #[serde(default)]
    stream: bool,
}

/// One message of the conversation so far.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChatMessage {
    /// The last message must be the customer's (`user`); earlier `user` and `assistant`
    /// messages are the conversation so far, and messages with any other role (`system`,
    /// `tool`, …) are ignored.
    #[schema(examples("user", "assistant", "system"))]
    role: String,
    /// Null for assistant turns that only called tools; empty when absent.
    #[serde(default)]
    content: Option<Content>,
}

/// A message's content: a string, or OpenAI's list of typed parts (the `text` of each part is
/// read, joined by newlines).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// One typed part of a message, such as `{"type": "text", "text": "…"}`; only `text` is read,
/// and parts without it (images, audio) are skipped.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ContentPart {
    #[serde(default)]
    text: Option<String>,
}

impl Content {
    fn text(&self) -> String {
        match self {
            Content::Text(text) => text.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(|p| p.text.as_deref())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// Tokens the model read and wrote for the reply (0 for replies made without it).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Usage {
    prompt_tokens: usize,
    completion_tokens: usize,
    total_tokens: usize,
}

/// What clerk adds to OpenAI's reply: where it came from and how it was made.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Extras {
    sources: Vec<Source>,
    mode: Mode,
    /// The conversation should go to a person (the documents did not hold the answer).
    needs_person: bool,
    /// The customer's language (ISO 639-1).
    #[schema(examples("de"))]
    language: String,
}

/// A completion, as OpenAI's clients read it, with clerk's extras.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChatCompletion {
    #[schema(pattern = "^chatcmpl-", examples("chatcmpl-1a2b3c4d5e6f7a8b"))]
    id: String,
    /// Always `chat.completion`.
    #[schema(examples("chat.completion"))]
    object: &'static str,
    /// Seconds since the Unix epoch.
    created: u64,
    /// The business id, as asked.
    model: String,
    /// Exactly one choice.
    choices: Vec<Choice>,
    usage: Usage,
    #[serde(flatten)]
    extras: Extras,
}

/// The one reply of a completion.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Choice {
    /// Always 0.
    index: u32,
    message: AssistantMessage,
    /// Always `stop`.
    #[schema(examples("stop"))]
    finish_reason: &'static str,
}

/// The reply, as an assistant message.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AssistantMessage {
    /// Always `assistant`.
    #[schema(examples("assistant"))]
    role: &'static str,
    /// The reply to send the customer.
    content: String,
}

/// One `data:` event of a streamed chat completion. The first chunk's delta carries `role`,
/// the following ones `content` pieces (sent once the whole reply has passed the fact check);
/// the last has an empty delta, `finish_reason: "stop"`, and the usage and clerk's extras.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChatCompletionChunk {
    #[schema(pattern = "^chatcmpl-")]
    id: String,
    /// Always `chat.completion.chunk`.
    #[schema(examples("chat.completion.chunk"))]
    object: &'static str,
    /// Seconds since the Unix epoch.
    created: u64,
    /// The business id, as asked.
    model: String,
    /// Exactly one choice.
    choices: Vec<ChunkChoice>,
    /// Only in the last chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
    /// Only in the last chunk.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    extras: Option<Extras>,
}

/// A piece of the reply in a chunk.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChunkChoice {
    /// Always 0.
    index: u32,
    delta: Delta,
    /// `stop` in the last chunk, null before.
    finish_reason: Option<&'static str>,
}

/// What a chunk adds to the reply: the role first, then pieces of content; empty at the end.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
}

/// The businesses a caller may use as `model`, as OpenAI lists models.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ModelList {
    /// Always `list`.
    #[schema(examples("list"))]
    object: &'static str,
    data: Vec<ModelCard>,
}

/// A business, as OpenAI describes a model.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ModelCard {
    /// The business id.
    id: String,
    /// Always `model`.
    #[schema(examples("model"))]
    object: &'static str,
    /// When the business was created, seconds since the Unix epoch.
    created: u64,
    /// Always `clerk`.
    #[schema(examples("clerk"))]
    owned_by: &'static str,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn completion_id() -> String {
    format!("chatcmpl-{:016x}", rand::random::<u64>())
}

/// The question and the turns before it, from OpenAI-style messages.
fn split_messages(messages: &[ChatMessage]) -> Result<(String, Vec<Turn>), ApiError> {
    let Some((last, earlier)) = messages.split_last() else {
        return Err(ApiError::bad_request(
            "messages is empty; send at least one {\"role\": \"user\", \"content\": \"...\"}",
        ));
    };
    if last.role != "user" {
        return Err(ApiError::bad_request(format!(
            "the last message must be the customer's (role \"user\"), not {:?}",
            last.role
        )));
    }
    let turns = earlier
        .iter()
        .filter_map(|m| {
            let role = match m.role.as_str() {
                "user" => Role::Customer,
                "assistant" => Role::Assistant,
                // System and tool messages do not steer a business's answers.
                _ => return None,
            };
            Some(Turn {
                role,
                text: m.content.as_ref().map(Content::text).unwrap_or_default(),
            })
        })
        .collect();
    Ok((
        last.content.as_ref().map(Content::text).unwrap_or_default(),
        turns,
    ))
}

fn usage(answer: &Answer) -> Usage {
    let (prompt, completion) = answer
        .generation
        .as_ref()
        .map_or((0, 0), |g| (g.prompt_tokens, g.tokens));
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
    }
}

fn extras(answer: &Answer) -> Extras {
    Extras {
        sources: answer.sources.clone(),
        mode: answer.mode,
        needs_person: answer.needs_person,
        language: answer.language.clone(),
    }
}

/// OpenAI-compatible chat completion.
///
/// Answers the last user message like `/v1/businesses/{business}/answer`, with `model` naming
/// the business; earlier messages are the conversation so far (clerk stores none of it).
/// Accepts OpenAI chat clients unchanged and adds `sources`, `mode`, `needs_person` and
/// `language` to the reply.
#[utoipa::path(
    post,
    path = "/v1/chat/completions",
    operation_id = "chatCompletions",
    tag = "openai",
    request_body(
        content = ChatRequest,
        example = json!({"model": "harbour-bikes", "messages": [{"role": "user", "content": "Do you rent e-bikes?"}]}),
    ),
    responses(
        (status = 200, description = "The completion (JSON), or with `stream: true` \
            server-sent events, each a line `data: {chunk}` where the chunk is a \
            `ChatCompletionChunk`; the stream ends with `data: [DONE]`.",
            content(
                (ChatCompletion = "application/json"),
                (String = "text/event-stream"),
            ),
        ),
        (status = 400, description = "No messages or a last message that is not `user`, an empty or over-long question (`bad_question`), or a malformed body (`bad_request`).", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, description = "No business with the `model` id (`unknown_business`).", body = ErrorBody),
        (status = 429, response = Busy),
        (status = 500, response = Internal),
        (status = 503, response = NotReady),
    ),
)]
pub async fn chat_completions(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let request = json_body(
        &state,
        body,
        "; send {\"model\": \"<business id>\", \"messages\": [...]}",
    )?;
    caller.check(&request.model)?;
    let (question, turns) = split_messages(&request.messages)?;
    require_ready(&state)?;
    let business = request.model.clone();
    let answer = finish(start(&state, business, question, Turns::Given(turns))).await?;
    let id = completion_id();
    let created = now();
    if !request.stream {
        return Ok(Json(ChatCompletion {
            id,
            object: "chat.completion",
            created,
            model: request.model,
            choices: vec![Choice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant",
                    content: answer.text.clone(),
                },
                finish_reason: "stop",
            }],
            usage: usage(&answer),
            extras: extras(&answer),
        })
        .into_response());
    }
    let chunk = |delta: Delta, finish_reason: Option<&'static str>| ChatCompletionChunk {
        id: id.clone(),
        object: "chat.completion.chunk",
        created,
        model: request.model.clone(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason,
        }],
        usage: None,
        extras: None,
    };
    let mut chunks = vec![chunk(
        Delta {
            role: Some("assistant"),
            content: Some(String::new()),
        },
        None,
    )];
    // Word-sized pieces, as a client rendering a stream expects them.
    for piece in answer.text.split_inclusive(' ') {
        chunks.push(chunk(
            Delta {
                role: None,
                content: Some(piece.to_string()),
            },
            None,
        ));
    }
    let mut last = chunk(
        Delta {
            role: None,
            content: None,
        },
        Some("stop"),
    );
    last.usage = Some(usage(&answer));
    last.extras = Some(extras(&answer));
    chunks.push(last);
    let events: Vec<Result<Event, Infallible>> = chunks
        .iter()
        .map(|c| Ok(Event::default().data(json!(c).to_string())))
        .chain([Ok(Event::default().data("[DONE]"))])
        .collect();
    Ok(Sse::new(stream::iter(events)).into_response())
}

/// OpenAI-compatible model list.
///
/// Lists the businesses the caller may use as `model` ids: all of them for the admin token,
/// its own for a business API key.
#[utoipa::path(
    get,
    path = "/v1/models",
    operation_id = "listModels",
    tag = "openai",
    responses(
        (status = 200, description = "The usable models (businesses).", body = ModelList),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
pub async fn models(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ModelList>, ApiError> {
    let businesses = blocking(&state, |e| e.businesses()).await?;
    let data = businesses
        .into_iter()
        .filter(|b| caller.check(&b.id).is_ok())
        .map(|b| ModelCard {
            id: b.id,
            object: "model",
            created: b.created_at,
            owned_by: "clerk",
        })
        .collect();
    Ok(Json(ModelList {
        object: "list",
        data,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: &str, content: &str) -> ChatMessage {
        ChatMessage {
            role: role.into(),
            content: Some(Content::Text(content.into())),
        }
    }

    #[test]
    fn the_last_user_message_is_the_question_and_the_rest_the_conversation() {
        let (question, turns) = split_messages(&[
            message("system", "be nice"),
            message("user", "how much is the tidewater 500?"),
            message("assistant", "649.00 GBP"),
            message("user", "and is it in stock?"),
        ])
        .unwrap();
        assert_eq!(question, "and is it in stock?");
        assert_eq!(turns.len(), 2);
        assert_eq!(turns[0].role, Role::Customer);
        assert!(split_messages(&[]).is_err());
        assert!(split_messages(&[message("assistant", "hi")]).is_err());
    }

    #[test]
    fn content_parts_are_read_as_text() {
        let parsed: ChatMessage = serde_json::from_value(json!({
            "role": "user",
            "content": [{"type": "text", "text": "opening hours?"}]
        }))
        .unwrap();
        assert_eq!(parsed.content.unwrap().text(), "opening hours?");
        let tool_call: ChatMessage =
            serde_json::from_value(json!({"role": "assistant", "content": null})).unwrap();
        assert!(tool_call.content.is_none());
    }
}
