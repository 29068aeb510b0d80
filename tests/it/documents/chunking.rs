//! Prose becomes overlapping chunks of readable size; sections chunk separately.

use super::*;

/// A long generated text: sentences of 8–19 words in paragraphs of 3–7 sentences.
fn long_text(words: usize) -> String {
    let mut out = String::new();
    let mut n = 0;
    let mut sentence = 0;
    while n < words {
        let len = 8 + (sentence * 7) % 12;
        let mut s = format!("Satz{sentence}");
        for i in 1..len {
            s.push_str(&format!(" wort{}", n + i));
        }
        s.push('.');
        n += len;
        out.push_str(&s);
        sentence += 1;
        out.push_str(if sentence % (3 + sentence % 5) == 0 {
            "\n\n"
        } else {
            " "
        });
    }
    out
}

#[test]
fn long_text_is_chunked_with_overlap() {
    let text = long_text(3000);
    let total = text.split_whitespace().count();
    let doc = parse("lang.txt", text.as_bytes(), &Limits::default()).expect("parses");
    assert!(doc.passages.len() >= 12, "{} chunks", doc.passages.len());
    for p in &doc.passages {
        assert_eq!(p.kind, Page);
        assert_eq!(p.title, "");
        let words = p.text.split_whitespace().count();
        assert!((100..=290).contains(&words), "chunk of {words} words");
        // Chunks start with a whole sentence.
        assert!(p.text.starts_with("Satz"), "{:?}", &p.text[..40]);
    }
    let mut covered = 0;
    for pair in doc.passages.windows(2) {
        let previous: Vec<&str> = pair[0].text.split_whitespace().collect();
        let next: Vec<&str> = pair[1].text.split_whitespace().collect();
        // The next chunk starts with the last words of the previous one.
        let overlap = (1..=previous.len().min(next.len()))
            .rev()
            .find(|&k| previous[previous.len() - k..] == next[..k])
            .unwrap_or(0);
        assert!(
            (8..=60).contains(&overlap),
            "overlap of {overlap} words between chunks {} and {}",
            pair[0].ordinal,
            pair[1].ordinal
        );
        covered += previous.len() - overlap;
    }
    covered += doc
        .passages
        .last()
        .map_or(0, |p| p.text.split_whitespace().count());
    assert_eq!(covered, total, "every word is in some chunk, in order");
    assert_ordinals(&doc);
}

#[test]
fn sections_chunk_separately_and_short_ones_stand_alone() {
    let md = format!(
        "# Lang\n\n{}\n\n# Kurz\n\nNur ein Satz hier.\n",
        long_text(600)
    );
    let doc = parse("doc.md", md.as_bytes(), &Limits::default()).expect("parses");
    let last = doc.passages.last().expect("passages");
    assert_eq!(
        (last.title.as_str(), last.text.as_str()),
        ("Kurz", "Nur ein Satz hier.")
    );
    let long: Vec<&Passage> = doc.passages.iter().filter(|p| p.title == "Lang").collect();
    assert!(long.len() >= 3, "{}", long.len());
    assert!(long.iter().all(|p| !p.text.contains("Nur ein Satz")));
}

#[test]
fn whitespace_is_normalized() {
    let doc = parse(
        "ws.txt",
        "  Erste   Zeile\t mit  Abstand  \n\n\n\n  Zweiter\u{A0}Absatz  ".as_bytes(),
        &Limits::default(),
    )
    .expect("parses");
    assert_eq!(
        doc.passages[0].text,
        "Erste Zeile mit Abstand\n\nZweiter Absatz"
    );
}
