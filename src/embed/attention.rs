//! The encoder's self-attention over packed sequences, in f32 on clerk's pool: one task per
//! (sequence, head), each gathering its queries (scaled), keys (transposed) and values out of
//! the fused q/k/v rows once, then running blocks of 4 queries through scores, softmax and the
//! weighted sum of values with the queries' accumulators in registers.
//!
//! Why not the language model's `attend`: it reads one query against an f16 cache, so the
//! encoder converted every key and value to f16 in software for every head (as costly as the
//! attention itself) and summed every score horizontally; here a score block is 16 keys in one
//! 512-bit register and nothing is converted. AVX-512 is picked at run time; elsewhere the
//! portable version (also the reference the tests hold the fast one to) runs.

use crate::llm::kernels::pool;

/// Softmax attention over `qkv` [tokens, 3 × hidden] (queries, keys, values side by side) of
/// sequences packed one after another with lengths `lens`; each sequence attends only to its
/// own tokens. Writes `out` [tokens, hidden].
pub fn attention(qkv: &[f32], tokens: usize, heads: usize, lens: &[usize], out: &mut Vec<f32>) {
    let width = qkv.len() / tokens.max(1);
    let hidden = width / 3;
    assert!(
        width == 3 * hidden
            && qkv.len() == tokens * width
            && hidden.is_multiple_of(heads)
            && lens.iter().sum::<usize>() == tokens,
        "packed-attention: {tokens} × {width} does not fit {lens:?}"
    );
    let head_dim = hidden / heads;
    out.resize(tokens * hidden, 0.0);
    let starts: Vec<usize> = lens
        .iter()
        .scan(0, |s, &l| {
            *s += l;
            Some(*s - l)
        })
        .collect();
    let kernel = pick(head_dim);
    let base = SendPtr(out.as_mut_ptr());
    pool::global().run(heads * lens.len(), &|task| {
        let (seq, h) = (task / heads, task % heads);
        let (start, len) = (starts[seq], lens[seq]);
        let head = Head::gather(qkv, width, hidden, head_dim, h, start, len);
        // SAFETY: this task writes rows start..start + len, columns of its head only; the
        // buffer holds `tokens` rows of `hidden`.
        unsafe { kernel(&head, base.get().add(start * hidden + h * head_dim), hidden) };
    });
}

struct SendPtr(*mut f32);
// SAFETY: the tasks sharing one write disjoint parts, and the caller waits for them all.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    /// Through a method, so closures capture the `Sync` wrapper rather than the raw pointer.
    fn get(&self) -> *mut f32 {
        self.0
    }
}

/// One (sequence, head): queries [len, dim] already scaled by 1/√dim, keys transposed
/// [dim, padded] (padded to a multiple of 16 with zeros), values [len, dim].
struct Head {
    len: usize,
    padded: usize,
    dim: usize,
    q: Vec<f32>,
    kt: Vec<f32>,
    v: Vec<f32>,
}

impl Head {
    fn gather(
        qkv: &[f32],
        width: usize,
        hidden: usize,
        dim: usize,
        head: usize,
        start: usize,
        len: usize,
    ) -> Head {
        let padded = len.next_multiple_of(16);
        let scale = 1.0 / (dim as f32).sqrt();
        let mut q = Vec::with_capacity(len * dim);
        let mut v = Vec::with_capacity(len * dim);
        let mut kt = vec![0f32; dim * padded];
        for t in 0..len {
            let row = &qkv[(start + t) * width + head * dim..];
            q.extend(row[..dim].iter().map(|x| x * scale));
            for (d, &k) in row[hidden..hidden + dim].iter().enumerate() {
                kt[d * padded + t] = k;
            }
            v.extend_from_slice(&row[2 * hidden..2 * hidden + dim]);
        }
        Head {
            len,
            padded,
            dim,
            q,
            kt,
            v,
        }
    }
}

/// Attention of one head, written to `out[t * stride + d]`.
type HeadFn = unsafe fn(h: &Head, out: *mut f32, stride: usize);

fn pick(dim: usize) -> HeadFn {
    #[cfg(target_arch = "x86_64")]
    {
        if std::env::var("CLERK_KERNELS")
            .unwrap_or_default()
            .is_empty()
            && x86::available()
        {
            match dim {
                16 => return x86::head_avx512::<1>,
                32 => return x86::head_avx512::<2>,
                64 => return x86::head_avx512::<4>,
                _ => {}
            }
        }
    }
    let _ = dim;
    head_portable
}

