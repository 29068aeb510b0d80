//! The encoder's operations besides attention (`attention`) over clerk's own CPU kernels
//! (`llm::kernels`), each spread over the kernels' persistent thread pool on plain f32 rows:
//! a linear layer with Q4_0 weights (bias added in the product; for the feed-forward's first
//! half, GELU applied to each finished tile) and layer norm with its residual sum.
//!
//! Why not candle's: its `QMatMul` does one Q4_0 × Q8_0 dot product per weight row and
//! activation row, and its erf and softmax run libm one value at a time; built on them the
//! encoder took ~170 ms per question and embedded ~1.6 passages/s. The language model's
//! `matmul` then gave ~8 ms and ~9/s; its per-row unpacking and horizontal sums suit one
//! token, not a batch, so the linear layers now run on `gemm` (weights unpacked once, at
//! load, into int8 panels for a register-blocked VNNI product), attention on its own f32
//! kernel and layer norm here rather than on candle's ops, whose threads spun against the
//! pool's. `clerk bench embed` (default options), the old build (`matmul`, candle ops) and
//! this one run alternately, three times each, in one sitting on the 2-core development
//! machine (AMD EPYC, AVX-512 VNNI, otherwise idle): query p50 6.6-6.8 → 1.1-1.8 ms;
//! passages of 206 tokens 9.7-10.0 → 87-88/s batched (64), 9.4-9.8 → 76-78/s one at a time;
//! peak RSS 179 → 124 MB. With another job keeping both cores busy it was 5/s → 28-42/s.

use std::sync::Mutex;

use crate::llm::kernels::gemm::{gemm, PackedQ4, Q8Rows};
use crate::llm::kernels::{matmul, pool, Acts, QMatrix};

/// Rows of output per pool task in element-wise passes: enough work to outweigh the hand-off.
const ROWS_PER_TASK: usize = 16;

/// Runs `f(first row, rows)` over `data` ([rows, width]) in pieces of `per_task` rows
/// across the pool.
pub(super) fn par_rows(
    data: &mut [f32],
    width: usize,
    per_task: usize,
    f: &(dyn Fn(usize, &mut [f32]) + Sync),
) {
    let pieces: Vec<Mutex<&mut [f32]>> =
        data.chunks_mut(width * per_task).map(Mutex::new).collect();
    pool::global().run(pieces.len(), &|i| {
        let mut piece = pieces[i].lock().unwrap_or_else(|e| e.into_inner());
        f(i * per_task, &mut piece);
    });
}

/// The weights of a linear layer: unpacked into `gemm`'s panels when their shape allows (every
/// e5 layer), else Q4_0 for `matmul`.
enum Weights {
    Packed(PackedQ4),
    Q4(QMatrix),
}

/// `x · Wᵀ + b` over the rows of `x` [tokens, inputs], W [outputs, inputs] in Q4_0; with
/// `gelu`, GELU (erf form) applied after.
pub struct Linear {
    weight: Weights,
    bias: Vec<f32>,
    gelu: bool,
}

impl Linear {
    pub fn new(weight: QMatrix, bias: Vec<f32>, gelu: bool) -> Linear {
        assert_eq!(bias.len(), weight.rows, "one bias per output");
        let weight = match PackedQ4::from_q4_0(&weight) {
            Some(p) => Weights::Packed(p),
            None => Weights::Q4(weight),
        };
        Linear { weight, bias, gelu }
    }

    fn shape(&self) -> (usize, usize) {
        match &self.weight {
            Weights::Packed(p) => (p.rows, p.cols),
            Weights::Q4(m) => (m.rows, m.cols),
        }
    }
}

impl Linear {
    /// `out` = the layer over the `tokens` rows of `x`; `acts` is scratch for their
    /// quantized form.
    pub fn apply(&self, x: &[f32], tokens: usize, acts: &mut Q8Rows, out: &mut Vec<f32>) {
        let (outputs, width) = self.shape();
        assert_eq!(x.len(), tokens * width, "q4_0-linear: input width");
        out.resize(tokens * outputs, 0.0);
        match &self.weight {
            Weights::Packed(w) => {
                acts.quantize(pool::global(), x, tokens);
                let post: &(dyn Fn(&mut [f32]) + Sync) =
                    if self.gelu { &gelu_all } else { &|_| {} };
                gemm(pool::global(), w, acts, Some(&self.bias), out, post);
            }
            Weights::Q4(w) => {
                let mut acts = Acts::default();
                acts.prepare(x, tokens, &[w]);
                matmul(pool::global(), w, &acts, out);
                par_rows(out, outputs, ROWS_PER_TASK, &|_, rows| {
                    for row in rows.chunks_exact_mut(outputs) {
                        for (y, b) in row.iter_mut().zip(&self.bias) {
                            *y += b;
                        }
                        if self.gelu {
                            gelu_all(row);
                        }
                    }
                });
            }
        }
    }
}

