//! The engine's answering side: a question, within its business and conversation, through the
//! answer pipeline, with the exchange recorded so the next question can lean on it.

use std::sync::Arc;

use rand::RngCore;

use crate::answer::decision::{self, Features};
use crate::answer::language::{self, QUESTION_WORDS};
use crate::answer::ordered::OrderPart;
use crate::answer::{Answer, Answerer, BusinessContext, Judge, Mode, Role, StreamEvent, Turn};
use crate::index::Hit;
use crate::llm::ChatModel;
use crate::store::{Conversation, ConversationSummary, Exchange, InboxStamp};

use super::{Choices, Engine, EngineError, OrderCustomer, OrderMessage};

/// Where the turns before a question come from.
#[derive(Debug, Clone, Copy)]
pub enum History<'a> {
    /// The stored conversation of this id (a new one when None); the exchange is recorded.
    Stored(Option<&'a str>),
    /// Turns the caller sends along; nothing is stored.
    Given(&'a [Turn]),
}

/// Turns of the conversation the pipeline sees (two exchanges).
const HISTORY_TURNS: usize = 4;

/// A conversation id from a client: 1–128 characters of letters, digits and `-_.:+@`.
pub fn validate_conversation_id(id: &str) -> Result<(), EngineError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:+@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidConversationId(id.to_string()))
    }
}

/// The conversation a client named (checked), or a new one.
fn conversation_or_new(id: Option<&str>) -> Result<String, EngineError> {
    match id.map(str::trim).filter(|c| !c.is_empty()) {
        Some(id) => {
            validate_conversation_id(id)?;
            Ok(id.to_string())
        }
        None => Ok(new_conversation_id()),
    }
}

fn new_conversation_id() -> String {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    format!("c_{}", hex::encode(bytes))
}

impl Engine {
    /// Installs (or removes) the model that writes generated replies.
    pub fn set_model(&self, model: Option<Arc<ChatModel>>) {
        *self.model.write() = model;
    }

    pub fn model(&self) -> Option<Arc<ChatModel>> {
        self.model.read().clone()
    }

    /// Installs (or removes) the judge: a language model that reads the strongest passages
    /// with the question before an answer is decided (see `answer::judge`).
    pub fn set_judge(&self, judge: Option<Arc<Judge>>) {
        *self.judge.write() = judge;
    }

    pub fn judge(&self) -> Option<Arc<Judge>> {
        self.judge.read().clone()
    }

    /// Answers `question` for `business`; checked reply text is passed to `on_event` as it is
    /// made. With `History::Stored`, the conversation's earlier turns come from the store and
    /// the exchange is recorded there before the answer is returned; with `History::Given`
    /// the caller supplies the turns (OpenAI-style clients resend them) and nothing is stored.
    pub fn answer(
        &self,
        business: &str,
        question: &str,
        history: History<'_>,
        on_event: &mut dyn FnMut(StreamEvent),
    ) -> Result<Answer, EngineError> {
        let question = self.check_question(question)?;
        let record = self.business(business)?;
        let (conversation, turns): (Option<String>, Vec<Turn>) = match history {
            History::Stored(id) => {
                let id = conversation_or_new(id)?;
                let turns = self.recent_turns(business, &id)?;
                (Some(id), turns)
            }
            History::Given(turns) => {
                // Turns a client sends are held to the question limit too: they join the query.
                let limit = self.limits.max_question_chars;
                let skip = turns.len().saturating_sub(HISTORY_TURNS);
                let turns = turns[skip..]
                    .iter()
                    .map(|t| Turn {
                        role: t.role,
                        text: t.text.chars().take(limit).collect(),
                    })
                    .collect();
                (None, turns)
            }
        };
        let index = self.index(business)?;
        let language = index
            .as_ref()
            .map(|i| i.language().code().to_string())
            .unwrap_or_else(|| record.language.clone());
        let answerer = Answerer::new(self.model(), self.answer_settings).with_judge(self.judge());
        let mut search = |query: &str, limit: usize| match &index {
            Some(index) => index.search_with_evidence(query, limit, QUESTION_WORDS),
            None => Ok(Vec::new()),
        };
        let catalog = index.as_ref().map(|i| i.catalog()).transpose()?;
        let context = BusinessContext {
            name: &record.name,
            language: &language,
            catalog: catalog.as_deref(),
        };
        let mut answer = answerer.answer(question, &turns, &context, &mut search, on_event)?;
        if let Some(conversation) = conversation {
            self.store.record_exchange(
                business,
                &conversation,
                &Exchange {
                    question,
                    reply: &answer.text,
                    mode: answer.mode.as_str(),
                    needs_person: answer.needs_person,
                },
            )?;
            answer.conversation_id = Some(conversation);
        }
        Ok(answer)
    }

