//! Q4_0 weights × 8-bit activations for many activation rows at once: the sentence encoder's
//! batches of thousands of tokens. `matmul` unpacks a 4-bit weight row again for every four
//! activation rows and sums each dot product horizontally, which suits the language model's
//! decode (one row) but not a batch; here the weights are unpacked once, at load, into panels
//! of 32 rows laid out for a register-blocked int8 product (`PackedQ4`), and a micro-kernel
//! multiplies one panel with a few activation rows at a time, every weight load and
//! activation broadcast feeding several multiply-adds, with no horizontal sums.
//!
//! Layout: for each panel of 32 weight rows and each block of 32 inputs, the rows' 32 f32
//! scales, then 8 chunks of (32 rows × 4 consecutive weights as u8 0..15). One 512-bit chunk
//! half is 16 rows' 4 weights, which `vpdpbusd` multiplies with 4 activation bytes broadcast
//! to every lane; Q4_0's offset of 8 is applied in integers by starting each block's sum at
//! −8·Σq of the activation block (`Q8Rows::off`), so a block's sum is exactly
//! Σ (w − 8)·q before its one conversion to f32. The weights take 2× Q4_0's bytes; for
//! e5-small that is ~24 MB, against a product several times faster.
//!
//! Kernels, chosen once at run time by the CPU's features: AVX-512 VNNI (2 × 16 rows × 7
//! activation rows per step), AVX2 (8 rows × 4 activation rows, `vpmaddubsw` pairs), and a
//! portable scalar one, the reference the others are tested against.

use std::sync::OnceLock;

use super::pool::{OutPtr, Pool};
use super::quant::{read_f16, QType, QK};
use super::QMatrix;

/// Weight rows per panel.
pub const PANEL: usize = 32;
/// Groups of 4 inputs per block.
const CHUNKS: usize = QK / 4;
/// Bytes per (panel, block): the scales, then the chunks.
const PB_BYTES: usize = PANEL * 4 + CHUNKS * PANEL * 4;
/// Activation rows per task: a tile of up to 1536-wide rows (~170 KB of bytes) that stays in
/// L2 while a task's weight panels pass over it; a multiple of the kernels' 7 and 4.
const T_TILE: usize = 112;

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line([u8; 64]);

/// A Q4_0 matrix (rows a multiple of 32) unpacked into panels for `gemm`.
pub struct PackedQ4 {
    pub rows: usize,
    pub cols: usize,
    lines: Vec<Line>,
}

impl std::fmt::Debug for PackedQ4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedQ4")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .finish_non_exhaustive()
    }
}

impl PackedQ4 {
    /// `m` unpacked; `None` unless it is Q4_0 with rows a multiple of `PANEL`.
    pub fn from_q4_0(m: &QMatrix) -> Option<PackedQ4> {
        if m.qtype != QType::Q4_0 || !m.rows.is_multiple_of(PANEL) || !m.cols.is_multiple_of(QK) {
            return None;
        }
        let nb = m.cols / QK;
        let total = m.rows / PANEL * nb * PB_BYTES;
        let mut lines = vec![Line([0; 64]); total / 64];
        // SAFETY: `Line` is 64 plain bytes, so the vector is `total` initialized bytes.
        let bytes = unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr() as *mut u8, total) };
        let bb = QType::Q4_0.block_bytes();
        for r in 0..m.rows {
            let row = m.row(r);
            let (p, i) = (r / PANEL, r % PANEL);
            for (b, blk) in row.chunks_exact(bb).enumerate() {
                let base = (p * nb + b) * PB_BYTES;
                bytes[base + 4 * i..base + 4 * i + 4]
                    .copy_from_slice(&read_f16(blk, 0).to_le_bytes());
                // Q4_0 keeps input k (< 16) in byte k's low nibble, k + 16 in its high one.
                for k in 0..QK {
                    let q = blk[2 + k % 16];
                    let v = if k < 16 { q & 0x0f } else { q >> 4 };
                    bytes[base + PANEL * 4 + (k / 4) * PANEL * 4 + 4 * i + k % 4] = v;
                }
            }
        }
        Some(PackedQ4 {
            rows: m.rows,
            cols: m.cols,
            lines,
        })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: as in `from_q4_0`.
        unsafe {
            std::slice::from_raw_parts(self.lines.as_ptr() as *const u8, self.lines.len() * 64)
        }
    }

    /// Bytes the unpacked weights take.
    pub fn size(&self) -> usize {
        self.lines.len() * 64
    }
}

