//! Plain text to [`Block`]s: paragraphs are separated by blank lines and keep their line breaks
//! (addresses, opening hours and hand-made lists depend on them). A line starting with a
//! `Q:`/`A:` label starts a new paragraph, so label pairs are found however they are spaced.

use super::faq::label;
use super::outline::{Block, Para};
use super::{Budget, DocumentError};

pub(crate) fn blocks(file: &str, text: &str, budget: &Budget) -> Result<Vec<Block>, DocumentError> {
    let mut blocks = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    let mut flush = |lines: &mut Vec<&str>| {
        if !lines.is_empty() {
            blocks.push(Block::Para(Para::plain(lines.join("\n"))));
            lines.clear();
        }
    };
    for (i, line) in text.lines().enumerate() {
        budget.check_every(file, i, 4096)?;
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
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_labels() {
        let budget = Budget::new(std::time::Duration::from_secs(60));
        let got = blocks(
            "x.txt",
            "Hallo\nWelt\n\n\nFrage: Wie?\nAntwort: So.\nUnd so.\n",
            &budget,
        )
        .unwrap();
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
