//! Plain text to [`Block`]s: paragraphs are separated by blank lines and keep their line breaks
//! (addresses, opening hours and hand-made lists depend on them). A line starting with a
//! `Q:`/`A:` label starts a new paragraph, so label pairs are found however they are spaced.

use super::faq::label;
use super::outline::{Block, Para};

pub(crate) fn blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    let mut flush = |lines: &mut Vec<&str>| {
        if !lines.is_empty() {
            blocks.push(Block::Para(Para::plain(lines.join("\n"))));
            lines.clear();
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            flush(&mut lines);
            continue;
        }
        if label(line).is_some() {
            flush(&mut lines);
        }
        lines.push(line);
    }
    flush(&mut lines);
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_labels() {
        let got = blocks("Hallo\nWelt\n\n\nFrage: Wie?\nAntwort: So.\nUnd so.\n");
        let texts: Vec<String> = got
            .into_iter()
            .filter_map(|b| match b {
                Block::Para(p) => Some(p.text),
                _ => None,
            })
            .collect();
        assert_eq!(
            texts,
            ["Hallo\nWelt", "Frage: Wie?", "Antwort: So.\nUnd so."]
        );
    }
}
