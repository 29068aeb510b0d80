//! Retrieval benchmarks on real text.
//!
//! - `search/100k`: question latency on a business with 100,000 passages built from SciFact's
//!   abstracts (../shared/data/retrieval/scifact), asked SciFact's own questions. Besides
//!   criterion's estimate it prints p50/p99 over every question, the figures the README reports.
//! - `ingest/catalog`: passages per second for parsing and indexing a 20,000-row CSV catalog
//!   into a fresh on-disk business, commit included.

use std::path::PathBuf;
use std::time::Instant;

use clerk::documents::{Document, Format, Passage, PassageKind};
use clerk::engine::{Engine, EngineLimits, Upload};
use clerk::eval::metrics::percentile;
use clerk::index::{BusinessIndex, Language};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/retrieval/scifact")
}

fn jsonl(path: PathBuf) -> Vec<serde_json::Value> {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the benches read ../shared)", path.display()))
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// 100k passages of three consecutive abstract sentences each, titled by their abstract.
fn passages(n: usize) -> Vec<Passage> {
    let mut sentences: Vec<(String, String)> = Vec::new();
    for doc in jsonl(shared().join("corpus.jsonl")) {
        let title = doc["title"].as_str().unwrap_or_default().to_string();
        for s in doc["text"].as_str().unwrap_or_default().split(". ") {
            if s.len() > 20 {
                sentences.push((title.clone(), s.to_string()));
            }
        }
    }
    (0..n)
        .map(|i| {
            let start = (i * 7919) % (sentences.len() - 3);
            let text = sentences[start..start + 3]
                .iter()
                .map(|(_, s)| s.as_str())
                .collect::<Vec<_>>()
                .join(". ");
            Passage {
                ordinal: i as u32,
                kind: PassageKind::Page,
                title: sentences[start].0.clone(),
                heading_path: Vec::new(),
                text,
                product: None,
            }
        })
        .collect()
}

fn search(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let index = BusinessIndex::open_or_create(dir.path(), Language::English).unwrap();
    let document = Document {
        name: "abstracts.jsonl".into(),
        format: Format::Jsonl,
        passages: passages(100_000),
    };
    index.replace_documents(&[(document, 0)]).unwrap();
    let questions: Vec<String> = jsonl(shared().join("queries.test.jsonl"))
        .iter()
        .filter_map(|q| q["text"].as_str().map(str::to_string))
        .collect();

    // Percentiles over every question, after one warm-up pass: as served (segments scored
    // on both cores) and with the search held to one core (what each of two concurrent
    // questions gets).
    for q in &questions {
        index.search(q, 10).unwrap();
    }
    let one_core = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for (label, pool) in [("", None), (" on one core", Some(&one_core))] {
        let mut ms = Vec::new();
        let mut slowest: Vec<(f64, &str)> = Vec::new();
        for q in &questions {
            let start = Instant::now();
            match pool {
                Some(p) => p.install(|| index.search(q, 10)).unwrap(),
                None => index.search(q, 10).unwrap(),
            };
            let took = start.elapsed().as_secs_f64() * 1000.0;
            ms.push(took);
            slowest.push((took, q));
        }
        slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (took, q) in slowest.iter().take(3) {
            println!("  slow: {took:.3} ms  {q}");
        }
        println!(
            "search/100k{label}: {} segments, {} questions, top 10, p50 {:.3} ms, p99 {:.3} ms",
            index.segment_count(),
            ms.len(),
            percentile(&ms, 50.0),
            percentile(&ms, 99.0)
        );
    }

    let mut i = 0;
    c.bench_function("search/100k", |b| {
        b.iter(|| {
            i = (i + 1) % questions.len();
            index.search(&questions[i], 10).unwrap()
        })
    });
}

fn catalog(rows: usize) -> String {
    let mut csv = String::from("sku,name,brand,category,price,currency,stock,description\n");
    let words = [
        "trail", "city", "carbon", "steel", "light", "pro", "tour", "urban", "kids", "cargo",
        "gravel", "road", "helmet", "lock", "pump", "bag",
    ];
    for i in 0..rows {
        let w = |k: usize| words[(i * 31 + k * 7) % words.len()];
        csv.push_str(&format!(
            "SKU-{i:06},{} {} {i},Brand{},{},{}.{:02},GBP,{},\"A {} {} for {} riding, model {i}, with {} parts.\"\n",
            w(1), w(2), i % 40, w(3), 100 + i % 900, i % 100, i % 13, w(4), w(5), w(6), w(7)
        ));
    }
    csv
}

fn ingest(c: &mut Criterion) {
    const ROWS: usize = 20_000;
    let upload = Upload {
        name: "catalog.csv".into(),
        bytes: catalog(ROWS).into_bytes(),
    };
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("catalog", |b| {
        b.iter_with_setup(
            || {
                let dir = tempfile::tempdir().unwrap();
                let engine = Engine::open(dir.path(), EngineLimits::default()).unwrap();
                engine.create_business("shop", None, Some("en")).unwrap();
                (dir, engine)
            },
            |(dir, engine)| {
                engine
                    .ingest("shop", std::slice::from_ref(&upload))
                    .unwrap();
                (dir, engine)
            },
        )
    });
    group.finish();
}

criterion_group!(benches, search, ingest);
criterion_main!(benches);
