//! Parsing hostile uploads: for each format, inputs built to make a parser do more than
//! linear work (deep or unclosed nesting, closing tags that match nothing, long lines, many
//! tiny cells), at 1, 10 and 20 MB (the largest file accepted). Prints each case's times, time
//! per MB at 10 MB, the 10 MB / 1 MB and 20 MB / 10 MB ratios (linear work reads about 10 and
//! 2; allocation-heavy cases read a little more once their data outgrows the caches) and what
//! the parser answered (passages, or the error a business owner would see, shortened).
//!
//! `cargo bench --bench parsing` (add a case name to run only the cases containing it).
//! Whole-file timings, the best of three parses of each input; no criterion here, since one
//! 10 MB parse already takes long enough to time on its own.

use std::time::{Duration, Instant};

use clerk::documents::{parse, Limits};

const MB: usize = 1 << 20;

/// `unit` repeated until `size` bytes, between `head` and `tail`.
fn repeat(head: &str, unit: &str, tail: &str, size: usize) -> String {
    let n = size.saturating_sub(head.len() + tail.len()) / unit.len().max(1);
    let mut s = String::with_capacity(size + unit.len());
    s.push_str(head);
    for _ in 0..n {
        s.push_str(unit);
    }
    s.push_str(tail);
    s
}

fn words(size: usize) -> String {
    repeat("", "Fahrrad Reparatur Sattel Kette ", "", size)
}

type Make = fn(usize) -> String;

/// (name, file name, how to build `size` bytes of it)
const CASES: &[(&str, &str, Make)] = &[
    ("html/closing-tags-that-match-nothing", "x.html", |n| {
        repeat("<html><body>", "<div></x>", "</body></html>", n)
    }),
    ("html/unclosed-divs", "x.html", |n| {
        repeat("<html><body>", "<div>", "", n)
    }),
    ("html/400-deep-then-paragraphs", "x.html", |n| {
        let head = format!("<html><body>{}", "<div>".repeat(400));
        repeat(&head, "<p>Sattel und Kette</p>", "", n)
    }),
    ("html/40-deep-then-paragraphs", "x.html", |n| {
        let head = format!("<html><body>{}", "<div>".repeat(40));
        repeat(&head, "<p>Sattel und Kette</p>", "", n)
    }),
    ("html/formatting-elements-reopened", "x.html", |n| {
        let head = format!(
            "<html><body><div>{}</div>",
            (0..2000)
                .map(|i| format!("<b class=c{i}>"))
                .collect::<String>()
        );
        repeat(&head, "<p>Sattel</p>", "", n)
    }),
    ("html/one-long-paragraph", "x.html", |n| {
        format!("<p>{}</p>", words(n))
    }),
    ("markdown/nested-quotes", "x.md", |n| {
        repeat("", ">", " text\n", n)
    }),
    ("markdown/nested-lists", "x.md", |n| {
        let mut s = String::new();
        let mut depth = 0;
        while s.len() < n {
            s.push_str(&"  ".repeat(depth % 2000));
            s.push_str("- item\n");
            depth += 1;
        }
        s.truncate(n);
        s
    }),
    ("markdown/emphasis-and-brackets", "x.md", |n| {
        repeat("", "*a _b [c **d", "\n", n)
    }),
    ("markdown/one-long-line", "x.md", words),
    ("json/deep-arrays", "x.json", |n| repeat("", "[", "", n)),
    ("json/many-tiny-objects", "x.json", |n| {
        repeat("[", r#"{"q":"a?","a":"b"},"#, r#"{"q":"a?","a":"b"}]"#, n)
    }),
    ("jsonl/many-lines", "x.jsonl", |n| {
        repeat("", "{\"name\":\"Sattel\",\"price\":\"9\"}\n", "", n)
    }),
    ("csv/one-wide-row", "x.csv", |n| {
        let header = repeat("", "c,", "c\n", n / 2);
        let row = repeat("", "1,", "1\n", n / 2);
        header + &row
    }),
    ("csv/many-tiny-cells", "x.csv", |n| {
        let header = "name,price,a,b,c,d,e,f,g,h\n";
        repeat(header, "x,1,2,3,4,5,6,7,8,9\n", "", n)
    }),
    ("csv/unclosed-quote", "x.csv", |n| {
        repeat("name,price\n\"", "Sattel, ", "", n)
    }),
    ("text/one-long-line", "x.txt", words),
    ("text/label-lines", "x.txt", |n| {
        repeat("", "Q: Wann?\nA: Heute.\n", "", n)
    }),
    ("text/blank-lines", "x.txt", |n| repeat("x", "\n", "x", n)),
];

fn time(name: &str, bytes: &[u8], limits: &Limits, runs: usize) -> (Duration, String) {
    let mut best = Duration::MAX;
    let mut said = String::new();
    for _ in 0..runs {
        let started = Instant::now();
        let result = parse(name, bytes, limits);
        best = best.min(started.elapsed());
        said = match result {
            Ok(doc) => format!("{} passages", doc.passages.len()),
            Err(e) => {
                let text = e.to_string();
                let text = text.strip_prefix(&format!("{name}: ")).unwrap_or(&text);
                format!("refused: {}", text.chars().take(60).collect::<String>())
            }
        };
    }
    (best, said)
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let limits = Limits::default();
    println!(
        "{:<40} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7}  what the parser said at 10 MB",
        "case", "1 MB", "10 MB", "20 MB", "s/MB@10", "10:1", "20:10"
    );
    for (case, file, make) in CASES {
        if !filter.is_empty() && !filter.iter().any(|f| case.contains(f.as_str())) {
            continue;
        }
        let (t1, _) = time(file, make(MB).as_bytes(), &limits, 3);
        let large = make(10 * MB);
        let (t10, said) = time(file, large.as_bytes(), &limits, 3);
        let (t20, _) = time(file, make(20 * MB).as_bytes(), &limits, 1);
        let mb10 = large.len() as f64 / MB as f64;
        let secs = |t: Duration| t.as_secs_f64().max(1e-6);
        println!(
            "{case:<40} {:>7.3}s {:>7.3}s {:>7.3}s {:>8.4} {:>7.1} {:>7.1}  {said}",
            secs(t1),
            secs(t10),
            secs(t20),
            secs(t10) / mb10,
            secs(t10) / secs(t1),
            secs(t20) / secs(t10),
        );
    }
}
