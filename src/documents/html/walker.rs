//! The walk over a parsed HTML tree that turns visible content into [`Block`]s: which elements
//! are skipped, which end a paragraph, and how `<dl>` and `<details>` pair questions with answers.
//! The tree is walked iteratively, so deeply nested markup cannot overflow the stack.

use scraper::node::Element;
use scraper::{Html, Node};

use crate::documents::faq::{is_question, label};
use crate::documents::outline::{item_marker, link_target, render, Block, Para};

/// Elements whose content a visitor never reads as text.
#[rustfmt::skip]
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "math", "nav", "iframe", "object", "embed",
    "canvas", "select", "button", "textarea", "audio", "video",
];

/// Elements that delimit regions of a page; an FAQ answer does not run across their edges.
const REGIONS: &[&str] = &["article", "aside", "footer", "header", "main", "section"];

/// Elements that start and end a paragraph.
#[rustfmt::skip]
const BLOCKS: &[&str] = &[
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dialog", "div",
    "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr", "html",
    "legend", "main", "p", "section", "table", "tbody", "tfoot", "thead",
];

/// Walks the document tree in order without recursion and returns its blocks and `<title>`.
pub(super) fn walk(html: &Html) -> (Vec<Block>, String) {
    let mut w = Walker::default();
    let root = html.tree.root();
    let mut node = root;
    let mut descending = true;
    loop {
        if descending {
            if w.open(node.value()) {
                if let Some(child) = node.first_child() {
                    node = child;
                    continue;
                }
                w.close(node.value());
            }
        } else {
            w.close(node.value());
        }
        if node.id() == root.id() {
            break;
        }
        if let Some(next) = node.next_sibling() {
            node = next;
            descending = true;
        } else if let Some(parent) = node.parent() {
            node = parent;
            descending = false;
        } else {
            break;
        }
    }
    w.flush();
    let blocks = w.frames.into_iter().flat_map(|f| f.blocks).collect();
    (blocks, w.title)
}

#[derive(Debug)]
enum Kind {
    Page,
    Details {
        summary: Option<String>,
    },
    Summary,
    /// A definition list and its latest term (and whether a `<dd>` answered it yet).
    Dl {
        term: Option<(String, bool)>,
    },
    Dt,
    Dd,
}

/// Where blocks go: the page, or an element whose content is collected to be paired up.
#[derive(Debug)]
struct Frame {
    kind: Kind,
    blocks: Vec<Block>,
}

#[derive(Default)]
struct Walker {
    frames: Vec<Frame>,
    inline: String,
    /// Byte range of a bold span that opens the paragraph (end unset while open).
    bold: Option<(usize, Option<usize>)>,
    strong: usize,
    heading: Option<u8>,
    head: usize,
    in_title: bool,
    title: String,
    pre: usize,
    items: usize,
    /// Open lists: the next number of an `<ol>`, `None` for a `<ul>`.
    lists: Vec<Option<u64>>,
    /// The marker ("- ", "2. ") the next paragraph flushed gets as the first of a list item.
    item_marker: Option<String>,
    rows: usize,
    cells: usize,
    row_cells: usize,
    links: Vec<(String, usize)>,
}

impl Walker {
    fn top(&mut self) -> &mut Vec<Block> {
        if self.frames.is_empty() {
            self.frames.push(Frame {
                kind: Kind::Page,
                blocks: Vec::new(),
            });
        }
        let last = self.frames.len() - 1;
        &mut self.frames[last].blocks
    }

    fn push_frame(&mut self, kind: Kind) {
        self.flush();
        self.top();
        self.frames.push(Frame {
            kind,
            blocks: Vec::new(),
        });
    }

    /// Pops the top frame if it is of the kind being closed.
    fn pop_frame(&mut self, matches: fn(&Kind) -> bool) -> Option<Frame> {
        self.flush();
        if self.frames.len() > 1 && self.frames.last().is_some_and(|f| matches(&f.kind)) {
            self.frames.pop()
        } else {
            None
        }
    }

    /// Returns whether to walk into the node's children.
    fn open(&mut self, node: &Node) -> bool {
        match node {
            Node::Document | Node::Fragment => true,
            Node::Text(text) => {
                self.text(text);
                false
            }
            Node::Element(el) => {
                if SKIPPED.contains(&el.name()) || hidden(el) {
                    return false;
                }
                self.open_element(el);
                true
            }
            _ => false,
        }
    }

    fn close(&mut self, node: &Node) {
        if let Node::Element(el) = node {
            self.close_element(el);
        }
    }

