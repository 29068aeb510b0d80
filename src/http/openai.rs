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
use serde_json::{json, Value};

use super::answers::{finish, require_ready, start, Turns};
use super::auth::Caller;
use super::error::ApiError;
use super::handlers::{blocking, json_body};
use super::AppState;
use crate::answer::{Answer, Role, Source, Turn};

#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    model: String,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    // Other OpenAI parameters (temperature, max_tokens, user, …) are accepted and ignored:
    // the business's pipeline decides how a reply is made.
}

#[derive(Debug, Deserialize)]
pub struct ChatMessage {
    role: String,
    /// Null for assistant turns that only called tools.
    #[serde(default)]
    content: Option<Content>,
}

/// A message's content: a string, or OpenAI's list of typed parts (text parts are read).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Value>),
}

impl Content {
    fn text(&self) -> String {
        match self {
            Content::Text(text) => text.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: usize,
    completion_tokens: usize,
    total_tokens: usize,
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

fn extras(answer: &Answer) -> (Vec<Source>, &'static str, bool, String) {
    (
        answer.sources.clone(),
        answer.mode.as_str(),
        answer.needs_person,
        answer.language.clone(),
    )
}

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
    let (sources, mode, needs_person, language) = extras(&answer);
    if !request.stream {
        return Ok(Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": request.model,
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": answer.text },
                "finish_reason": "stop",
            }],
            "usage": usage(&answer),
            "sources": sources,
            "mode": mode,
            "needs_person": needs_person,
            "language": language,
        }))
        .into_response());
    }
    let chunk = |delta: Value, finish: Option<&str>| {
        json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": request.model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
        })
    };
    let mut chunks = vec![chunk(json!({ "role": "assistant", "content": "" }), None)];
    // Word-sized pieces, as a client rendering a stream expects them.
    for piece in answer.text.split_inclusive(' ') {
        chunks.push(chunk(json!({ "content": piece }), None));
    }
    let mut last = chunk(json!({}), Some("stop"));
    last["sources"] = json!(sources);
    last["mode"] = json!(mode);
    last["needs_person"] = json!(needs_person);
    last["language"] = json!(language);
    last["usage"] = json!(usage(&answer));
    chunks.push(last);
    let events: Vec<Result<Event, Infallible>> = chunks
        .into_iter()
        .map(|c| Ok(Event::default().data(c.to_string())))
        .chain([Ok(Event::default().data("[DONE]"))])
        .collect();
    Ok(Sse::new(stream::iter(events)).into_response())
}

pub async fn models(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let businesses = blocking(&state, |e| e.businesses()).await?;
    let data: Vec<Value> = businesses
        .into_iter()
        .filter(|b| caller.check(&b.id).is_ok())
        .map(|b| {
            json!({
                "id": b.id,
                "object": "model",
                "created": b.created_at,
                "owned_by": "clerk",
            })
        })
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })).into_response())
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
