//! Answering the inbox: one task per customer with waiting messages (at most `workers` at
//! once), each taking that customer's messages in the order they were sent and settling each
//! in one transaction with its reply.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Semaphore;

use super::texts;
use super::{interactive, sender, WhatsApp};
use crate::answer::{language, Mode, Role, StreamEvent, Turn};
use crate::engine::whatsapp::{
    conversation_of, Exchange, InboundRecord, Outgoing, PendingInbound, Processed,
};
use crate::engine::{CartLine, EngineError, History, OrderCustomer, OrderMessage, OrderReply};
use crate::llm::LlmError;

/// How often the inbox is looked at without a wake-up (messages left by a crash, releases).
const POLL: Duration = Duration::from_millis(500);
/// The wait before trying again when the model is busy or the store failed.
const BACKOFF: Duration = Duration::from_millis(500);

pub(super) async fn dispatch(channel: Arc<WhatsApp>) {
    let permits = Arc::new(Semaphore::new(channel.settings.workers.max(1)));
    let active: Arc<Mutex<HashSet<(String, String)>>> = Arc::default();
    loop {
        if channel.ready.load(Ordering::SeqCst) {
            let (engine, numbers) = (channel.engine.clone(), channel.numbers());
            let waiting = tokio::task::spawn_blocking(move || {
                engine.whatsapp().waiting_customers(&numbers, 1024)
            })
            .await;
            match waiting {
                Ok(Ok(customers)) => {
                    for customer in customers {
                        if !active.lock().insert(customer.clone()) {
                            continue;
                        }
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            return;
                        };
                        let (channel, active) = (channel.clone(), active.clone());
                        tokio::spawn(async move {
                            answer_customer(&channel, &customer.0, &customer.1).await;
                            active.lock().remove(&customer);
                            drop(permit);
                            // Messages that came while this customer was active.
                            channel.inbox.notify_one();
                        });
                    }
                }
                Ok(Err(e)) => tracing::error!(error = %e, "reading the WhatsApp inbox failed"),
                Err(e) => tracing::error!(error = %e, "the inbox reader panicked"),
            }
        }
        tokio::select! {
            _ = channel.inbox.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Works through one customer's waiting messages.
async fn answer_customer(channel: &Arc<WhatsApp>, business: &str, wa_id: &str) {
    loop {
        let (c, b, w) = (channel.clone(), business.to_string(), wa_id.to_string());
        let step = tokio::task::spawn_blocking(move || {
            let Some(pending) = c.engine.whatsapp().next_inbound(&b, &w)? else {
                return Ok(false);
            };
            match process(&c, &pending) {
                Ok(()) => Ok(true),
                Err(e) if passes(&e) => Err(e),
                Err(e) => {
                    hand_over_after(&c, &pending, &e)?;
                    Ok::<bool, EngineError>(true)
                }
            }
        })
        .await;
        match step {
            Ok(Ok(true)) => channel.outbox.notify_one(),
            Ok(Ok(false)) => return,
            Ok(Err(e)) => {
                tracing::warn!(business, error = %e, "a WhatsApp message waits to be answered");
                tokio::time::sleep(BACKOFF).await;
            }
            Err(e) => {
                tracing::error!(business, error = %e, "answering a WhatsApp message panicked");
                tokio::time::sleep(BACKOFF).await;
            }
        }
    }
}

/// Decides what one message gets and settles it. An error leaves it waiting (to be tried
/// again); anything the customer wrote gets an outcome, never a silent loss.
fn process(channel: &WhatsApp, pending: &PendingInbound) -> Result<(), EngineError> {
    let engine = &channel.engine;
    let inbound = &pending.record;
    let conversation = conversation_of(&inbound.wa_id);
    let history = engine.recent_turns(&inbound.business_id, &conversation)?;
    let fallback = engine.language_of(&inbound.business_id)?;
    let text = inbound.text.as_deref().unwrap_or("");
    let opt = texts::opt_out_request(text);
    // A tap's title or a cart's note says little of the customer's language either.
    let tapped = inbound.kind != "text";
    let language = if text.is_empty() || opt.is_some() || tapped {
        // An unreadable message or a bare STOP says little of its language; the customer's
        // last message says more.
        history
            .iter()
            .rev()
            .find(|t| t.role == Role::Customer)
            .map(|t| language::detect(&t.text, &fallback))
            .unwrap_or(fallback)
    } else {
        language::detect(text, &fallback)
    };
    let said = inbound.said();
    let processed = if opt == Some(true) && !pending.opted_out {
        Processed {
            set_opted_out: Some(true),
            ..replied(
                "opted out",
                said,
                texts::opted_out(&language),
                "opted out",
                false,
            )
        }
    } else if opt == Some(false) && (pending.opted_out || !pending.handed_off) {
        // START from a customer who never stopped is a greeting, not a question to answer.
        Processed {
            set_opted_out: Some(false),
            ..replied(
                "opted in",
                said,
                texts::opted_in(&language),
                "opted in",
                false,
            )
        }
    } else if pending.opted_out {
        Processed {
            outcome: "not answered: the customer opted out",
            customer_turn: Some(said),
            ..Processed::default()
        }
    } else if pending.handed_off {
        // A person has this conversation: the message is kept for them, unread.
        Processed {
            outcome: "held for a person",
            customer_turn: Some(said),
            ..Processed::default()
        }
    } else if inbound.kind == "order" {
        return cart(channel, pending, &history, &language);
    } else if !matches!(inbound.kind.as_str(), "text" | "interactive") || text.is_empty() {
        let reply = texts::written_only(&language);
        replied(
            "written questions only",
            said,
            reply,
            "written questions only",
            false,
        )
    } else if texts::asks_for_person(
        text,
        &channel
            .engine
            .handoff_words(&inbound.business_id, &channel.settings.handoff_words)?,
    ) {
        replied(
            "handed off",
            text,
            texts::handoff(&language),
            "handed off",
            true,
        )
    } else {
        return answer(channel, pending, &history, &language);
    };
    settle(channel, inbound, processed, &language)?;
    Ok(())
}

/// Settles `inbound` as `processed` says, with the disclosure in `language` that the store
/// puts before the reply when the customer has not been told they write with an automated
/// assistant (every settling goes through here, so no reply can miss it).
fn settle(
    channel: &WhatsApp,
    inbound: &InboundRecord,
    processed: Processed<'_>,
    language: &str,
) -> Result<bool, EngineError> {
    let disclosure = channel.engine.disclosure(
        &inbound.business_id,
        language,
        &channel.settings.handoff_words,
    )?;
    let processed = Processed {
        disclosure: Some(&disclosure),
        ..processed
    };
    channel
        .engine
        .whatsapp()
        .finish_inbound(inbound, &processed)
}

/// `reply` to the customer's message: recorded with it in the conversation, and sent after
/// the message's read receipt, split to fit WhatsApp's limit.
fn replied<'a>(
    outcome: &'a str,
    question: &'a str,
    reply: &'a str,
    mode: &'a str,
    needs_person: bool,
) -> Processed<'a> {
    let mut outgoing = vec![Outgoing::Read];
    outgoing.extend(
        texts::split_reply(reply, texts::MAX_BODY)
            .into_iter()
            .map(Outgoing::Text),
    );
    Processed {
        outcome,
        exchange: Some(Exchange {
            question,
            reply,
            mode,
            needs_person,
        }),
        outgoing,
        ..Processed::default()
    }
}

