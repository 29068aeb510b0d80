//! The structure shared by Markdown, HTML and plain text: a flat list of headings and paragraphs
//! (plus FAQ pairs the markup already makes explicit), and how that list becomes passages. This is
//! where FAQ entries are recognized — a heading that asks a question, a paragraph that opens with
//! a bold question, `Q:`/`A:` label pairs — and where the remaining prose is cut into sections at
//! headings and handed to the chunker.

use super::chunk::chunk;
use super::clean::single_line;
use super::faq::{is_question, label, question_text, Label};
use super::{Passage, PassageKind};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    Heading {
        level: u8,
        text: String,
    },
    Para(Para),
    /// A question and answer the markup pairs explicitly (`<dt>`/`<dd>`, `<details>`).
    Faq {
        question: String,
        answer: String,
    },
    /// The end of a region (an HTML `<section>` or `<footer>`, a Markdown rule): an open answer
    /// ends here, the heading path stays.
    Boundary,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Para {
    pub text: String,
    /// List items and table rows: joined to a neighbouring tight paragraph by one line break
    /// instead of a blank line.
    pub tight: bool,
    /// A bold span that opens the paragraph, and the text after it.
    pub lead_bold: Option<(String, String)>,
}

impl Para {
    pub(crate) fn plain(text: impl Into<String>) -> Para {
        Para {
            text: text.into(),
            ..Para::default()
        }
    }
}

/// The marker of the next item of the innermost open list: "3. " in a numbered list (counting
/// on), "- " otherwise.
pub(crate) fn item_marker(lists: &mut [Option<u64>]) -> String {
    match lists.last_mut() {
        Some(Some(n)) => {
            let marker = format!("{n}. ");
            *n = n.saturating_add(1);
            marker
        }
        _ => "- ".to_string(),
    }
}

/// What to show after a link's text: its address (web, mail or phone), when the text does not
/// already show it. "Order here" is useless to a customer without the address.
pub(crate) fn link_target(href: &str, shown: &str) -> Option<String> {
    let href = href.trim();
    let target = href
        .strip_prefix("mailto:")
        .or_else(|| href.strip_prefix("tel:"))
        .or_else(|| {
            (href.starts_with("http://") || href.starts_with("https://")).then_some(href)
        })?;
    let bare = |s: &str| {
        s.trim_end_matches('/')
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_lowercase()
    };
    (!target.is_empty() && !shown.is_empty() && !bare(shown).contains(&bare(target)))
        .then(|| target.to_string())
}

/// Joins paragraphs into text: tight neighbours by a line break, others by a blank line.
pub(crate) fn render(paras: &[Para]) -> String {
    group(paras).join("\n\n")
}

/// Paragraph strings with runs of tight paragraphs (a list, a table) merged into one.
fn group(paras: &[Para]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut last_tight = false;
    for para in paras {
        let text = para.text.trim();
        if text.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if para.tight && last_tight => {
                last.push('\n');
                last.push_str(text);
            }
            _ => out.push(text.to_string()),
        }
        last_tight = para.tight;
    }
    out
}

/// Turns blocks into FAQ and Page passages in document order. `default_title` titles prose that
/// comes before any heading (an HTML page's `<title>`).
pub(crate) fn passages(blocks: Vec<Block>, default_title: &str) -> Vec<Passage> {
    let mut assembler = Assembler {
        out: Vec::new(),
        headings: Vec::new(),
        prose: Vec::new(),
        pending: None,
        default_title: single_line(default_title),
    };
    for block in blocks {
        match block {
            Block::Heading { level, text } => assembler.heading(level, &text),
            Block::Para(para) => assembler.para(para),
            Block::Faq { question, answer } => assembler.explicit_faq(&question, &answer),
            Block::Boundary => {
                assembler.finish_pending();
                assembler.flush_prose();
            }
        }
    }
    assembler.finish_pending();
    assembler.flush_prose();
    assembler.out
}

