//! HTML to [`Block`]s with scraper. Only what a visitor sees counts: scripts, styles, navigation,
//! templates, SVG, hidden elements and everything in `<head>` but the `<title>` are dropped.
//! Headings become headings, block elements paragraphs, list items "- item" lines and table rows
//! "a | b" lines. `<dl>` terms that ask a question and `<details>` whose `<summary>` asks one are
//! FAQ entries already paired by the markup. This file feeds the page to html5ever in chunks,
//! stopping a page that nests too deep (`guard`) or runs past the upload's budget, and hands
//! the parsed tree to `walker`.

mod guard;
mod walker;

use std::rc::Rc;

use html5ever::tendril::{StrTendril, TendrilSink};
use scraper::Html;

use super::outline::Block;
use super::{Budget, DocumentError};

/// html5ever's work per token grows with the depth of the tree it is building, so deeper
/// markup is refused rather than parsed for minutes. Real pages stay far below this; 512 is
/// also where Blink stops nesting.
const MAX_DEPTH: u32 = 512;

/// The builder walks up to the depth of the tree for each element, so the depths of all
/// elements added up is its work; bounded by this many per byte read so far (plus room for
/// small pages), that work is linear in the page's size whatever the nesting, and a page
/// nested hundreds deep throughout is refused as soon as that shows. Real pages sum to well
/// under one per byte (an element every few dozen bytes, a few dozen levels deep).
const MAX_DEPTH_SUM_PER_BYTE: u64 = 8;
const DEPTH_SUM_ALLOWANCE: u64 = 1 << 20;

/// Bytes fed to the parser between two looks at the depth and the clock: small enough that
/// the work past a limit stays a few milliseconds, large enough to cost nothing on real pages.
const CHUNK: usize = 16 * 1024;

/// A parsed page: its blocks and its `<title>`.
pub(crate) struct Page {
    pub blocks: Vec<Block>,
    /// The `<title>`, for prose before the first heading.
    pub title: String,
}

pub(crate) fn blocks(file: &str, text: &str, budget: &Budget) -> Result<Page, DocumentError> {
    let html = parse(file, text, budget)?;
    let (blocks, title) = walker::walk(&html);
    Ok(Page { blocks, title })
}

fn parse(file: &str, text: &str, budget: &Budget) -> Result<Html, DocumentError> {
    let seen = Rc::new(guard::Depths::default());
    let mut parser =
        html5ever::driver::parse_document(guard::DepthGuard::new(seen.clone()), Default::default());
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(CHUNK);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (chunk, after) = rest.split_at(cut);
        parser.process(StrTendril::from_slice(chunk));
        rest = after;
        if seen.deepest.get() > MAX_DEPTH {
            return Err(DocumentError::malformed(
                file,
                None,
                format!("the HTML nests elements more than {MAX_DEPTH} levels deep (unclosed or misnested tags), which no normal page does; save the page again from a browser or upload its text"),
            ));
        }
        let read = (text.len() - rest.len()) as u64;
        if seen.total.get() > DEPTH_SUM_ALLOWANCE + MAX_DEPTH_SUM_PER_BYTE * read {
            return Err(DocumentError::malformed(
                file,
                None,
                "the HTML keeps its elements nested hundreds of levels deep throughout (unclosed or misnested tags), which no normal page does and which would take too long to read; save the page again from a browser or upload its text",
            ));
        }
        budget.check(file)?;
    }
    Ok(parser.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(html: &str) -> Result<Page, DocumentError> {
        blocks(
            "x.html",
            html,
            &Budget::new(std::time::Duration::from_secs(60)),
        )
    }

    fn texts(html: &str) -> Vec<String> {
        page(html)
            .unwrap()
            .blocks
            .into_iter()
            .map(|b| match b {
                Block::Heading { level, text } => format!("h{level}:{text}"),
                Block::Para(p) => p.text,
                Block::Faq { question, answer } => format!("faq:{question}={answer}"),
                Block::Boundary => "--".to_string(),
            })
            .collect()
    }

    #[test]
    fn visible_text_only() {
        let page = page("<html><head><title>Laden</title><style>p{}</style><script>var x=1;</script></head><body><nav>Home</nav><h1>Willkommen</h1><p>Hallo <b>Welt</b>,<br>zweite Zeile</p><div hidden>geheim</div><p>&euro; 5 &amp; mehr</p></body></html>").unwrap();
        assert_eq!(page.title, "Laden");
        let got: Vec<String> = texts("<h1>Willkommen</h1><p>Hallo <b>Welt</b>,<br>zweite Zeile</p><div hidden>geheim</div><p>&euro; 5 &amp; mehr</p><script>x()</script>");
        assert_eq!(
            got,
            ["h1:Willkommen", "Hallo Welt,\nzweite Zeile", "€ 5 & mehr"]
        );
        assert_eq!(page.blocks.len(), 3);
    }

    #[test]
    fn lists_tables_and_definitions() {
        let got = texts("<ul><li>Eins</li><li>Zwei <a href='https://x.de'>Link</a></li></ul><table><tr><th>A</th><th>B</th></tr><tr><td><p>1</p></td><td>2</td></tr></table><dl><dt>Versand?</dt><dd><p>Zwei Tage.</p></dd><dt>Ort</dt><dd>Berlin</dd></dl><details><summary>Rückgabe?</summary><p>30 Tage.</p></details>");
        assert_eq!(
            got,
            [
                "- Eins",
                "- Zwei Link (https://x.de)",
                "A | B",
                "1 | 2",
                "faq:Versand?=Zwei Tage.",
                "Ort",
                "Berlin",
                "faq:Rückgabe?=30 Tage."
            ]
        );
    }

    #[test]
    fn numbered_lists_and_regions() {
        assert_eq!(
            texts("<ol start='3'><li>a<li>b</ol><section><p>x</p></section>"),
            ["3. a", "4. b", "--", "x", "--"]
        );
    }

    #[test]
    fn deep_nesting_is_walked_or_refused() {
        let html = format!("{}text{}", "<div>".repeat(500), "</div>".repeat(500));
        assert!(texts(&html).contains(&"text".to_string()));
        for hostile in [
            "<div><span>".repeat(100_000),
            // End tags that match nothing close nothing.
            format!("<html><body>{}</body></html>", "<div></x>".repeat(20_000)),
            // Formatting elements left open are reopened inside the next container: each group
            // of 300 is shallow alone, together they nest 900 deep.
            (0..3)
                .map(|k| {
                    let open: String = (0..300).map(|i| format!("<b class=c{k}-{i}>")).collect();
                    format!("<div>{open}</div>")
                })
                .collect::<String>()
                + "text",
        ] {
            let err = page(&hostile).err().expect("refused");
            assert!(err.to_string().contains("levels deep"), "{err}");
        }
        // Deep but legal everywhere: 400 levels, then thousands of paragraphs at the bottom.
        let deep_throughout = format!(
            "{}{}",
            "<div>".repeat(400),
            "<p>Sattel und Kette</p>".repeat(60_000)
        );
        let err = page(&deep_throughout).err().expect("refused");
        assert!(err.to_string().contains("throughout"), "{err}");
        // Closed properly, many siblings are fine however many there are.
        let flat = format!(
            "<html><body>{}</body></html>",
            "<div>a</div>".repeat(50_000)
        );
        assert!(page(&flat).is_ok());
    }
}
