//! The generated path: a prompt of numbered sources rendered with the model's chat template
//! within its token budget, decoded greedily, and released sentence by sentence only after each
//! sentence passes the fact check.
//!
//! The budget is counted in the model's own tokens. When the sources do not fit, the
//! lowest-ranked ones are dropped first; the one left is shortened at a sentence boundary and
//! the reply records that it was (never a silent cut).

use std::time::Instant;

use crate::index::Hit;
use crate::llm::engine::{Prompt, Request};
use crate::llm::generate::{CopyFigures, Event, FinishReason, GenerateParams, SamplingParams};
use crate::llm::{ChatMessage, ChatModel, LlmError};

use super::check::{misattached, unsupported, unsupported_claims, Evidence, FactKind, Unsupported};
use super::expect::{holds, mentions, Expected};
use super::StreamEvent;

/// How the generated reply went.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The reply as shown (whole sentences that passed the check), or empty.
    pub text: String,
    /// The first span that failed the check, if any (then `text` is not to be used).
    pub rejected: Option<Unsupported>,
    pub prompt_tokens: usize,
    pub tokens: usize,
    pub tokens_per_second: f64,
}

pub struct PromptSettings<'a> {
    pub business: &'a str,
    pub max_sources: usize,
    pub prompt_budget: usize,
    pub max_reply_tokens: usize,
    /// The customer's language (ISO 639-1).
    pub language: &'a str,
}

fn language_name(code: &str) -> &'static str {
    match code {
        "de" => "German",
        "fr" => "French",
        "es" => "Spanish",
        "pt" => "Portuguese",
        "it" => "Italian",
        "nl" => "Dutch",
        _ => "English",
    }
}

fn system_prompt(business: &str, language: &str) -> String {
    format!(
        "You answer customers of {business} on WhatsApp, in {}. Use only the numbered \
         sources. Reply in one or two short sentences. Copy prices, times and names exactly as \
         the sources write them. If the sources do not answer the question, say you don't know.",
        language_name(language)
    )
}

fn user_prompt(question: &str, sources: &[(String, String)]) -> String {
    let mut text = String::from("Sources:\n");
    for (i, (title, body)) in sources.iter().enumerate() {
        text.push_str(&format!("[{}] {}: {}\n", i + 1, title, body));
    }
    text.push_str(&format!(
        "\nQuestion: {question}\nAnswer the question in one sentence, using the words of the sources."
    ));
    text
}

/// Prompt token ids for `question` over as many of `hits` as fit the budget.
pub fn build_prompt(
    model: &ChatModel,
    settings: &PromptSettings,
    question: &str,
    hits: &[Hit],
) -> Result<(Vec<u32>, usize, bool), LlmError> {
    let budget = settings
        .prompt_budget
        .min(model.context.saturating_sub(settings.max_reply_tokens + 1));
    let mut sources: Vec<(String, String)> = hits
        .iter()
        .take(settings.max_sources)
        .map(|h| (h.title.clone(), h.text.clone()))
        .collect();
    let mut shortened = false;
    loop {
        let messages = [
            ChatMessage::system(system_prompt(settings.business, settings.language)),
            ChatMessage::user(user_prompt(question, &sources)),
        ];
        let rendered = model.template.render(&messages, true)?;
        let mut ids: Vec<u32> = model.bos.into_iter().collect();
        ids.extend(model.codec.encode(&rendered)?);
        if ids.len() <= budget {
            return Ok((ids, sources.len(), shortened));
        }
        if sources.len() > 1 {
            sources.pop();
            continue;
        }
        // One source left and still too long: drop its last sentence (or word), visibly.
        let Some(last) = sources.first_mut() else {
            return Err(LlmError::ContextFull {
                needed: ids.len() + settings.max_reply_tokens,
                capacity: model.context,
            });
        };
        let body = last.1.trim_end_matches(" …");
        let without_last_char = body.char_indices().last().map_or("", |(i, _)| &body[..i]);
        // An ASCII boundary, so the cut is always on a character boundary.
        let cut = without_last_char
            .rfind(['.', '!', '?', '\n', ' '])
            .filter(|&i| i > 0);
        match cut {
            Some(i) => {
                last.1 = format!("{} …", body[..i].trim_end());
                shortened = true;
            }
            None => {
                return Err(LlmError::ContextFull {
                    needed: ids.len() + settings.max_reply_tokens,
                    capacity: model.context,
                })
            }
        }
    }
}

/// Where a finished sentence ends in `text`, if one does.
fn last_sentence_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    text.char_indices()
        .rev()
        .filter(|&(i, c)| {
            c == '\n'
                || (matches!(c, '.' | '!' | '?')
                    && bytes.get(i + 1).is_some_and(|b| b.is_ascii_whitespace()))
        })
        .map(|(i, c)| i + c.len_utf8())
        .next()
}

/// What a draft is checked against besides its sources.
///
/// The question's own words are deliberately *not* allowed as names: "Saturday is open from
/// 9:30 to 19:00" to German sources is then unbound (no "Saturday" there to bind to) and
/// passed, with the weekday's hours; measured on the dev split, it let more wrong drafts
/// through than right ones.
pub struct Asked<'a> {
    /// The question's content words: what the reply must be about.
    pub content: &'a [String],
    /// Words any reply may use (the business's name).
    pub allowed: &'a [&'a str],
    /// The kind of fact the question asks for, where the prompt's sources hold one: a reply
    /// without one does not answer ("Telefonnummer?" to "telefonnummer?").
    pub wanted: Option<Expected>,
}