#[derive(Debug)]
enum Origin {
    /// A question heading of this level; its answer runs to the next heading of the same or a
    /// higher level.
    Heading(u8),
    /// A paragraph opening with a bold question; the answer runs to the next question or heading.
    Bold,
    /// A `Q:` paragraph; it only counts once an `A:` paragraph follows.
    Label { answered: bool },
}

#[derive(Debug)]
struct Pending {
    question: String,
    answer: Vec<Para>,
    path: Vec<String>,
    origin: Origin,
    /// The paragraph that asked, put back as prose if no answer turns up.
    source: Option<Para>,
}

struct Assembler {
    out: Vec<Passage>,
    headings: Vec<(u8, String)>,
    prose: Vec<Para>,
    pending: Option<Pending>,
    default_title: String,
}

impl Assembler {
    fn path(&self) -> Vec<String> {
        self.headings.iter().map(|(_, text)| text.clone()).collect()
    }

    fn heading(&mut self, level: u8, text: &str) {
        let text = single_line(text);
        if text.is_empty() {
            return;
        }
        if let Some(Pending {
            origin: Origin::Heading(open),
            answer,
            ..
        }) = &mut self.pending
        {
            // A plain sub-heading inside an answer is part of the answer.
            if level > *open && !is_question(&text) {
                answer.push(Para::plain(text));
                return;
            }
        }
        self.finish_pending();
        self.flush_prose();
        while self.headings.last().is_some_and(|(l, _)| *l >= level) {
            self.headings.pop();
        }
        let path = self.path();
        self.headings.push((level, text.clone()));
        if is_question(&text) {
            self.pending = Some(Pending {
                question: question_text(&text).to_string(),
                answer: Vec::new(),
                path,
                origin: Origin::Heading(level),
                source: None,
            });
        }
    }

    fn explicit_faq(&mut self, question: &str, answer: &str) {
        self.finish_pending();
        self.flush_prose();
        let path = self.path();
        self.push_faq(question, path, answer.to_string());
    }

    fn para(&mut self, para: Para) {
        if para.text.trim().is_empty() {
            return;
        }
        // A bold question wins over a label inside the bold ("**Q: Gutscheine?**").
        if let Some((bold, rest)) = &para.lead_bold {
            if is_question(bold) {
                self.finish_pending();
                self.flush_prose();
                self.pending = Some(Pending {
                    question: question_text(bold).to_string(),
                    answer: vec![Para::plain(rest.clone())],
                    path: self.path(),
                    origin: Origin::Bold,
                    source: Some(para.clone()),
                });
                return;
            }
        }
        match label(&para.text) {
            Some((Label::Question, rest)) => {
                self.finish_pending();
                self.flush_prose();
                self.pending = Some(Pending {
                    question: rest.to_string(),
                    answer: Vec::new(),
                    path: self.path(),
                    origin: Origin::Label { answered: false },
                    source: Some(para),
                });
                return;
            }
            Some((Label::Answer, rest)) => {
                if let Some(pending) = &mut self.pending {
                    // "A:" opens the answer of a labelled question, or of any question
                    // whose answer has not started yet.
                    let opens = match &mut pending.origin {
                        Origin::Label { answered } => !std::mem::replace(answered, true),
                        _ => render(&pending.answer).is_empty(),
                    };
                    if opens {
                        pending.answer.push(Para::plain(rest));
                        return;
                    }
                }
            }
            None => {}
        }
        if let Some(pending) = &mut self.pending {
            if let Origin::Label { answered: false } = pending.origin {
                if pending.question.is_empty() {
                    // "Q:" alone on its line: the question is the next paragraph.
                    pending.question = single_line(&para.text);
                    return;
                }
                // A `Q:` line not followed by `A:` was not a question after all.
                self.finish_pending();
            }
        }
        match &mut self.pending {
            Some(pending) => pending.answer.push(para),
            None => self.prose.push(para),
        }
    }

