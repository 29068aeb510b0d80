//! Markdown to [`Block`]s with pulldown-cmark. Inline markup is flattened to plain text (link
//! targets kept in parentheses, since "order here" is useless to a customer without the address),
//! list items become "- item" lines, table rows "a | b | c" lines; front matter, raw HTML and
//! images are dropped. Soft line breaks become spaces, except that a line starting with a
//! `Q:`/`A:` label always starts a new paragraph so label pairs written on consecutive lines are
//! found.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::faq::label;
use super::outline::{item_marker, link_target, Block, Para};
use super::{Budget, DocumentError};

pub(crate) fn blocks(file: &str, text: &str, budget: &Budget) -> Result<Vec<Block>, DocumentError> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
        | Options::ENABLE_PLUSES_DELIMITED_METADATA_BLOCKS;
    let mut b = Builder::default();
    for (i, event) in Parser::new_ext(text, options).enumerate() {
        budget.check_every(file, i, 4096)?;
        b.event(event);
    }
    b.flush();
    Ok(b.blocks)
}

/// One line of the paragraph being collected; `hard` when a hard break (not a soft wrap) precedes
/// it.
#[derive(Debug, Default)]
struct Line {
    text: String,
    hard: bool,
}

/// A place in the collected lines: (line index, byte offset in that line).
type Position = (usize, usize);

#[derive(Default)]
struct Builder {
    blocks: Vec<Block>,
    lines: Vec<Line>,
    heading: Option<u8>,
    /// Nesting of list items; paragraphs inside items are tight lines.
    items: usize,
    /// Open lists: the next number of a numbered list, `None` for bullets.
    lists: Vec<Option<u64>>,
    /// The marker ("- ", "2. ") the next paragraph flushed gets as the first of a list item.
    item_marker: Option<String>,
    in_row: bool,
    cells: usize,
    /// Inside an image or a metadata block, whose text is not content.
    hidden: usize,
    strong: usize,
    /// Where a bold span opening the paragraph started and (once closed) ended, as
    /// (line index, byte offset).
    bold: Option<(Position, Option<Position>)>,
    /// Open links: target and where their text started.
    links: Vec<(String, Position)>,
}

impl Builder {
    fn position(&self) -> Position {
        match self.lines.last() {
            Some(line) => (self.lines.len() - 1, line.text.len()),
            None => (0, 0),
        }
    }

    fn push_text(&mut self, text: &str) {
        if self.hidden > 0 {
            return;
        }
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 || self.lines.is_empty() {
                self.lines.push(Line {
                    text: String::new(),
                    hard: i > 0,
                });
            }
            if let Some(line) = self.lines.last_mut() {
                line.text.push_str(part);
            }
        }
    }

    fn line_break(&mut self, hard: bool) {
        if self.hidden == 0 {
            self.lines.push(Line {
                text: String::new(),
                hard,
            });
        }
    }

    fn is_blank(&self) -> bool {
        self.lines.iter().all(|l| l.text.trim().is_empty())
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) | Event::Code(text) => self.push_text(&text),
            Event::InlineMath(text) | Event::DisplayMath(text) => self.push_text(&text),
            Event::SoftBreak => self.line_break(false),
            Event::HardBreak => self.line_break(true),
            Event::InlineHtml(html) => {
                let tag = html.trim().to_ascii_lowercase();
                if matches!(tag.as_str(), "<br>" | "<br/>" | "<br />") {
                    self.line_break(true);
                }
            }
            Event::Rule => {
                self.flush();
                self.blocks.push(Block::Boundary);
            }
            Event::Html(_) | Event::FootnoteReference(_) | Event::TaskListMarker(_) => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => {
                self.flush();
                self.heading = Some(level as u8);
            }
            Tag::Paragraph | Tag::BlockQuote(_) | Tag::CodeBlock(_) => self.flush(),
            Tag::List(start) => {
                self.flush();
                self.lists.push(start);
            }
            Tag::Item => {
                self.flush();
                self.items += 1;
                self.item_marker = Some(item_marker(&mut self.lists));
            }
            Tag::TableHead | Tag::TableRow => {
                self.flush();
                self.in_row = true;
                self.cells = 0;
            }
            Tag::TableCell => {
                if self.cells > 0 {
                    self.push_text(" | ");
                }
                self.cells += 1;
            }
            Tag::Strong => {
                if self.strong == 0 && self.bold.is_none() && self.is_blank() {
                    self.bold = Some((self.position(), None));
                }
                self.strong += 1;
            }
            Tag::Link { dest_url, .. } => {
                let at = self.position();
                self.links.push((dest_url.to_string(), at));
            }
            Tag::Image { .. } | Tag::MetadataBlock(_) => self.hidden += 1,
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(_) => {
                let text = self.take_text();
                if let Some(level) = self.heading.take() {
                    self.blocks.push(Block::Heading { level, text });
                }
            }
            TagEnd::Paragraph | TagEnd::BlockQuote(_) | TagEnd::CodeBlock => self.flush(),
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
            }
            TagEnd::Item => {
                self.flush();
                self.items = self.items.saturating_sub(1);
                self.item_marker = None;
            }
            TagEnd::TableHead | TagEnd::TableRow => {
                self.flush();
                self.in_row = false;
            }
            TagEnd::Strong => {
                self.strong = self.strong.saturating_sub(1);
                if self.strong == 0 {
                    let end = self.position();
                    if let Some((_, closed @ None)) = &mut self.bold {
                        *closed = Some(end);
                    }
                }
            }
            TagEnd::Link => {
                if let Some((url, start)) = self.links.pop() {
                    let shown = self.text_since(start);
                    if let Some(target) = link_target(&url, &shown) {
                        self.push_text(&format!(" ({target})"));
                    }
                }
            }
            TagEnd::Image | TagEnd::MetadataBlock(_) => self.hidden = self.hidden.saturating_sub(1),
            _ => {}
        }
    }

    fn text_since(&self, (line, offset): Position) -> String {
        let mut out = String::new();
        for (i, l) in self.lines.iter().enumerate().skip(line) {
            let start = if i == line {
                offset.min(l.text.len())
            } else {
                0
            };
            out.push(' ');
            out.push_str(l.text.get(start..).unwrap_or_default());
        }
        out.trim().to_string()
    }

    fn take_text(&mut self) -> String {
        let text = join(&self.lines);
        self.lines.clear();
        self.bold = None;
        text
    }

    /// Ends the paragraph being collected, splitting it where a line starts with a QA label.
    fn flush(&mut self) {
        let bold = self
            .bold
            .take()
            .and_then(|(start, end)| Some((start, end?)));
        let lines = std::mem::take(&mut self.lines);
        if lines.iter().all(|l| l.text.trim().is_empty()) {
            return;
        }
        let mut groups: Vec<&[Line]> = Vec::new();
        let mut start = 0;
        for i in 1..lines.len() {
            if label(&lines[i].text).is_some() {
                groups.push(&lines[start..i]);
                start = i;
            }
        }
        groups.push(&lines[start..]);

        let tight = self.items > 0 || self.in_row;
        for (g, group) in groups.iter().enumerate() {
            let mut text = join(group);
            if text.is_empty() {
                continue;
            }
            let lead_bold = match bold {
                Some(((0, 0), end)) if g == 0 => {
                    let bold_text = join_range(group, (0, 0), end);
                    let rest = join_range(group, end, (group.len(), 0));
                    Some((bold_text, rest))
                }
                _ => None,
            };
            if let Some(marker) = self.item_marker.take() {
                text = format!("{marker}{text}");
            }
            self.blocks.push(Block::Para(Para {
                text,
                tight,
                lead_bold,
            }));
        }
    }
}