/// Settles a message that cannot be answered (it would fail the same way again): a person
/// takes the conversation, and the customer is told so.
fn hand_over_after(
    channel: &WhatsApp,
    pending: &PendingInbound,
    error: &EngineError,
) -> Result<(), EngineError> {
    let inbound = &pending.record;
    tracing::error!(
        business = inbound.business_id,
        wamid = inbound.wamid,
        error = %error,
        "a WhatsApp message could not be answered; handed to a person"
    );
    let said = inbound.said();
    let fallback = channel
        .engine
        .language_of(&inbound.business_id)
        .unwrap_or_else(|_| "en".to_string());
    let language = language::detect(said, &fallback);
    let reply = texts::handoff(&language);
    let outcome = format!("handed off: {error}");
    let processed = replied(&outcome, said, reply, "handed off", true);
    settle(channel, inbound, processed, &language)?;
    Ok(())
}

/// Whether an answering error may pass (the model is busy or restarting, the store is locked).
fn passes(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Llm(LlmError::Busy(_) | LlmError::EngineStopped)
            | EngineError::Store(_)
            | EngineError::Index(crate::index::IndexError::Locked { .. })
    )
}

/// The order conversation's part of a message (an order, a tap, an answer to a summary).
fn order_message<'a>(
    inbound: &'a InboundRecord,
    conversation: &'a str,
    text: &'a str,
    history: &'a [Turn],
    language: &'a str,
) -> OrderMessage<'a> {
    OrderMessage {
        customer: OrderCustomer::WhatsApp {
            wa_id: inbound.wa_id.clone(),
            name: None,
        },
        conversation,
        text,
        choice: inbound.choice.as_deref(),
        key: &inbound.wamid,
        history,
        language,
    }
}

