//! Whether a passage answers the question, asked of a language model that reads the two
//! together: the sentence encoder compares a question and a passage as two separate vectors
//! and cannot tell a near miss ("Macht ihr Haarverlängerungen?" beside "Schneidet ihr
//! lockiges Haar?") from a paraphrase; a reader can. One forward pass per passage, no
//! generation: the judgement is the log-odds of the model's next token being "yes" rather
//! than "no".
//!
//! The model sees the passage's title and the sentences the encoder found nearest the
//! question (in document order, within `MAX_PASSAGE_CHARS`), so the prompt stays short on a
//! CPU. Instructions are in English for every language: the multilingual models read the
//! question and passage in theirs.

use std::sync::Arc;

use crate::documents::PassageKind;
use crate::index::{sentences, Hit};
use crate::llm::engine::Prompt;
use crate::llm::{ChatMessage, ChatModel, LlmError};

/// Most characters of passage text in a judgement prompt.
const MAX_PASSAGE_CHARS: usize = 600;

const INSTRUCTIONS: &str = "You check whether a passage from a shop's documents answers a \
                            customer's question. Reply with yes or no only.";

/// A language model asked whether a passage answers a question.
pub struct Judge {
    model: Arc<ChatModel>,
    yes: Vec<u32>,
    no: Vec<u32>,
}

impl Judge {
    /// A judge on `model`; fails when its tokenizer has no single tokens for yes and no.
    pub fn new(model: Arc<ChatModel>) -> Result<Judge, LlmError> {
        // The spellings the tokenizer has as one token each.
        let first_tokens = |words: [&str; 4]| -> Result<Vec<u32>, LlmError> {
            let mut ids = Vec::new();
            for word in words {
                if let [id] = model.codec.encode(word)?[..] {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
            Ok(ids)
        };
        let yes = first_tokens(["yes", "Yes", " yes", " Yes"])?;
        let no = first_tokens(["no", "No", " no", " No"])?;
        if yes.is_empty() || no.is_empty() || yes.iter().any(|y| no.contains(y)) {
            return Err(LlmError::BadModel(
                "its tokenizer does not tell yes from no in one token".into(),
            ));
        }
        Ok(Judge { model, yes, no })
    }

    pub fn model_name(&self) -> &str {
        &self.model.name
    }

    /// Log-odds that `hit` answers `question` (above 0: the model leans to yes).
    pub fn judge(&self, question: &str, hit: &Hit) -> Result<f32, LlmError> {
        let messages = [
            ChatMessage::system(INSTRUCTIONS),
            ChatMessage::user(format!(
                "Passage:\n{}\n\nCustomer's question: {question}\n\nDoes the passage answer \
                 this question? Reply yes or no.",
                passage_text(hit)
            )),
        ];
        let prompt = self.model.template.render(&messages, true)?;
        let mut tokens: Vec<u32> = self.model.bos.into_iter().collect();
        tokens.extend(self.model.codec.encode(&prompt)?);
        let scores = self
            .model
            .generator
            .score(Prompt::Tokens(tokens), &[self.yes.clone(), self.no.clone()])?;
        Ok(scores[0] - scores[1])
    }
}

/// The passage as the judge reads it: its title, then its text — for prose the sentences
/// nearest the question first chosen, then put back in document order.
pub fn passage_text(hit: &Hit) -> String {
    let all = sentences(&hit.text);
    let body = if hit.kind != PassageKind::Product && all.len() == hit.sentence_similarities.len() {
        let mut order: Vec<usize> = (0..all.len()).collect();
        order.sort_by(|&a, &b| {
            hit.sentence_similarities[b].total_cmp(&hit.sentence_similarities[a])
        });
        let mut chosen = Vec::new();
        let mut length = 0;
        for i in order {
            if length + all[i].len() > MAX_PASSAGE_CHARS && !chosen.is_empty() {
                break;
            }
            length += all[i].len() + 1;
            chosen.push(i);
        }
        chosen.sort_unstable();
        chosen.iter().map(|&i| all[i]).collect::<Vec<_>>().join(" ")
    } else {
        clip(&hit.text)
    };
    if hit.title.is_empty() {
        body
    } else {
        format!("{}\n{body}", hit.title)
    }
}

fn clip(text: &str) -> String {
    if text.len() <= MAX_PASSAGE_CHARS {
        return text.to_string();
    }
    let mut end = MAX_PASSAGE_CHARS;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &str, similarities: Vec<f32>) -> Hit {
        Hit {
            document: "salon.md".into(),
            ordinal: 0,
            kind: PassageKind::Page,
            title: "Im Salon".into(),
            heading_path: Vec::new(),
            text: text.into(),
            score: 1.0,
            product: None,
            coverage: None,
            similarity: Some(0.8),
            sentence_similarity: similarities.iter().copied().reduce(f32::max),
            sentence_similarities: similarities,
            question_similarity: None,
        }
    }

    #[test]
    fn the_judge_reads_the_nearest_sentences_in_document_order() {
        let long = "Wir arbeiten mit Naturkosmetik. ".repeat(30);
        let text = format!("{long}\nKaffee gibt es auch.\nHunde sind willkommen.");
        let n = sentences(&text).len();
        let mut similarities = vec![0.7; n];
        similarities[n - 1] = 0.9;
        similarities[n - 2] = 0.85;
        let shown = passage_text(&page(&text, similarities));
        assert!(shown.starts_with("Im Salon\n"), "{shown}");
        assert!(
            shown.contains("Kaffee gibt es auch. Hunde sind willkommen."),
            "{shown}"
        );
        assert!(shown.len() <= MAX_PASSAGE_CHARS + 40, "{}", shown.len());
    }
}