/// How the prompt numbered its sources and how decoding is fenced in.
pub struct Fence {
    /// How many numbered sources the prompt holds: the reply may cite "[1]" … "[n]"; the
    /// markers are taken out before it is checked or shown (the reply cites its sources apart).
    pub sources: usize,
    /// Decoding itself lets the model write only figures the sources (or the allowed words)
    /// write, so the check after it rarely finds a number to withdraw the draft for.
    pub copy_figures: bool,
}

/// `text` without its citation markers "[1]" … "[sources]" and the space before each.
fn without_citations(text: &str, sources: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let marker = rest[open + 1..].split_once(']').and_then(|(n, _)| {
            let cited = n.parse::<usize>().ok()?;
            ((1..=sources).contains(&cited) && !n.starts_with('0')).then_some(n.len() + 2)
        });
        match marker {
            Some(len) => {
                out.push_str(rest[..open].trim_end_matches(' '));
                rest = &rest[open + len..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Generates a reply from `prompt`, streaming each checked sentence to `on_event`.
pub fn generate_checked(
    model: &ChatModel,
    prompt: Vec<u32>,
    max_reply_tokens: usize,
    evidence: &Evidence,
    asked: &Asked,
    fence: &Fence,
    on_event: &mut dyn FnMut(StreamEvent),
) -> Result<Generation, LlmError> {
    let allowed = asked.allowed;
    let prompt_tokens = prompt.len();
    let request = Request {
        prompt: Prompt::Tokens(prompt),
        params: GenerateParams {
            max_tokens: max_reply_tokens,
            sampling: SamplingParams {
                temperature: 0.0,
                repeat_penalty: 1.1,
                repeat_last_n: 64,
                ..SamplingParams::default()
            },
            stop_tokens: model.stop_tokens.clone(),
            stop_strings: vec!["\nQuestion:".into(), "\nSources:".into()],
            copy_figures: fence
                .copy_figures
                .then(|| CopyFigures::new(evidence.figures(allowed)).citing(fence.sources)),
        },
    };
    let events = model.generator.submit(request)?;
    on_event(StreamEvent::Drafting);
    let mut text = String::new();
    let mut released = 0;
    let mut tokens = 0;
    let mut rejected = None;
    // None until the engine says the reply is finished; a stream that ends without saying so
    // (the engine stopped) is not a reply.
    let mut finish = None;
    let mut decode_seconds = 0.0;
    let mut release = |upto: usize, text: &str, released: &mut usize| -> Option<Unsupported> {
        let part = without_citations(&text[*released..upto], fence.sources);
        let checked = &without_citations(&text[..upto], fence.sources);
        if let Some(bad) = unsupported(checked, evidence, allowed)
            .into_iter()
            .chain(unsupported_claims(checked, evidence))
            .chain(misattached(checked, evidence, asked.content, allowed))
            .next()
        {
            return Some(bad);
        }
        if !part.trim().is_empty() {
            on_event(StreamEvent::Text(part));
        }
        *released = upto;
        None
    };
    // Decode speed from the first token on, so a reply stopped by the check is measured too.
    let mut first_token: Option<Instant> = None;
    for event in events {
        match event? {
            Event::Token { text: piece, .. } => {
                tokens += 1;
                first_token.get_or_insert_with(Instant::now);
                decode_seconds = first_token.map_or(0.0, |t| t.elapsed().as_secs_f64());
                text.push_str(&piece);
            }
            Event::Text(piece) => text.push_str(&piece),
            Event::Done(summary) => {
                finish = Some(summary.finish);
                if summary.text.starts_with(&text[..released]) {
                    text = summary.text;
                }
                tokens = summary.generated_tokens;
                break;
            }
        }
        if let Some(end) = last_sentence_end(&text).filter(|&e| e > released) {
            if let Some(bad) = release(end, &text, &mut released) {
                rejected = Some(bad);
                // Dropping the stream stops the generation.
                break;
            }
        }
    }
    if rejected.is_none() {
        // A reply cut off by the token limit ends at its last whole sentence.
        // Only a reply that ended by itself keeps its last words; one cut off by a limit ends
        // at its last whole sentence.
        let end = match finish {
            Some(FinishReason::StopToken | FinishReason::StopString) => text.len(),
            _ => last_sentence_end(&text).unwrap_or(released).max(released),
        };
        rejected = release(end, &text, &mut released);
    }
    if rejected.is_none() && finish.is_none() {
        return Err(LlmError::EngineStopped);
    }
    let shown = without_citations(&text[..released], fence.sources)
        .trim()
        .to_string();
    // A reply that never mentions what the customer asked about does not answer them, however
    // well its sentences are supported ("Tom runs the workshop" to "who fixes e-bikes?"); nor
    // does one without the kind of fact asked for when its sources hold one.
    if rejected.is_none() {
        let kind = if !asked.content.is_empty() && !mentions(&shown, asked.content) {
            Some(FactKind::Claim)
        } else if asked.wanted.is_some_and(|wanted| !holds(&shown, wanted)) {
            Some(FactKind::Unanswered)
        } else {
            None
        };
        rejected = kind.map(|kind| Unsupported {
            span: shown.clone(),
            kind,
        });
    }
    Ok(Generation {
        text: shown,
        rejected,
        prompt_tokens,
        tokens,
        tokens_per_second: if decode_seconds > 0.0 {
            tokens.saturating_sub(1) as f64 / decode_seconds
        } else {
            0.0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::without_citations;

    #[test]
    fn citation_markers_of_the_prompts_sources_are_taken_out() {
        assert_eq!(
            without_citations("Bis 16:00 Uhr [1]. Samstags [2][1] nicht.", 2),
            "Bis 16:00 Uhr. Samstags nicht."
        );
        assert_eq!(without_citations("Size [3] and [a]", 2), "Size [3] and [a]");
        assert_eq!(without_citations("[01] x [", 2), "[01] x [");
    }
}