    fn text(&mut self, text: &str) {
        if self.in_title {
            self.title.push_str(text);
            return;
        }
        if self.head > 0 {
            return;
        }
        if self.pre > 0 {
            self.inline.push_str(text);
            return;
        }
        for (i, word) in text.split_whitespace().enumerate() {
            let space_before = i > 0 || text.starts_with(char::is_whitespace);
            if space_before
                && !self.inline.is_empty()
                && !self.inline.ends_with(char::is_whitespace)
            {
                self.inline.push(' ');
            }
            self.inline.push_str(word);
        }
        if text.ends_with(char::is_whitespace) && !self.inline.is_empty() {
            self.inline.push(' ');
        }
    }

    fn open_element(&mut self, el: &Element) {
        let name = el.name();
        match name {
            "head" => self.head += 1,
            "title" => self.in_title = self.head > 0,
            "br" => self.inline.push('\n'),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.flush();
                self.heading = name[1..].parse().ok();
            }
            "li" => {
                self.flush();
                self.items += 1;
                self.item_marker = Some(item_marker(&mut self.lists));
            }
            "ol" | "ul" => {
                self.block_edge(name);
                let start = el.attr("start").and_then(|s| s.trim().parse().ok());
                self.lists
                    .push((name == "ol").then_some(start.unwrap_or(1)));
            }
            "tr" => {
                self.flush();
                self.rows += 1;
                self.row_cells = 0;
            }
            "td" | "th" => {
                if self.row_cells > 0 {
                    self.inline.truncate(self.inline.trim_end().len());
                    self.inline.push_str(" | ");
                }
                self.row_cells += 1;
                self.cells += 1;
            }
            "pre" => {
                self.flush();
                self.pre += 1;
            }
            "details" => self.push_frame(Kind::Details { summary: None }),
            "summary" => self.push_frame(Kind::Summary),
            "dl" => self.push_frame(Kind::Dl { term: None }),
            "dt" => self.push_frame(Kind::Dt),
            "dd" => self.push_frame(Kind::Dd),
            "strong" | "b" => {
                if self.strong == 0 && self.bold.is_none() && self.inline.trim().is_empty() {
                    self.inline.clear();
                    self.bold = Some((0, None));
                }
                self.strong += 1;
            }
            "a" => {
                let href = el.attr("href").unwrap_or_default().to_string();
                self.links.push((href, self.inline.len()));
            }
            _ if BLOCKS.contains(&name) => self.block_edge(name),
            _ => {}
        }
    }

    fn close_element(&mut self, el: &Element) {
        let name = el.name();
        match name {
            "head" => self.head = self.head.saturating_sub(1),
            "title" => self.in_title = false,
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let text = std::mem::take(&mut self.inline);
                self.bold = None;
                match self.heading.take() {
                    Some(level) => self.top().push(Block::Heading { level, text }),
                    None => self.inline = text,
                }
            }
            "li" => {
                self.flush();
                self.items = self.items.saturating_sub(1);
                self.item_marker = None;
            }
            "ol" | "ul" => {
                self.block_edge(name);
                self.lists.pop();
            }
            "tr" => {
                self.flush();
                self.rows = self.rows.saturating_sub(1);
            }
            "td" | "th" => self.cells = self.cells.saturating_sub(1),
            "pre" => {
                self.flush();
                self.pre = self.pre.saturating_sub(1);
            }
            "summary" => {
                if let Some(frame) = self.pop_frame(|k| matches!(k, Kind::Summary)) {
                    let text = blocks_text(frame.blocks);
                    match self.frames.last_mut() {
                        Some(Frame {
                            kind: Kind::Details { summary: s @ None },
                            ..
                        }) => *s = Some(text),
                        _ => self.top().push(Block::Para(Para::plain(text))),
                    }
                }
            }
            "details" => {
                if let Some(frame) = self.pop_frame(|k| matches!(k, Kind::Details { .. })) {
                    let Kind::Details { summary } = frame.kind else {
                        return;
                    };
                    self.pair(summary, frame.blocks);
                }
            }
            "dt" => {
                if let Some(frame) = self.pop_frame(|k| matches!(k, Kind::Dt)) {
                    let text = blocks_text(frame.blocks);
                    match self.frames.last_mut() {
                        Some(Frame {
                            kind: Kind::Dl { term },
                            blocks,
                        }) => {
                            if let Some((previous, false)) = term.take() {
                                blocks.push(Block::Para(Para::plain(previous)));
                            }
                            *term = Some((text, false));
                        }
                        _ => self.top().push(Block::Para(Para::plain(text))),
                    }
                }
            }
            "dd" => {
                if let Some(frame) = self.pop_frame(|k| matches!(k, Kind::Dd)) {
                    self.definition(frame.blocks);
                }
            }
            "dl" => {
                if let Some(frame) = self.pop_frame(|k| matches!(k, Kind::Dl { .. })) {
                    let Kind::Dl { term } = frame.kind else {
                        return;
                    };
                    let mut blocks = frame.blocks;
                    if let Some((text, false)) = term {
                        blocks.push(Block::Para(Para::plain(text)));
                    }
                    self.top().extend(blocks);
                }
            }
            "strong" | "b" => {
                self.strong = self.strong.saturating_sub(1);
                if self.strong == 0 {
                    if let Some((_, end @ None)) = &mut self.bold {
                        *end = Some(self.inline.len());
                    }
                }
            }
            "a" => {
                if let Some((href, start)) = self.links.pop() {
                    let shown = self
                        .inline
                        .get(start..)
                        .unwrap_or_default()
                        .trim()
                        .to_string();
                    if let Some(target) = link_target(&href, &shown) {
                        self.inline.push_str(&format!(" ({target})"));
                    }
                }
            }
            _ if BLOCKS.contains(&name) => self.block_edge(name),
            _ => {}
        }
    }

    /// Block elements inside table cells only separate words; elsewhere they end a paragraph,
    /// and page regions (a `<section>`, the `<footer>`) also end an open FAQ answer.
    fn block_edge(&mut self, name: &str) {
        if self.cells > 0 {
            self.inline.push(' ');
            return;
        }
        self.flush();
        if REGIONS.contains(&name) {
            self.top().push(Block::Boundary);
        }
    }

    /// A `<details>` element: an FAQ entry if its summary asks a question.
    fn pair(&mut self, summary: Option<String>, blocks: Vec<Block>) {
        let answer = blocks_text(blocks.clone());
        match summary {
            Some(question) if is_question(&question) && !answer.is_empty() => {
                self.top().push(Block::Faq { question, answer });
            }
            summary => {
                let top = self.top();
                top.extend(summary.map(|s| Block::Para(Para::plain(s))));
                top.extend(blocks);
            }
        }
    }

    /// A `<dd>`: the answer to its term when the term asks a question.
    fn definition(&mut self, blocks: Vec<Block>) {
        let Some(Frame {
            kind: Kind::Dl {
                term: Some((term, answered)),
            },
            blocks: dl_blocks,
        }) = self.frames.last_mut()
        else {
            self.top().extend(blocks);
            return;
        };
        if is_question(term) {
            let answer = blocks_text(blocks);
            if answer.is_empty() {
                return;
            }
            match dl_blocks.last_mut() {
                Some(Block::Faq {
                    question,
                    answer: previous,
                }) if *answered && question == term => {
                    previous.push_str("\n\n");
                    previous.push_str(&answer);
                }
                _ => dl_blocks.push(Block::Faq {
                    question: term.clone(),
                    answer,
                }),
            }
        } else {
            if !*answered {
                dl_blocks.push(Block::Para(Para::plain(term.clone())));
            }
            dl_blocks.extend(blocks);
        }
        *answered = true;
    }

    /// Ends the paragraph being collected; lines starting with a QA label start new ones.
    fn flush(&mut self) {
        let inline = std::mem::take(&mut self.inline);
        let bold = self.bold.take();
        if inline.trim().is_empty() {
            return;
        }
        let tight = self.items > 0 || self.rows > 0;
        let mut first = true;
        for group in split_at_labels(&inline) {
            let mut para = Para {
                text: group.trim().to_string(),
                tight,
                lead_bold: None,
            };
            if para.text.is_empty() {
                continue;
            }
            if first {
                if let Some((start, Some(end))) = bold {
                    let bold_text = inline.get(start..end).unwrap_or_default().trim();
                    let rest = group.get(end..).unwrap_or_default().trim();
                    para.lead_bold = Some((bold_text.to_string(), rest.to_string()));
                }
                if let Some(marker) = self.item_marker.take() {
                    para.text = format!("{marker}{}", para.text);
                }
            }
            first = false;
            self.top().push(Block::Para(para));
        }
    }
}

/// Splits text at line breaks that start a `Q:`/`A:` label line; the first piece starts at 0.
fn split_at_labels(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if offset > start && label(line).is_some() {
            pieces.push(&text[start..offset]);
            start = offset;
        }
        offset += line.len();
    }
    pieces.push(&text[start..]);
    pieces
}

/// Collected blocks as one text (a summary, a term, an answer).
fn blocks_text(blocks: Vec<Block>) -> String {
    let paras: Vec<Para> = blocks
        .into_iter()
        .map(|b| match b {
            Block::Para(p) => p,
            Block::Heading { text, .. } => Para::plain(text),
            Block::Faq { question, answer } => Para::plain(format!("{question}\n\n{answer}")),
            Block::Boundary => Para::default(),
        })
        .collect();
    render(&paras)
}

fn hidden(el: &Element) -> bool {
    el.attr("hidden").is_some()
        || el.attr("aria-hidden") == Some("true")
        || el.attr("style").is_some_and(|s| {
            let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            s.to_ascii_lowercase().contains("display:none")
        })
}