/// GELU over `xs`, with the widest vectors this CPU has: the loop is branch-free and
/// vectorizes, 16 lanes at a time with AVX-512 against 4 in a plain build.
fn gelu_all(xs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the feature.
            return unsafe { gelu_avx512(xs) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { gelu_avx2(xs) };
        }
    }
    xs.iter_mut().for_each(|x| *x = gelu(*x));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gelu_avx512(xs: &mut [f32]) {
    xs.iter_mut().for_each(|x| *x = gelu(*x));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn gelu_avx2(xs: &mut [f32]) {
    xs.iter_mut().for_each(|x| *x = gelu(*x));
}

/// GELU as BERT defines it, `x · Φ(x)` with the exact normal CDF.
#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// erf to within 4e-7 (a few f32 steps), as a rational function of x² (the approximation Eigen and XLA use for
/// f32): no branches and no `exp`, so the loop over a row vectorizes, where libm's `erff`
/// costs as much as the layer's matrix product. Plain `*` and `+`, not `mul_add`: without
/// FMA enabled at compile time (a plain build) that is a call to a software `fmaf`.
#[inline(always)]
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

/// A layer norm's parameters.
pub struct LayerNorm {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub eps: f32,
}

impl LayerNorm {
    /// `x` = LayerNorm(`x` + `residual`) row by row (of `x` alone without a residual), over
    /// the pool.
    pub fn apply(&self, x: &mut [f32], residual: Option<&[f32]>) {
        let width = self.weight.len();
        assert!(x.len().is_multiple_of(width) && residual.is_none_or(|r| r.len() == x.len()));
        par_rows(x, width, ROWS_PER_TASK, &|first, rows| {
            for (i, row) in rows.chunks_exact_mut(width).enumerate() {
                let r = residual.map(|r| &r[(first + i) * width..(first + i + 1) * width]);
                norm_row(row, r, self);
            }
        });
    }
}

/// One row of `LayerNorm::apply`, with the widest vectors this CPU has.
fn norm_row(x: &mut [f32], residual: Option<&[f32]>, n: &LayerNorm) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the feature.
            return unsafe { norm_row_avx512(x, residual, n) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { norm_row_avx2(x, residual, n) };
        }
    }
    norm_row_portable(x, residual, n)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn norm_row_avx512(x: &mut [f32], residual: Option<&[f32]>, n: &LayerNorm) {
    norm_row_portable(x, residual, n)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn norm_row_avx2(x: &mut [f32], residual: Option<&[f32]>, n: &LayerNorm) {
    norm_row_portable(x, residual, n)
}

/// Σ f(v) over `x` in 16 running lanes: independent sums the compiler keeps in one vector,
/// where one running sum would be a serial chain.
#[inline(always)]
fn lane_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; 16];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += f(*v);
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().map(|&v| f(v)).sum::<f32>()
}

/// The residual sum, mean and variance (`lane_sum`), then the affine map.
#[inline(always)]
fn norm_row_portable(x: &mut [f32], residual: Option<&[f32]>, n: &LayerNorm) {
    if let Some(r) = residual {
        x.iter_mut().zip(r).for_each(|(x, r)| *x += r);
    }
    let len = x.len() as f32;
    let mean = lane_sum(x, |v| v) / len;
    let var = lane_sum(x, |v| (v - mean) * (v - mean)) / len;
    let inv = 1.0 / (var + n.eps).sqrt();
    for ((v, w), b) in x.iter_mut().zip(&n.weight).zip(&n.bias) {
        *v = (*v - mean) * inv * w + b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_norm_matches_candle() {
        use candle_core::{Device, Tensor};
        let (rows, width) = (37, 80);
        let x = crate::llm::kernels::test_values(rows * width, 5);
        let r = crate::llm::kernels::test_values(rows * width, 6);
        let n = LayerNorm {
            weight: crate::llm::kernels::test_values(width, 7),
            bias: crate::llm::kernels::test_values(width, 8),
            eps: 1e-12,
        };
        let sum: Vec<f32> = x.iter().zip(&r).map(|(a, b)| a + b).collect();
        let t = Tensor::from_vec(sum, (rows, width), &Device::Cpu).unwrap();
        let w = Tensor::from_vec(n.weight.clone(), width, &Device::Cpu).unwrap();
        let b = Tensor::from_vec(n.bias.clone(), width, &Device::Cpu).unwrap();
        let want: Vec<f32> = candle_nn::ops::layer_norm(&t, &w, &b, n.eps)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let mut got = x.clone();
        n.apply(&mut got, Some(&r));
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        // Without a residual, and in the portable version.
        let mut alone = x.clone();
        n.apply(&mut alone, None);
        let mut portable = x.clone();
        for row in portable.chunks_exact_mut(width) {
            norm_row_portable(row, None, &n);
        }
        assert_eq!(alone.len(), portable.len());
        for (a, b) in alone.iter().zip(&portable) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn gelu_all_is_gelu() {
        let xs: Vec<f32> = (-700..700).map(|i| i as f32 / 100.0).collect();
        let mut ys = xs.clone();
        gelu_all(&mut ys);
        for (x, y) in xs.iter().zip(&ys) {
            assert!((gelu(*x) - y).abs() <= 1e-6 * (1.0 + y.abs()), "{x}: {y}");
        }
    }

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
