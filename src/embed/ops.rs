//! The encoder's heavy operations as candle custom ops over clerk's own CPU kernels
//! (`llm::kernels`), each spread over the kernels' persistent thread pool: a linear layer with
//! Q4_0 weights (and, for the feed-forward's first half, GELU fused in), and attention of
//! packed sequences, each over its own tokens.
//!
//! Why not candle's: its `QMatMul` does one Q4_0 × Q8_0 dot product per weight row and
//! activation row, and its erf and softmax run libm one value at a time. Built on them the
//! encoder took ~170 ms per question and embedded ~1.6 passages/s where these ops take ~12 ms
//! and ~5/s (`clerk bench embed`, both in one sitting on the 2-core development machine).

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use crate::llm::kernels::dot::kernels;
use crate::llm::kernels::quant::f32_to_f16;
use crate::llm::kernels::{matmul, pool, Acts, QMatrix};

/// Rows of output per pool task in element-wise passes: enough work to outweigh the hand-off.
const ROWS_PER_TASK: usize = 16;

/// The contiguous f32 contents of a 2-D input, and its shape.
fn input<'a>(
    op: &str,
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<(&'a [f32], usize, usize)> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op} takes a contiguous input");
    };
    let (rows, cols) = layout.shape().dims2()?;
    Ok((&storage.as_slice::<f32>()?[start..end], rows, cols))
}

/// Runs `f(first row, rows)` over `data` ([rows, width]) in pieces across the pool.
fn par_rows(data: &mut [f32], width: usize, f: &(dyn Fn(usize, &mut [f32]) + Sync)) {
    let pieces: Vec<Mutex<&mut [f32]>> = data
        .chunks_mut(width * ROWS_PER_TASK)
        .map(Mutex::new)
        .collect();
    pool::global().run(pieces.len(), &|i| {
        let mut piece = pieces[i].lock().unwrap_or_else(|e| e.into_inner());
        f(i * ROWS_PER_TASK, &mut piece);
    });
}

/// `x · Wᵀ + b` over the rows of `x` [tokens, inputs], W [outputs, inputs] in Q4_0; with
/// `gelu`, GELU (erf form) applied after.
pub struct Linear {
    pub weight: QMatrix,
    pub bias: Vec<f32>,
    pub gelu: bool,
}

impl Linear {
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(self)
    }
}

impl CustomOp1 for Linear {
    fn name(&self) -> &'static str {
        "q4_0-linear"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let w = &self.weight;
        let (x, tokens, inputs) = input(self.name(), storage, layout)?;
        if inputs != w.cols {
            candle_core::bail!("q4_0-linear: input width {inputs}, weight width {}", w.cols);
        }
        let mut acts = Acts::default();
        acts.prepare(x, tokens, &[w]);
        let mut out = vec![0f32; tokens * w.rows];
        matmul(pool::global(), w, &acts, &mut out);
        par_rows(&mut out, w.rows, &|_, rows| {
            for row in rows.chunks_exact_mut(w.rows) {
                for (y, b) in row.iter_mut().zip(&self.bias) {
                    *y += b;
                }
                if self.gelu {
                    row.iter_mut().for_each(|y| *y = gelu(*y));
                }
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((tokens, w.rows))))
    }
}

/// GELU as BERT defines it, `x · Φ(x)` with the exact normal CDF.
#[inline]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// erf to within 4e-7 (a few f32 steps), as a rational function of x² (the approximation Eigen and XLA use for
/// f32): no branches and no `exp`, so the loop over a row vectorizes, where libm's `erff`
/// costs as much as the layer's matrix product. Plain `*` and `+`, not `mul_add`: without
/// FMA enabled at compile time (a plain build) that is a call to a software `fmaf`.
#[inline]
fn erf(x: f32) -> f32 {
    // Beyond ±4, erf is ±1 in f32.
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    for a in [
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ] {
        p = p * x2 + a;
    }
    let mut q = -1.456_607_2e-5_f32;
    for b in [-2.133_740_6e-4, -1.682_827e-3, -7.373_329e-3, -1.426_474e-2] {
        q = q * x2 + b;
    }
    x * p / q
}

/// Softmax attention over `qkv` [tokens, 3 × hidden] (queries, keys, values side by side) of
/// sequences packed one after another with lengths `lens`; each sequence attends only to its
/// own tokens. Output [tokens, hidden].
pub struct Attention<'a> {
    pub heads: usize,
    pub lens: &'a [usize],
}