/// Activation rows quantized to 8 bits per block of 32: `x ≈ d · q`, and `off` = −8·Σq, the
/// Q4_0 offset's share of the block's dot product.
#[derive(Default)]
pub struct Q8Rows {
    t_len: usize,
    cols: usize,
    qs: Vec<i8>,
    d: Vec<f32>,
    off: Vec<i32>,
}

impl Q8Rows {
    /// Quantizes the `t_len` rows of `x` (each a multiple of 32 wide), rounding to nearest
    /// (ties to even) with the scale `max|x| / 127` of each block, as `quantize_acts` does but
    /// keeping the scale in f32.
    pub fn quantize(&mut self, pool: &Pool, x: &[f32], t_len: usize) {
        let cols = x.len() / t_len.max(1);
        assert!(
            cols.is_multiple_of(QK) && cols * t_len == x.len(),
            "row width"
        );
        self.t_len = t_len;
        self.cols = cols;
        self.qs.resize(x.len(), 0);
        self.d.resize(x.len() / QK, 0.0);
        self.off.resize(x.len() / QK, 0);
        let f = quantize_impl();
        // Pieces of whole rows over the pool: for a big batch this pass over the activations
        // would otherwise leave the other threads waiting.
        let rows_per_task = T_TILE.min(t_len.max(1));
        let nb = cols / QK;
        let (qs, d, off) = (
            SharedPtr(self.qs.as_mut_ptr()),
            SharedPtr(self.d.as_mut_ptr()),
            SharedPtr(self.off.as_mut_ptr()),
        );
        pool.run(t_len.div_ceil(rows_per_task), &|i| {
            let t0 = i * rows_per_task;
            let t1 = (t0 + rows_per_task).min(t_len);
            // SAFETY: rows t0..t1 of each buffer are this task's alone, and in bounds.
            unsafe {
                let q = std::slice::from_raw_parts_mut(qs.get().add(t0 * cols), (t1 - t0) * cols);
                let d = std::slice::from_raw_parts_mut(d.get().add(t0 * nb), (t1 - t0) * nb);
                let o = std::slice::from_raw_parts_mut(off.get().add(t0 * nb), (t1 - t0) * nb);
                f(&x[t0 * cols..t1 * cols], q, d, o);
            }
        });
    }

    pub fn t_len(&self) -> usize {
        self.t_len
    }
}

/// A buffer's start shared by tasks that each write their own part of it.
struct SharedPtr<T>(*mut T);
// SAFETY: the tasks sharing one write disjoint parts, and the caller waits for them all.
unsafe impl<T> Send for SharedPtr<T> {}
unsafe impl<T> Sync for SharedPtr<T> {}

impl<T> SharedPtr<T> {
    /// Through a method, so closures capture the `Sync` wrapper rather than the raw pointer.
    fn get(&self) -> *mut T {
        self.0
    }
}

type QuantFn = fn(&[f32], &mut [i8], &mut [f32], &mut [i32]);

fn quantize_impl() -> QuantFn {
    static BEST: OnceLock<QuantFn> = OnceLock::new();
    *BEST.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if x86::avx512_available() {
                return |x, q, d, o| unsafe { x86::quantize_avx512(x, q, d, o) };
            }
            if x86::avx2_available() {
                return |x, q, d, o| unsafe { x86::quantize_avx2(x, q, d, o) };
            }
        }
        quantize_blocks
    })
}

