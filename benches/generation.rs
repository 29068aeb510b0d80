//! Criterion benchmarks of the CPU kernels behind generation, at SmolLM2-135M's shapes: the
//! quantized matrix multiply for one token (decode) and for a 64-token tile (prefill), and
//! decode attention over a 512-position cache. Whole-model figures come from
//! `clerk bench generate`.

use std::hint::black_box;

use clerk::llm::kernels::attention::{attention, KvCache};
use clerk::llm::kernels::pool;
use clerk::llm::kernels::quant::quantize_q8_0;
use clerk::llm::kernels::{matmul, Acts, QMatrix, QType};
use criterion::{criterion_group, criterion_main, Criterion};

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}

/// A matrix of `qtype` with random contents (the bytes of a Q8_0 matrix reinterpreted are not
/// meaningful for other types, but the work per block is the same).
fn matrix(qtype: QType, rows: usize, cols: usize) -> QMatrix {
    let mut data = quantize_q8_0(&values(rows * cols, 7));
    data.truncate(rows * qtype.row_bytes(cols));
    data.resize(rows * qtype.row_bytes(cols), 0x11);
    QMatrix {
        qtype,
        rows,
        cols,
        data: data.into(),
    }
}

fn acts(t: usize, w: &QMatrix) -> Acts {
    let mut a = Acts::default();
    a.prepare(&values(t * w.cols, 3), t, &[w]);
    a
}

fn bench_matmul(c: &mut Criterion) {
    let pool = pool::global();
    for (qtype, fast) in [
        (QType::Q4_1, false),
        (QType::Q4_1, true),
        (QType::Q8_0, false),
    ] {
        // ffn gate+up stacked: 3072 × 576.
        let mut w = matrix(qtype, 3072, 576);
        if fast {
            w = w.into_fast_layout();
        }
        for t in [1usize, 64] {
            let a = acts(t, &w);
            let mut out = vec![0f32; t * w.rows];
            c.bench_function(&format!("matmul {:?} 3072x576 t={t}", w.qtype), |b| {
                b.iter(|| matmul(pool, black_box(&w), black_box(&a), &mut out))
            });
        }
    }
}

fn bench_attention(c: &mut Criterion) {
    let pool = pool::global();
    let (n_head, n_kv, hd, depth) = (9, 3, 64, 512);
    let mut cache = KvCache::new(1, n_kv, hd, depth + 1);
    let kv = values(n_kv * hd, 5);
    for p in 0..=depth {
        cache.store(0, p, &kv, &kv);
    }
    let q = values(n_head * hd, 9);
    let mut out = vec![0f32; n_head * hd];
    c.bench_function("attention decode 9 heads @512", |b| {
        let caches = std::slice::from_ref(&cache);
        b.iter(|| attention(pool, caches, 0, black_box(&q), &[(0, depth)], &mut out))
    });
}

criterion_group!(benches, bench_matmul, bench_attention);
criterion_main!(benches);