    /// Answers a customer's message in a stored conversation (a new one when None) as a chat
    /// would: an order message, or a `choice` sent back from an earlier answer's
    /// `order.choices`, goes to the order conversation first (mode `order`), anything else
    /// to the answer pipeline. The exchange is recorded either way.
    pub fn converse(
        &self,
        business: &str,
        question: &str,
        conversation: Option<&str>,
        choice: Option<&str>,
        on_event: &mut dyn FnMut(StreamEvent),
    ) -> Result<Answer, EngineError> {
        let question = self.check_question(question)?;
        self.business(business)?;
        let id = conversation_or_new(conversation)?;
        let turns = self.recent_turns(business, &id)?;
        let language = language::detect(question, &self.language_of(business)?);
        // Each message its own key: a retried request makes a new draft, which replaces the
        // older one in this conversation, so it is never a second order.
        let key = format!("api:{}", new_conversation_id());
        let message = OrderMessage {
            customer: OrderCustomer::Api,
            conversation: &id,
            text: question,
            choice,
            key: &key,
            history: &turns,
            language: &language,
        };
        let Some(reply) = self.order_turn(business, &message)? else {
            return self.answer(business, question, History::Stored(Some(&id)), on_event);
        };
        self.store.record_exchange(
            business,
            &id,
            &Exchange {
                question,
                reply: &reply.text,
                mode: Mode::Order.as_str(),
                needs_person: false,
            },
        )?;
        let choices = match reply.choices {
            Some(Choices::Buttons(choices)) | Some(Choices::List { rows: choices, .. }) => choices,
            None => Vec::new(),
        };
        Ok(Answer {
            text: reply.text,
            sources: Vec::new(),
            mode: Mode::Order,
            language,
            timings: Default::default(),
            model: None,
            needs_person: false,
            conversation_id: Some(id),
            generation: None,
            evidence: None,
            catalog: None,
            order: Some(OrderPart {
                step: reply.step,
                order_id: reply.order.map(|o| o.id),
                choices,
            }),
        })
    }

    /// The turns of a stored conversation an answer leans on, oldest first (none for an
    /// unknown id). Channels that record the exchange themselves pass these as
    /// `History::Given`.
    pub fn recent_turns(
        &self,
        business: &str,
        conversation: &str,
    ) -> Result<Vec<Turn>, EngineError> {
        Ok(self
            .store
            .recent_turns(business, conversation, HISTORY_TURNS)?
            .into_iter()
            .map(|t| Turn {
                role: match t.role.as_str() {
                    "customer" => Role::Customer,
                    "person" => Role::Person,
                    _ => Role::Assistant,
                },
                text: t.text,
            })
            .collect())
    }

    /// The passages an answer to `question` weighs, in retrieval order, with each one's
    /// decision features (None without vectors): what the calibration is fitted on.
    pub fn weigh_passages(
        &self,
        business: &str,
        question: &str,
    ) -> Result<(Vec<Hit>, Option<Vec<Features>>), EngineError> {
        let question = self.check_question(question)?;
        let language = self.language_of(business)?;
        let hits = match self.index(business)? {
            Some(index) => index.search_with_evidence(
                question,
                self.answer_settings.retrieve,
                QUESTION_WORDS,
            )?,
            None => Vec::new(),
        };
        let foreign = language::detect(question, &language) != language;
        let features = decision::features(&hits, foreign);
        Ok((hits, features))
    }

    /// The language a business's documents are in ("auto" until its first upload decides).
    pub fn language_of(&self, business: &str) -> Result<String, EngineError> {
        let record = self.business(business)?;
        Ok(self
            .index(business)?
            .map(|i| i.language().code().to_string())
            .unwrap_or(record.language))
    }

    /// Gives a conversation a person took over back to clerk, which answers in it again.
    pub fn release_conversation(&self, business: &str, id: &str) -> Result<(), EngineError> {
        self.business(business)?;
        validate_conversation_id(id)?;
        if self.store.release_conversation(business, id)? {
            Ok(())
        } else {
            Err(EngineError::UnknownConversation {
                business: business.to_string(),
                id: id.to_string(),
            })
        }
    }

    /// The business's conversations for a person to look through: those waiting for a
    /// person first, then the latest; at most `limit`.
    pub fn inbox(
        &self,
        business: &str,
        limit: usize,
    ) -> Result<Vec<ConversationSummary>, EngineError> {
        self.business(business)?;
        Ok(self.store.inbox(business, limit)?)
    }

    /// Changes whenever [`Engine::inbox`] or a conversation in it would read differently.
    pub fn inbox_stamp(&self, business: &str) -> Result<InboxStamp, EngineError> {
        Ok(self.store.inbox_stamp(business)?)
    }

    /// A conversation of `business` with every turn.
    pub fn conversation(&self, business: &str, id: &str) -> Result<Conversation, EngineError> {
        self.business(business)?;
        validate_conversation_id(id)?;
        self.store
            .conversation(business, id)?
            .ok_or_else(|| EngineError::UnknownConversation {
                business: business.to_string(),
                id: id.to_string(),
            })
    }
}