/// Lines joined: soft wraps as spaces, hard breaks as newlines.
fn join(lines: &[Line]) -> String {
    join_range(lines, (0, 0), (lines.len(), 0))
}

/// The text between two (line, byte) positions.
fn join_range(lines: &[Line], from: Position, to: Position) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i < from.0 || i > to.0 {
            continue;
        }
        let start = if i == from.0 { from.1 } else { 0 };
        let end = if i == to.0 { to.1 } else { line.text.len() };
        let Some(part) = line.text.get(start.min(end)..end.min(line.text.len())) else {
            continue;
        };
        if i > from.0 {
            out.push(if line.hard { '\n' } else { ' ' });
        }
        out.push_str(part);
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(md: &str) -> Vec<Block> {
        blocks("x.md", md, &Budget::new(std::time::Duration::from_secs(60))).unwrap()
    }

    fn paras(md: &str) -> Vec<String> {
        parsed(md)
            .into_iter()
            .map(|b| match b {
                Block::Heading { level, text } => format!("h{level}:{text}"),
                Block::Para(p) => p.text,
                Block::Faq { question, .. } => question,
                Block::Boundary => "--".to_string(),
            })
            .collect()
    }

    #[test]
    fn inline_markup_is_flattened() {
        assert_eq!(
            paras("# Titel\n\nSee *our* [shipping page](https://x.de/versand) or\n[mail](mailto:a@b.de).\n\n![logo](l.png)\n"),
            ["h1:Titel", "See our shipping page (https://x.de/versand) or mail (a@b.de)."]
        );
    }

    #[test]
    fn lists_and_tables_become_lines() {
        let got = parsed("- eins\n- zwei\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
        let texts: Vec<(String, bool)> = got
            .into_iter()
            .filter_map(|b| match b {
                Block::Para(p) => Some((p.text, p.tight)),
                _ => None,
            })
            .collect();
        assert_eq!(
            texts,
            [
                ("- eins".to_string(), true),
                ("- zwei".to_string(), true),
                ("a | b".to_string(), true),
                ("1 | 2".to_string(), true)
            ]
        );
    }

    #[test]
    fn numbered_lists_keep_their_numbers() {
        assert_eq!(
            paras("3. drei\n4. vier\n   - tief\n\n- Punkt"),
            ["3. drei", "4. vier", "- tief", "- Punkt"]
        );
    }

    #[test]
    fn label_lines_split_paragraphs_and_bold_is_tracked() {
        assert_eq!(paras("Q: Wie?\nA: So."), ["Q: Wie?", "A: So."]);
        let got = parsed("**Kann ich zahlen?** Ja, per\nRechnung.");
        let Some(Block::Para(p)) = got.first() else {
            panic!("{got:?}")
        };
        assert_eq!(
            p.lead_bold,
            Some((
                "Kann ich zahlen?".to_string(),
                "Ja, per Rechnung.".to_string()
            ))
        );
    }

    #[test]
    fn front_matter_and_html_are_dropped() {
        assert_eq!(
            paras("---\ntitle: x\n---\n\n<div>raw</div>\n\nText"),
            ["Text"]
        );
    }
}