/// Settles `inbound` with the order conversation's reply: its text, and its buttons or list
/// as an interactive message (the text's last part is that message's body).
fn ordered(
    channel: &WhatsApp,
    inbound: &InboundRecord,
    question: &str,
    reply: &OrderReply,
    language: &str,
) -> Result<(), EngineError> {
    let mut processed = replied(reply.step.as_str(), question, &reply.text, "order", false);
    if let Some(choices) = &reply.choices {
        match interactive::parts(&reply.text, choices) {
            Ok((texts, object)) => {
                processed.outgoing.truncate(1);
                processed
                    .outgoing
                    .extend(texts.into_iter().map(Outgoing::Text));
                processed
                    .outgoing
                    .push(Outgoing::Interactive(object.to_string()));
            }
            // The text alone still says everything; the customer answers by writing.
            Err(e) => tracing::error!(error = %e, "an order reply's choices do not fit WhatsApp"),
        }
    }
    if settle(channel, inbound, processed, language)? {
        channel.metrics.answered.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// A cart from the business's Meta catalog: summarized for confirmation like a chat order.
fn cart(
    channel: &WhatsApp,
    pending: &PendingInbound,
    history: &[Turn],
    language: &str,
) -> Result<(), EngineError> {
    let inbound = &pending.record;
    let lines: Vec<CartLine> = inbound
        .cart
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default();
    let conversation = conversation_of(&inbound.wa_id);
    let message = order_message(inbound, &conversation, "", history, language);
    let reply = channel
        .engine
        .cart_order(&inbound.business_id, &message, &lines)?;
    tracing::info!(
        business = inbound.business_id,
        lines = lines.len(),
        step = reply.step.as_str(),
        "a catalog cart arrived"
    );
    ordered(channel, inbound, inbound.said(), &reply, language)
}

/// A question for the answer pipeline; the reply cites its sources on a last line. An order
/// (or a tap or short answer in one) goes to the order conversation first.
fn answer(
    channel: &WhatsApp,
    pending: &PendingInbound,
    history: &[Turn],
    language: &str,
) -> Result<(), EngineError> {
    let engine = &channel.engine;
    let inbound = &pending.record;
    let limit = engine.limits().max_question_chars;
    // A very long message is answered from its beginning rather than refused: the customer
    // cannot see an HTTP error.
    let question: String = inbound
        .text
        .as_deref()
        .unwrap_or("")
        .chars()
        .take(limit)
        .collect();
    let conversation = conversation_of(&inbound.wa_id);
    let message = order_message(inbound, &conversation, &question, history, language);
    if let Some(reply) = engine.order_turn(&inbound.business_id, &message)? {
        return ordered(channel, inbound, &question, &reply, language);
    }
    let mut typing_shown = false;
    let answer = engine.answer(
        &inbound.business_id,
        &question,
        History::Given(history),
        &mut |event| {
            if event == StreamEvent::Drafting && !typing_shown {
                typing_shown = true;
                sender::show_typing(channel, &inbound.phone_number_id, &inbound.wamid);
            }
        },
    )?;
    let mut reply = answer.text.clone();
    let cited: Vec<&str> = answer
        .sources
        .iter()
        .map(|s| s.title.as_str())
        .filter(|t| !t.is_empty())
        .collect();
    if channel.settings.cite_sources && answer.mode != Mode::Abstained && !cited.is_empty() {
        let mut unique: Vec<&str> = Vec::new();
        for title in cited {
            if !unique.contains(&title) {
                unique.push(title);
            }
        }
        reply = format!(
            "{reply}\n\n{}: {}",
            texts::source_label(language),
            unique.join("; ")
        );
    }
    let outcome = if answer.needs_person {
        "answered; handed off"
    } else {
        "answered"
    };
    let processed = replied(
        outcome,
        &question,
        &reply,
        answer.mode.as_str(),
        answer.needs_person,
    );
    if settle(channel, inbound, processed, language)? {
        channel.metrics.answered.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}