/// The portable quantization (and what the vector versions compile, wider).
#[inline(always)]
fn quantize_blocks(x: &[f32], qs: &mut [i8], d: &mut [f32], off: &mut [i32]) {
    for (((xb, qb), d), off) in x
        .chunks_exact(QK)
        .zip(qs.chunks_exact_mut(QK))
        .zip(d.iter_mut())
        .zip(off.iter_mut())
    {
        let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
        let id = if amax > 0.0 { 127.0 / amax } else { 0.0 };
        let mut sum = 0i32;
        for (q, v) in qb.iter_mut().zip(xb) {
            // Round to nearest even by the 1.5·2^23 trick, as `quantize_acts`.
            let r = ((v * id + 12_582_912.0) - 12_582_912.0) as i32;
            *q = r as i8;
            sum += r;
        }
        *d = amax / 127.0;
        *off = -8 * sum;
    }
}

/// One panel against activation rows `t0..t1`, writing `out[t * stride + r]` for the panel's
/// 32 rows (bias added when given).
type PanelFn = unsafe fn(
    w: *const u8,
    a: &Q8Rows,
    t0: usize,
    t1: usize,
    bias: *const f32,
    out: *mut f32,
    stride: usize,
);

/// The panel kernel chosen for this CPU, and its name.
fn panel_kernel() -> (PanelFn, &'static str) {
    static BEST: OnceLock<(PanelFn, &'static str)> = OnceLock::new();
    *BEST.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            let choice = std::env::var("CLERK_KERNELS").unwrap_or_default();
            if choice != "scalar" && choice != "avx2" && x86::avx512_available() {
                return (x86::panel_avx512 as PanelFn, "avx512vnni");
            }
            if choice != "scalar" && x86::avx2_available() {
                return (x86::panel_avx2 as PanelFn, "avx2");
            }
        }
        (panel_scalar as PanelFn, "scalar")
    })
}

/// The name of the kernel `gemm` runs on this CPU.
pub fn kernel_name() -> &'static str {
    panel_kernel().1
}

/// `out[t * w.rows + r] = w.row(r) · x[t] (+ bias[r])` for every activation row in `a`, then
/// `post` over each finished piece of an output row (while it is still in cache).
pub fn gemm(
    pool: &Pool,
    w: &PackedQ4,
    a: &Q8Rows,
    bias: Option<&[f32]>,
    out: &mut [f32],
    post: &(dyn Fn(&mut [f32]) + Sync),
) {
    gemm_with(pool, panel_kernel().0, w, a, bias, out, post)
}

fn gemm_with(
    pool: &Pool,
    kernel: PanelFn,
    w: &PackedQ4,
    a: &Q8Rows,
    bias: Option<&[f32]>,
    out: &mut [f32],
    post: &(dyn Fn(&mut [f32]) + Sync),
) {
    let t_len = a.t_len;
    assert_eq!(a.cols, w.cols, "activation width");
    assert!(out.len() >= t_len * w.rows, "output too small");
    if let Some(b) = bias {
        assert_eq!(b.len(), w.rows, "bias length");
    }
    let panels = w.rows / PANEL;
    let t_blocks = t_len.div_ceil(T_TILE);
    // Several panels per task when there are many activation tiles (fewer, longer tasks);
    // one when there are few, so that a short text still spreads over every thread.
    let per_task = if t_blocks >= 2 * pool.threads() { 4 } else { 1 };
    let p_blocks = panels.div_ceil(per_task);
    let out_ptr = OutPtr(out.as_mut_ptr());
    let bytes = w.bytes();
    let panel_bytes = w.cols / QK * PB_BYTES;
    let rows = w.rows;
    let task = |i: usize| {
        let (pblk, tblk) = (i % p_blocks, i / p_blocks);
        let p0 = pblk * per_task;
        let p1 = (p0 + per_task).min(panels);
        let t0 = tblk * T_TILE;
        let t1 = (t0 + T_TILE).min(t_len);
        for p in p0..p1 {
            let bias = bias.map_or(std::ptr::null(), |b| b[p * PANEL..].as_ptr());
            // SAFETY: the panel's bytes are in `bytes`; rows t0..t1 and the panel's outputs
            // are in `out`, and written by this task only.
            unsafe {
                kernel(
                    bytes[p * panel_bytes..].as_ptr(),
                    a,
                    t0,
                    t1,
                    bias,
                    out_ptr.get().add(p * PANEL),
                    rows,
                )
            };
        }
        for t in t0..t1 {
            // SAFETY: this task's outputs, written above and by no other task.
            let piece = unsafe {
                std::slice::from_raw_parts_mut(
                    out_ptr.get().add(t * rows + p0 * PANEL),
                    (p1 - p0) * PANEL,
                )
            };
            post(piece);
        }
    };
    pool.run(p_blocks * t_blocks, &task);
}