    fn finish_pending(&mut self) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let answer = render(&pending.answer);
        let unanswered = answer.is_empty()
            || pending.question.trim().is_empty()
            || matches!(pending.origin, Origin::Label { answered: false });
        if unanswered {
            // Keep what was written; it just is not an FAQ entry.
            self.prose.extend(pending.source);
            self.prose.extend(pending.answer);
            return;
        }
        self.push_faq(&pending.question, pending.path, answer);
    }

    fn push_faq(&mut self, question: &str, path: Vec<String>, answer: String) {
        self.out
            .push(Passage::new(PassageKind::Faq, question, path, &answer));
    }

    fn flush_prose(&mut self) {
        if self.prose.is_empty() {
            return;
        }
        let paragraphs = group(&std::mem::take(&mut self.prose));
        let path = self.path();
        let title = self
            .headings
            .last()
            .map_or(self.default_title.clone(), |(_, text)| text.clone());
        for text in chunk(&paragraphs) {
            self.out
                .push(Passage::new(PassageKind::Page, &title, path.clone(), &text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(level: u8, text: &str) -> Block {
        Block::Heading {
            level,
            text: text.into(),
        }
    }
    fn p(text: &str) -> Block {
        Block::Para(Para::plain(text))
    }
    fn summary(passages: &[Passage]) -> Vec<(PassageKind, String, String)> {
        passages
            .iter()
            .map(|p| (p.kind, p.title.clone(), p.text.clone()))
            .collect()
    }

    #[test]
    fn heading_questions_take_content_up_to_the_next_heading_of_their_level() {
        let got = passages(
            vec![
                h(1, "Hilfe"),
                p("Intro."),
                h(2, "Wie lange?"),
                p("Zwei Tage."),
                h(3, "Express"),
                p("Ein Tag."),
                h(2, "Kontakt"),
                p("Mail."),
            ],
            "",
        );
        use PassageKind::*;
        assert_eq!(
            summary(&got),
            vec![
                (Page, "Hilfe".into(), "Intro.".into()),
                (
                    Faq,
                    "Wie lange?".into(),
                    "Zwei Tage.\n\nExpress\n\nEin Tag.".into()
                ),
                (Page, "Kontakt".into(), "Mail.".into()),
            ]
        );
        assert_eq!(got[1].heading_path, ["Hilfe"]);
        assert_eq!(got[2].heading_path, ["Hilfe", "Kontakt"]);
    }

    #[test]
    fn q_without_a_stays_prose() {
        let got = passages(vec![p("F: 030 1234"), p("Sonst nichts.")], "");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind, PassageKind::Page);
        assert_eq!(got[0].text, "F: 030 1234\n\nSonst nichts.");
    }

    #[test]
    fn label_pairs_and_bold_questions() {
        let bold = Para {
            text: "Zahlung? Per Rechnung.".into(),
            tight: false,
            lead_bold: Some(("Zahlung?".into(), "Per Rechnung.".into())),
        };
        let got = passages(
            vec![
                p("Q: Do you ship?"),
                p("A: Yes."),
                p("Worldwide."),
                Block::Para(bold),
                p("Also PayPal."),
            ],
            "Shop",
        );
        use PassageKind::*;
        assert_eq!(
            summary(&got),
            vec![
                (Faq, "Do you ship?".into(), "Yes.\n\nWorldwide.".into()),
                (
                    Faq,
                    "Zahlung?".into(),
                    "Per Rechnung.\n\nAlso PayPal.".into()
                ),
            ]
        );
    }

    #[test]
    fn tight_paragraphs_form_lists() {
        let item = |t: &str| Para {
            text: t.into(),
            tight: true,
            lead_bold: None,
        };
        assert_eq!(
            render(&[
                Para::plain("Wir haben:"),
                item("- A"),
                item("- B"),
                Para::plain("Ende.")
            ]),
            "Wir haben:\n\n- A\n- B\n\nEnde."
        );
    }
}
