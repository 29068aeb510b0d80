//! HTML to [`Block`]s with scraper. Only what a visitor sees counts: scripts, styles, navigation,
//! templates, SVG, hidden elements and everything in `<head>` but the `<title>` are dropped.
//! Headings become headings, block elements paragraphs, list items "- item" lines and table rows
//! "a | b" lines. `<dl>` terms that ask a question and `<details>` whose `<summary>` asks one are
//! FAQ entries already paired by the markup. This file guards against pathological nesting and
//! hands the parsed tree to `walker`.

mod walker;

use scraper::Html;

use super::outline::Block;
use super::DocumentError;

/// html5ever's tree builder slows down quadratically with nesting depth; real pages stay far
/// below this, so deeper markup is refused rather than parsed for minutes.
const MAX_DEPTH: usize = 1000;

/// Elements that never have content, or whose end tag may be left out: they do not nest.
#[rustfmt::skip]
const NON_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead",
    "tbody", "tfoot", "colgroup", "caption", "rt", "rp", "html", "head", "body", "!doctype",
];

/// A parsed page: its blocks and its `<title>`.
pub(crate) struct Page {
    pub blocks: Vec<Block>,
    /// The `<title>`, for prose before the first heading.
    pub title: String,
}

pub(crate) fn blocks(file: &str, text: &str) -> Result<Page, DocumentError> {
    if nesting_depth(text) > MAX_DEPTH {
        return Err(DocumentError::malformed(
            file,
            None,
            format!("the HTML nests elements more than {MAX_DEPTH} levels deep, which no normal page does; save the page again from a browser or upload its text"),
        ));
    }
    let html = Html::parse_document(text);
    let (blocks, title) = walker::walk(&html);
    Ok(Page { blocks, title })
}

/// Where `</name` (any case) next occurs in `text`.
fn end_tag(text: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find("</") {
        let start = from + i;
        let candidate = text.get(start + 2..start + 2 + name.len());
        if candidate.is_some_and(|c| c.eq_ignore_ascii_case(name)) {
            return Some(start);
        }
        from = start + 2;
    }
    None
}

/// The deepest element nesting the markup asks for, from a rough scan of its tags: comments and
/// the raw text of scripts and styles are skipped, unclosed containers count.
fn nesting_depth(text: &str) -> usize {
    let mut depth = 0usize;
    let mut max = 0;
    let mut rest = text;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix("!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let closing = rest.starts_with('/');
        let name: String = rest
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if name.is_empty() || NON_NESTING.contains(&name.as_str()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
            continue;
        }
        if matches!(
            name.as_str(),
            "script" | "style" | "textarea" | "title" | "xmp"
        ) {
            rest = end_tag(rest, &name).map_or("", |i| &rest[i..]);
            continue;
        }
        depth += 1;
        max = max.max(depth);
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(html: &str) -> Vec<String> {
        blocks("x.html", html)
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
        let page = blocks("x.html", "<html><head><title>Laden</title><style>p{}</style><script>var x=1;</script></head><body><nav>Home</nav><h1>Willkommen</h1><p>Hallo <b>Welt</b>,<br>zweite Zeile</p><div hidden>geheim</div><p>&euro; 5 &amp; mehr</p></body></html>").unwrap();
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
        let html = format!("{}text{}", "<div>".repeat(900), "</div>".repeat(900));
        assert!(texts(&html).contains(&"text".to_string()));
        let html = "<div><span>".repeat(100_000);
        assert!(blocks("x.html", &html).is_err());
    }

    #[test]
    fn nesting_depth_skips_scripts_comments_and_optional_end_tags() {
        assert_eq!(nesting_depth("<div><p>a<p>b<ul><li>x<li>y</ul></div>"), 2);
        assert_eq!(
            nesting_depth("<!-- <div><div> --><script>if (a<b) {'<div>'}</script><div>"),
            1
        );
        assert_eq!(nesting_depth("<SCRIPT>x</script><div></DIV><div>"), 1);
    }
}