/// The reference: one query at a time, plain loops.
unsafe fn head_portable(h: &Head, out: *mut f32, stride: usize) {
    let mut scores = vec![0f32; h.len];
    for t in 0..h.len {
        let q = &h.q[t * h.dim..(t + 1) * h.dim];
        for (j, s) in scores.iter_mut().enumerate() {
            *s = q
                .iter()
                .enumerate()
                .map(|(d, x)| x * h.kt[d * h.padded + j])
                .sum();
        }
        let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
        let mut sum = 0f32;
        for s in scores.iter_mut() {
            *s = (*s - max).exp();
            sum += *s;
        }
        let o = std::slice::from_raw_parts_mut(out.add(t * stride), h.dim);
        o.fill(0.0);
        for (s, v) in scores.iter().zip(h.v.chunks_exact(h.dim)) {
            for (o, v) in o.iter_mut().zip(v) {
                *o += s * v;
            }
        }
        o.iter_mut().for_each(|o| *o /= sum);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Head;
    use std::arch::x86_64::*;

    pub fn available() -> bool {
        is_x86_feature_detected!("avx512f")
    }

    /// e^x for 16 lanes (Cephes' polynomial, as the language model's `exp8`; relative error
    /// ~1e-7, inputs below -87 give ~0).
    #[inline(always)]
    unsafe fn exp16(x: __m512) -> __m512 {
        let x = _mm512_max_ps(x, _mm512_set1_ps(-87.0));
        let x = _mm512_min_ps(x, _mm512_set1_ps(88.0));
        let fx = _mm512_roundscale_ps::<0x09>(_mm512_fmadd_ps(
            x,
            _mm512_set1_ps(std::f32::consts::LOG2_E),
            _mm512_set1_ps(0.5),
        ));
        let x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693_359_4), x);
        let x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.121_944_4e-4), x);
        let mut y = _mm512_set1_ps(1.987_569_1e-4);
        for c in [
            1.398_2e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            1.666_666_5e-1,
            0.5,
        ] {
            y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(c));
        }
        y = _mm512_fmadd_ps(
            y,
            _mm512_mul_ps(x, x),
            _mm512_add_ps(x, _mm512_set1_ps(1.0)),
        );
        let n = _mm512_slli_epi32::<23>(_mm512_add_epi32(
            _mm512_cvtps_epi32(fx),
            _mm512_set1_epi32(127),
        ));
        _mm512_mul_ps(y, _mm512_castsi512_ps(n))
    }

    /// Lanes of the key block at `kb` that are real keys, not padding.
    #[inline(always)]
    fn valid(len: usize, kb: usize) -> __mmask16 {
        let n = (len - kb).min(16);
        ((1u32 << n) - 1) as __mmask16
    }

    /// Queries `t..t + N`: scores into `s` (N rows of `padded`), softmax, values.
    #[inline(always)]
    unsafe fn block<const H: usize, const N: usize>(
        h: &Head,
        t: usize,
        s: &mut [f32],
        out: *mut f32,
        stride: usize,
    ) {
        let (dim, padded) = (h.dim, h.padded);
        let q = h.q.as_ptr().add(t * dim);
        let sp = s.as_mut_ptr();
        let mut max = [_mm512_set1_ps(f32::NEG_INFINITY); N];
        for kb in (0..padded).step_by(16) {
            let mut acc = [_mm512_setzero_ps(); N];
            for d in 0..dim {
                let k = _mm512_loadu_ps(h.kt.as_ptr().add(d * padded + kb));
                for (r, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(_mm512_set1_ps(*q.add(r * dim + d)), k, *a);
                }
            }
            let m = valid(h.len, kb);
            for (r, a) in acc.iter().enumerate() {
                let a = _mm512_mask_mov_ps(_mm512_set1_ps(f32::NEG_INFINITY), m, *a);
                _mm512_storeu_ps(sp.add(r * padded + kb), a);
                max[r] = _mm512_max_ps(max[r], a);
            }
        }
        let mut inv = [0f32; N];
        for r in 0..N {
            let mv = _mm512_set1_ps(_mm512_reduce_max_ps(max[r]));
            let mut sum = _mm512_setzero_ps();
            for kb in (0..padded).step_by(16) {
                let p = sp.add(r * padded + kb);
                let e = _mm512_maskz_mov_ps(
                    valid(h.len, kb),
                    exp16(_mm512_sub_ps(_mm512_loadu_ps(p), mv)),
                );
                _mm512_storeu_ps(p, e);
                sum = _mm512_add_ps(sum, e);
            }
            inv[r] = 1.0 / _mm512_reduce_add_ps(sum);
        }
        let mut acc = [[_mm512_setzero_ps(); H]; N];
        for j in 0..h.len {
            let v = h.v.as_ptr().add(j * dim);
            let vs: [__m512; H] = std::array::from_fn(|c| _mm512_loadu_ps(v.add(16 * c)));
            for (r, a) in acc.iter_mut().enumerate() {
                let p = _mm512_set1_ps(*sp.add(r * padded + j));
                for c in 0..H {
                    a[c] = _mm512_fmadd_ps(p, vs[c], a[c]);
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            let o = out.add((t + r) * stride);
            let iv = _mm512_set1_ps(inv[r]);
            for (c, a) in a.iter().enumerate() {
                _mm512_storeu_ps(o.add(16 * c), _mm512_mul_ps(*a, iv));
            }
        }
    }

    /// A head of `16 * H` dims.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn head_avx512<const H: usize>(h: &Head, out: *mut f32, stride: usize) {
        debug_assert_eq!(h.dim, 16 * H);
        let mut s = vec![0f32; 4 * h.padded];
        let mut t = 0;
        while t + 4 <= h.len {
            block::<H, 4>(h, t, &mut s, out, stride);
            t += 4;
        }
        match h.len - t {
            1 => block::<H, 1>(h, t, &mut s, out, stride),
            2 => block::<H, 2>(h, t, &mut s, out, stride),
            3 => block::<H, 3>(h, t, &mut s, out, stride),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::kernels::test_values as random;

    /// Softmax attention in f64, straight from the definition.
    fn reference(qkv: &[f32], heads: usize, lens: &[usize]) -> Vec<f32> {
        let tokens: usize = lens.iter().sum();
        let width = qkv.len() / tokens;
        let hidden = width / 3;
        let dim = hidden / heads;
        let mut out = vec![0f32; tokens * hidden];
        let mut start = 0;
        for &len in lens {
            for h in 0..heads {
                let at = |t: usize, part: usize, d: usize| {
                    qkv[(start + t) * width + part * hidden + h * dim + d] as f64
                };
                for t in 0..len {
                    let s: Vec<f64> = (0..len)
                        .map(|j| {
                            (0..dim).map(|d| at(t, 0, d) * at(j, 1, d)).sum::<f64>()
                                / (dim as f64).sqrt()
                        })
                        .collect();
                    let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = s.iter().map(|x| (x - max).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for d in 0..dim {
                        let v: f64 = (0..len).map(|j| e[j] * at(j, 2, d)).sum::<f64>() / sum;
                        out[(start + t) * hidden + h * dim + d] = v as f32;
                    }
                }
            }
            start += len;
        }
        out
    }

    #[test]
    fn kernels_match_the_definition() {
        for (dim, heads, lens) in [
            (32, 3, vec![1, 5, 17, 40]),
            (16, 2, vec![33, 2]),
            (64, 2, vec![7, 16]),
            (24, 2, vec![9, 4]),
        ] {
            let hidden = dim * heads;
            let tokens: usize = lens.iter().sum();
            // Scores up to ~±8 · √dim / √dim: softmax far from uniform.
            let qkv: Vec<f32> = random(tokens * 3 * hidden, dim as u64)
                .iter()
                .map(|x| x * 3.0)
                .collect();
            let want = reference(&qkv, heads, &lens);
            let mut got = Vec::new();
            attention(&qkv, tokens, heads, &lens, &mut got);
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!((a - b).abs() < 1e-4, "dim {dim} at {i}: {a} vs {b}");
            }
            // And the portable version on its own.
            let mut start = 0;
            let mut portable = vec![0f32; tokens * hidden];
            for &len in &lens {
                for h in 0..heads {
                    let head = Head::gather(&qkv, 3 * hidden, hidden, dim, h, start, len);
                    unsafe {
                        head_portable(
                            &head,
                            portable.as_mut_ptr().add(start * hidden + h * dim),
                            hidden,
                        )
                    };
                }
                start += len;
            }
            for (a, b) in portable.iter().zip(&want) {
                assert!((a - b).abs() < 1e-4, "portable dim {dim}: {a} vs {b}");
            }
        }
    }
}