/// The reference: the same sums in the same order per block, one output at a time.
unsafe fn panel_scalar(
    w: *const u8,
    a: &Q8Rows,
    t0: usize,
    t1: usize,
    bias: *const f32,
    out: *mut f32,
    stride: usize,
) {
    let nb = a.cols / QK;
    for t in t0..t1 {
        for i in 0..PANEL {
            let mut acc = if bias.is_null() { 0.0 } else { *bias.add(i) };
            for b in 0..nb {
                let base = w.add(b * PB_BYTES);
                let scale = (base.add(4 * i) as *const f32).read_unaligned();
                let q = &a.qs[t * a.cols + b * QK..][..QK];
                let mut sum = a.off[t * nb + b];
                for (k, &qk) in q.iter().enumerate() {
                    let wv = *base.add(PANEL * 4 + (k / 4) * PANEL * 4 + 4 * i + k % 4);
                    sum += wv as i32 * qk as i32;
                }
                acc += sum as f32 * (scale * a.d[t * nb + b]);
            }
            *out.add(t * stride + i) = acc;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    pub fn avx2_available() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }

    pub fn avx512_available() -> bool {
        avx2_available()
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vnni")
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn quantize_avx2(x: &[f32], qs: &mut [i8], d: &mut [f32], off: &mut [i32]) {
        quantize_blocks(x, qs, d, off)
    }

    /// Per block: |x| max over two registers, x·(127/max) rounded to nearest even by the
    /// conversion (the MXCSR default, as the scalar trick), narrowed to bytes.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub unsafe fn quantize_avx512(x: &[f32], qs: &mut [i8], d: &mut [f32], off: &mut [i32]) {
        let n = x.len() / QK;
        assert!(qs.len() >= n * QK && d.len() >= n && off.len() >= n);
        for b in 0..n {
            let p = x.as_ptr().add(b * QK);
            let v0 = _mm512_loadu_ps(p);
            let v1 = _mm512_loadu_ps(p.add(16));
            let m = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1));
            let amax = _mm512_reduce_max_ps(m);
            let id = _mm512_set1_ps(if amax > 0.0 { 127.0 / amax } else { 0.0 });
            let q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, id));
            let q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, id));
            let o = qs.as_mut_ptr().add(b * QK);
            _mm_storeu_si128(o as *mut __m128i, _mm512_cvtepi32_epi8(q0));
            _mm_storeu_si128(o.add(16) as *mut __m128i, _mm512_cvtepi32_epi8(q1));
            *d.get_unchecked_mut(b) = amax / 127.0;
            *off.get_unchecked_mut(b) = -8 * _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
        }
    }

    /// `N` activation rows from `t` against both 16-row halves of a panel.
    #[inline(always)]
    unsafe fn micro512<const N: usize>(
        w: *const u8,
        a: &Q8Rows,
        t: usize,
        bias: *const f32,
        out: *mut f32,
        stride: usize,
    ) {
        let nb = a.cols / QK;
        let qs = a.qs.as_ptr().add(t * a.cols);
        let ds = a.d.as_ptr().add(t * nb);
        let offs = a.off.as_ptr().add(t * nb);
        let init = if bias.is_null() {
            [_mm512_setzero_ps(); 2]
        } else {
            [_mm512_loadu_ps(bias), _mm512_loadu_ps(bias.add(16))]
        };
        let mut acc = [init; N];
        for b in 0..nb {
            let base = w.add(b * PB_BYTES);
            let mut sums: [[__m512i; 2]; N] = std::array::from_fn(|i| {
                let o = _mm512_set1_epi32(*offs.add(i * nb + b));
                [o, o]
            });
            for j in 0..CHUNKS {
                let c = base.add(PANEL * 4 + j * PANEL * 4);
                let w0 = _mm512_load_si512(c as *const __m512i);
                let w1 = _mm512_load_si512(c.add(64) as *const __m512i);
                for (i, s) in sums.iter_mut().enumerate() {
                    let q = (qs.add(i * a.cols + b * QK + 4 * j) as *const i32).read_unaligned();
                    let q = _mm512_set1_epi32(q);
                    s[0] = _mm512_dpbusd_epi32(s[0], w0, q);
                    s[1] = _mm512_dpbusd_epi32(s[1], w1, q);
                }
            }
            let s0 = _mm512_load_ps(base as *const f32);
            let s1 = _mm512_load_ps(base.add(64) as *const f32);
            for (i, s) in sums.iter().enumerate() {
                let d = _mm512_set1_ps(*ds.add(i * nb + b));
                acc[i][0] =
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[0]), _mm512_mul_ps(s0, d), acc[i][0]);
                acc[i][1] =
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[1]), _mm512_mul_ps(s1, d), acc[i][1]);
            }
        }
        for (i, acc) in acc.iter().enumerate() {
            let o = out.add((t + i) * stride);
            _mm512_storeu_ps(o, acc[0]);
            _mm512_storeu_ps(o.add(16), acc[1]);
        }
    }

    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vnni")]
    pub unsafe fn panel_avx512(
        w: *const u8,
        a: &Q8Rows,
        t0: usize,
        t1: usize,
        bias: *const f32,
        out: *mut f32,
        stride: usize,
    ) {
        panel_avx512_n::<STEP512>(w, a, t0, t1, bias, out, stride)
    }

    /// Activation rows per micro-kernel step: 7 (28 accumulators, a few spilled) measured
    /// ~6% faster than 4, 5 or 6 on e5's shapes (`gemm_speed`).
    pub const STEP512: usize = 7;

    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vnni")]
    pub unsafe fn panel_avx512_n<const S: usize>(
        w: *const u8,
        a: &Q8Rows,
        t0: usize,
        t1: usize,
        bias: *const f32,
        out: *mut f32,
        stride: usize,
    ) {
        let mut t = t0;
        while t + S <= t1 {
            micro512::<S>(w, a, t, bias, out, stride);
            t += S;
        }
        match t1 - t {
            1 => micro512::<1>(w, a, t, bias, out, stride),
            2 => micro512::<2>(w, a, t, bias, out, stride),
            3 => micro512::<3>(w, a, t, bias, out, stride),
            4 => micro512::<4>(w, a, t, bias, out, stride),
            5 => micro512::<5>(w, a, t, bias, out, stride),
            6 => micro512::<6>(w, a, t, bias, out, stride),
            7 => micro512::<7>(w, a, t, bias, out, stride),
            _ => {}
        }
    }

    /// `N` activation rows from `t` against rows 8h..8h+8 of a panel. Two chunks' u8·i8
    /// pair sums are added in i16 (at most 2 · 2 · 15 · 128, no saturation) before widening.
    #[inline(always)]
    unsafe fn micro256<const N: usize>(
        w: *const u8,
        h: usize,
        a: &Q8Rows,
        t: usize,
        bias: *const f32,
        out: *mut f32,
        stride: usize,
    ) {
        let nb = a.cols / QK;
        let qs = a.qs.as_ptr().add(t * a.cols);
        let ds = a.d.as_ptr().add(t * nb);
        let offs = a.off.as_ptr().add(t * nb);
        let ones = _mm256_set1_epi16(1);
        let init = if bias.is_null() {
            _mm256_setzero_ps()
        } else {
            _mm256_loadu_ps(bias.add(8 * h))
        };
        let mut acc = [init; N];
        for b in 0..nb {
            let base = w.add(b * PB_BYTES);
            let mut sums: [__m256i; N] =
                std::array::from_fn(|i| _mm256_set1_epi32(*offs.add(i * nb + b)));
            for j in (0..CHUNKS).step_by(2) {
                let c = base.add(PANEL * 4 + j * PANEL * 4 + 32 * h);
                let w0 = _mm256_load_si256(c as *const __m256i);
                let w1 = _mm256_load_si256(c.add(PANEL * 4) as *const __m256i);
                for (i, s) in sums.iter_mut().enumerate() {
                    let q = qs.add(i * a.cols + b * QK + 4 * j) as *const i32;
                    let q0 = _mm256_set1_epi32(q.read_unaligned());
                    let q1 = _mm256_set1_epi32(q.add(1).read_unaligned());
                    let p = _mm256_add_epi16(
                        _mm256_maddubs_epi16(w0, q0),
                        _mm256_maddubs_epi16(w1, q1),
                    );
                    *s = _mm256_add_epi32(*s, _mm256_madd_epi16(p, ones));
                }
            }
            let scale = _mm256_load_ps(base.add(32 * h) as *const f32);
            for (i, s) in sums.iter().enumerate() {
                let d = _mm256_set1_ps(*ds.add(i * nb + b));
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(*s), _mm256_mul_ps(scale, d), acc[i]);
            }
        }
        for (i, acc) in acc.iter().enumerate() {
            _mm256_storeu_ps(out.add((t + i) * stride + 8 * h), *acc);
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn panel_avx2(
        w: *const u8,
        a: &Q8Rows,
        t0: usize,
        t1: usize,
        bias: *const f32,
        out: *mut f32,
        stride: usize,
    ) {
        for h in 0..PANEL / 8 {
            let mut t = t0;
            while t + 4 <= t1 {
                micro256::<4>(w, h, a, t, bias, out, stride);
                t += 4;
            }
            match t1 - t {
                1 => micro256::<1>(w, h, a, t, bias, out, stride),
                2 => micro256::<2>(w, h, a, t, bias, out, stride),
                3 => micro256::<3>(w, h, a, t, bias, out, stride),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::kernels::test_values as random;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    fn kernels() -> Vec<(PanelFn, &'static str)> {
        let mut v = vec![(panel_scalar as PanelFn, "scalar")];
        #[cfg(target_arch = "x86_64")]
        {
            if x86::avx2_available() {
                v.push((x86::panel_avx2 as PanelFn, "avx2"));
            }
            if x86::avx512_available() {
                v.push((x86::panel_avx512 as PanelFn, "avx512vnni"));
            }
        }
        v
    }

    fn q4_0(values: &[f32], rows: usize, cols: usize) -> (QMatrix, Vec<f32>) {
        let t = Tensor::from_vec(values.to_vec(), (rows, cols), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&t, GgmlDType::Q4_0).unwrap();
        let deq = q
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let m = QMatrix {
            qtype: QType::Q4_0,
            rows,
            cols,
            data: q.data().unwrap().into_owned().into(),
        };
        (m, deq)
    }

    #[test]
    fn quantizations_agree() {
        let x: Vec<f32> = random(40 * 96, 3).iter().map(|v| v * 3.0).collect();
        let mut x = x;
        x[64..96].fill(0.0);
        let (n, k) = (x.len() / QK, x.len());
        let mut want = (vec![0i8; k], vec![0f32; n], vec![0i32; n]);
        quantize_blocks(&x, &mut want.0, &mut want.1, &mut want.2);
        let mut rows = Q8Rows::default();
        rows.quantize(&Pool::new(2), &x, 40);
        assert_eq!((&rows.qs, &rows.d, &rows.off), (&want.0, &want.1, &want.2));
        for (b, (xb, qb)) in x.chunks(QK).zip(want.0.chunks(QK)).enumerate() {
            let sum: i32 = qb.iter().map(|&q| q as i32).sum();
            assert_eq!(want.2[b], -8 * sum);
            for (v, &q) in xb.iter().zip(qb) {
                assert!((v - want.1[b] * q as f32).abs() <= want.1[b] * 0.5 + 1e-6);
            }
        }
    }

    /// Every kernel against the f32 product of the dequantized weights and activations, and
    /// against each other, on random data; odd activation counts exercise every remainder.
    #[test]
    fn kernels_match_the_dequantized_product() {
        let (rows, cols) = (96, 160);
        let (m, wd) = q4_0(&random(rows * cols, 11), rows, cols);
        let packed = PackedQ4::from_q4_0(&m).unwrap();
        let bias = random(rows, 12);
        let pool = Pool::new(2);
        for t_len in [1, 5, 7, 13, 100, 120, 203] {
            let x: Vec<f32> = random(t_len * cols, 13 + t_len as u64);
            let mut a = Q8Rows::default();
            a.quantize(&pool, &x, t_len);
            let nb = cols / QK;
            let xd: Vec<f32> = (0..t_len * cols)
                .map(|i| a.qs[i] as f32 * a.d[i / QK])
                .collect();
            let mut first: Option<Vec<f32>> = None;
            for (k, name) in kernels() {
                for with_bias in [false, true] {
                    let mut out = vec![f32::NAN; t_len * rows];
                    let b = with_bias.then_some(&bias[..]);
                    gemm_with(&pool, k, &packed, &a, b, &mut out, &|p| {
                        p.iter_mut().for_each(|v| *v *= 2.0)
                    });
                    for t in 0..t_len {
                        for r in 0..rows {
                            let dot: f32 =
                                (0..cols).map(|c| wd[r * cols + c] * xd[t * cols + c]).sum();
                            let want = 2.0 * (dot + if with_bias { bias[r] } else { 0.0 });
                            let got = out[t * rows + r];
                            assert!(
                                (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                                "{name} t_len {t_len} ({t}, {r}): {got} vs {want}"
                            );
                        }
                    }
                    if !with_bias {
                        match &first {
                            None => first = Some(out),
                            // Integer sums, then the same f32 operations per block: the
                            // kernels agree to rounding of the final sums' order only.
                            Some(f) => {
                                for (x, y) in out.iter().zip(f) {
                                    assert!((x - y).abs() < 1e-5 * (1.0 + y.abs()), "{name}");
                                }
                            }
                        }
                    }
                }
            }
            assert_eq!(nb * QK, cols);
        }
    }

    /// Timing of the kernel variants on e5-small's shapes:
    /// `cargo test --release --lib gemm_speed -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn gemm_speed() {
        // One thread: the kernels' own speed, less at the mercy of whatever else runs.
        let pool = &Pool::new(1);
        let t_len = 1024;
        for (rows, cols) in [(1152, 384), (1536, 384), (384, 1536)] {
            let (m, _) = q4_0(&random(rows * cols, 1), rows, cols);
            let packed = PackedQ4::from_q4_0(&m).unwrap();
            let x = random(t_len * cols, 2);
            let mut a = Q8Rows::default();
            a.quantize(pool, &x, t_len);
            let mut out = vec![0f32; t_len * rows];
            let mut variants: Vec<(PanelFn, &str)> = kernels();
            #[cfg(target_arch = "x86_64")]
            if x86::avx512_available() {
                variants.push((x86::panel_avx512_n::<4>, "avx512 x4"));
                variants.push((x86::panel_avx512_n::<5>, "avx512 x5"));
                variants.push((x86::panel_avx512_n::<6>, "avx512 x6"));
                variants.push((x86::panel_avx512_n::<7>, "avx512 x7"));
            }
            for (k, name) in variants {
                if name == "scalar" {
                    continue;
                }
                let mut best = f64::MAX;
                for _ in 0..15 {
                    let start = std::time::Instant::now();
                    gemm_with(pool, k, &packed, &a, None, &mut out, &|_| {});
                    best = best.min(start.elapsed().as_secs_f64());
                }
                let gmacs = (t_len * rows * cols) as f64 / best / 1e9;
                println!(
                    "{rows}x{cols} {name:>12}: {:.2} ms, {gmacs:.0} GMAC/s",
                    best * 1e3
                );
            }
        }
        let mut a = Q8Rows::default();
        let x = random(t_len * 1536, 2);
        let start = std::time::Instant::now();
        a.quantize(pool, &x, t_len);
        println!(
            "quantize 1024x1536: {:.2} ms",
            start.elapsed().as_secs_f64() * 1e3
        );
    }

    #[test]
    fn only_q4_0_panels_pack() {
        let (m, _) = q4_0(&random(40 * 64, 1), 40, 64);
        assert!(PackedQ4::from_q4_0(&m).is_none());
        let (m, _) = q4_0(&random(64 * 64, 1), 64, 64);
        let p = PackedQ4::from_q4_0(&m).unwrap();
        assert_eq!(p.size(), 2 * 2 * PB_BYTES);
    }
}