impl CustomOp1 for Attention<'_> {
    fn name(&self) -> &'static str {
        "packed-attention"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (qkv, tokens, width) = input(self.name(), storage, layout)?;
        let hidden = width / 3;
        let (heads, lens) = (self.heads, self.lens);
        if width != 3 * hidden
            || !hidden.is_multiple_of(heads)
            || lens.iter().sum::<usize>() != tokens
        {
            candle_core::bail!("packed-attention: {tokens} × {width} does not fit {lens:?}");
        }
        let head_dim = hidden / heads;
        let scale = 1.0 / (head_dim as f32).sqrt();
        let starts: Vec<usize> = lens
            .iter()
            .scan(0, |s, &l| {
                *s += l;
                Some(*s - l)
            })
            .collect();
        // Head-major output, so that each (sequence, head) task owns one contiguous piece.
        let mut by_head = vec![0f32; tokens * hidden];
        let mut pieces = Vec::with_capacity(heads * lens.len());
        for head_out in by_head.chunks_mut(tokens * head_dim) {
            let mut rest = head_out;
            for &len in lens {
                let (piece, tail) = rest.split_at_mut(len * head_dim);
                pieces.push(Mutex::new(piece));
                rest = tail;
            }
        }
        let k = kernels();
        pool::global().run(pieces.len(), &|task| {
            let (head, seq) = (task / lens.len(), task % lens.len());
            let (start, len) = (starts[seq], lens[seq]);
            let column = |part: usize, t: usize| {
                let at = (start + t) * width + part * hidden + head * head_dim;
                &qkv[at..at + head_dim]
            };
            // The kernel reads keys and values as f16, as in the language model's cache.
            let f16_rows = |part: usize| {
                let mut rows = Vec::with_capacity(len * head_dim);
                for t in 0..len {
                    rows.extend(column(part, t).iter().map(|&v| f32_to_f16(v)));
                }
                rows
            };
            let (keys, values) = (f16_rows(1), f16_rows(2));
            let mut scores = Vec::with_capacity(len);
            let mut out = pieces[task].lock().unwrap_or_else(|e| e.into_inner());
            for (t, o) in out.chunks_exact_mut(head_dim).enumerate() {
                k.attend(column(0, t), &keys, &values, scale, &mut scores, o);
            }
        });
        drop(pieces);
        // Back to [tokens, hidden].
        let mut out = vec![0f32; tokens * hidden];
        for (head, head_out) in by_head.chunks_exact(tokens * head_dim).enumerate() {
            for (t, row) in head_out.chunks_exact(head_dim).enumerate() {
                let at = t * hidden + head * head_dim;
                out[at..at + head_dim].copy_from_slice(row);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((tokens, hidden))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_within_4e7_of_the_true_value() {
        let mut worst = 0f64;
        for i in -6000..=6000 {
            let x = i as f32 / 1000.0;
            worst = worst.max((erf(x) as f64 - reference_erf(x as f64)).abs());
        }
        assert!(worst < 4e-7, "erf off by {worst}");
    }

    #[test]
    fn gelu_has_its_known_values() {
        assert_eq!(gelu(0.0), 0.0);
        // Φ(1) = 0.841344746, Φ(-2) = 0.022750132.
        assert!((gelu(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((gelu(-2.0) + 2.0 * 0.022_750_132).abs() < 1e-6);
        assert!((gelu(10.0) - 10.0).abs() < 1e-6);
    }

    /// erf in f64 without the approximation under test: its Taylor series up to 3, the
    /// asymptotic series of erfc beyond (both good to ~1e-8 there).
    fn reference_erf(x: f64) -> f64 {
        let a = x.abs();
        if a <= 3.0 {
            let (mut term, mut sum) = (x, x);
            for n in 1..80 {
                term *= -x * x / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            return sum * 2.0 / std::f64::consts::PI.sqrt();
        }
        let inv = 1.0 / (2.0 * a * a);
        let series = 1.0 - inv + 3.0 * inv * inv - 15.0 * inv.powi(3) + 105.0 * inv.powi(4);
        let erfc = (-a * a).exp() / (a * std::f64::consts::PI.sqrt()) * series;
        x.signum() * (1.0 - erfc)
    }
}
