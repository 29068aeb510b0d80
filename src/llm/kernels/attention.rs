//! Causal attention over a preallocated KV cache, fused (scores, softmax and the weighted sum
//! of values in one pass per query head, no score matrix materialized). Decode is the one-query
//! case of the same code. The cache is laid out `[kv head][position][head dim]` so one head's
//! keys are contiguous, and holds IEEE f16 as llama.cpp's does: after a long prompt, decode
//! reads the whole cache every step, and half the bytes is most of the cost.

use super::pool::OutPtr;
use std::cell::RefCell;

use super::dot::kernels;
use super::pool::Pool;
use super::quant::f32_to_f16;

/// Keys and values of every layer, allocated once for `capacity` positions. The zeroed
/// allocation is lazily backed by the OS, so memory grows with the positions actually used.
pub struct KvCache {
    pub n_kv: usize,
    pub head_dim: usize,
    pub capacity: usize,
    k: Vec<Vec<u16>>,
    v: Vec<Vec<u16>>,
}

impl KvCache {
    pub fn new(layers: usize, n_kv: usize, head_dim: usize, capacity: usize) -> KvCache {
        let per_layer = n_kv * capacity * head_dim;
        KvCache {
            n_kv,
            head_dim,
            capacity,
            k: (0..layers).map(|_| vec![0u16; per_layer]).collect(),
            v: (0..layers).map(|_| vec![0u16; per_layer]).collect(),
        }
    }

    /// Stores the keys and values of position `pos` (`n_kv * head_dim` each) for `layer`.
    pub fn store(&mut self, layer: usize, pos: usize, k: &[f32], v: &[f32]) {
        let hd = self.head_dim;
        for h in 0..self.n_kv {
            let at = (h * self.capacity + pos) * hd;
            // Keeping exactly what llama.cpp keeps also keeps greedy decoding on its path where
            // two tokens are nearly tied.
            let (src_k, src_v) = (&k[h * hd..(h + 1) * hd], &v[h * hd..(h + 1) * hd]);
            for (dst, &x) in self.k[layer][at..at + hd].iter_mut().zip(src_k) {
                *dst = f32_to_f16(x);
            }
            for (dst, &x) in self.v[layer][at..at + hd].iter_mut().zip(src_v) {
                *dst = f32_to_f16(x);
            }
        }
    }

    fn head(&self, layer: usize, h: usize, len: usize) -> (&[u16], &[u16]) {
        let at = h * self.capacity * self.head_dim;
        let n = len * self.head_dim;
        (&self.k[layer][at..at + n], &self.v[layer][at..at + n])
    }
}

thread_local! {
    static SCORES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Causal attention for query rows of one or several sequences: row `t` is `(slot, pos)`, and
/// its query (`q` is `rows × n_head × head_dim`, already rotated) attends to positions
/// `0 ..= pos` of `caches[slot]`, its own key and value already stored there (a prompt is
/// consecutive positions of one slot). Writes each head's output into `out` (same shape).
/// Query head `h` reads kv head `h / (n_head / n_kv)`.
pub fn attention(
    pool: &Pool,
    caches: &[KvCache],
    layer: usize,
    q: &[f32],
    rows: &[(usize, usize)],
    out: &mut [f32],
) {
    let t_len = rows.len();
    let hd = caches[0].head_dim;
    let n_head = q.len() / (t_len * hd);
    let group = n_head / caches[0].n_kv;
    let scale = 1.0 / (hd as f32).sqrt();
    let k = kernels();
    let out_ptr = OutPtr(out.as_mut_ptr());
    assert!(q.len() >= t_len * n_head * hd && out.len() >= t_len * n_head * hd);
    let task = |i: usize| {
        let (t, h) = (i / n_head, i % n_head);
        let (slot, pos) = rows[t];
        let (keys, values) = caches[slot].head(layer, h / group, pos + 1);
        let qh = &q[(t * n_head + h) * hd..][..hd];
        // SAFETY: this task alone writes this slice.
        let oh =
            unsafe { std::slice::from_raw_parts_mut(out_ptr.get().add((t * n_head + h) * hd), hd) };
        SCORES.with_borrow_mut(|s| k.attend(qh, keys, values, scale, s, oh));
    };
    pool.run(t_len * n_head, &task);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::kernels::quant::round_to_f16;
    use candle_core::{Device, Tensor, D};

    /// Against candle: softmax(q kᵀ / √d + causal mask) v, with grouped kv heads, for a head
    /// size with a SIMD kernel (64) and one without (16).
    #[test]
    fn matches_candle_causal_attention() {
        check(4, 2, 16, 5);
        check(4, 2, 64, 7);
    }

    fn check(n_head: usize, n_kv: usize, hd: usize, t_len: usize) {
        let gen = |n: usize, s: usize| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * 31 + s * 17) % 23) as f32 / 11.0 - 1.0)
                .collect()
        };
        let q = gen(t_len * n_head * hd, 1);
        let kx = gen(t_len * n_kv * hd, 2);
        let vx = gen(t_len * n_kv * hd, 3);
        let mut cache = KvCache::new(1, n_kv, hd, 8);
        for t in 0..t_len {
            let w = n_kv * hd;
            cache.store(0, t, &kx[t * w..(t + 1) * w], &vx[t * w..(t + 1) * w]);
        }
        let pool = Pool::new(2);
        let mut out = vec![0f32; t_len * n_head * hd];
        let rows: Vec<(usize, usize)> = (0..t_len).map(|t| (0, t)).collect();
        attention(&pool, std::slice::from_ref(&cache), 0, &q, &rows, &mut out);

        // The cache keeps keys and values as f16 would; the reference gets the same inputs.
        let (kx, vx): (Vec<f32>, Vec<f32>) = (
            kx.iter().map(|&x| round_to_f16(x)).collect(),
            vx.iter().map(|&x| round_to_f16(x)).collect(),
        );
        let dev = Device::Cpu;
        let qt = Tensor::from_vec(q, (t_len, n_head, hd), &dev)
            .unwrap()
            .transpose(0, 1)
            .unwrap();
        let kt = Tensor::from_vec(kx, (t_len, n_kv, hd), &dev)
            .unwrap()
            .transpose(0, 1)
            .unwrap();
        let vt = Tensor::from_vec(vx, (t_len, n_kv, hd), &dev)
            .unwrap()
            .transpose(0, 1)
            .unwrap();
        let rep = |x: Tensor| {
            Tensor::cat(
                &(0..n_head)
                    .map(|h| x.narrow(0, h / (n_head / n_kv), 1).unwrap())
                    .collect::<Vec<_>>(),
                0,
            )
            .unwrap()
            .contiguous()
            .unwrap()
        };
        let (kt, vt) = (rep(kt), rep(vt));
        let scores = (qt.contiguous().unwrap().matmul(&kt.t().unwrap()).unwrap()
            / (hd as f64).sqrt())
        .unwrap();
        let mask: Vec<f32> = (0..t_len * t_len)
            .map(|i| {
                if i % t_len > i / t_len {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, (1, t_len, t_len), &dev).unwrap();
        let scores = scores.broadcast_add(&mask).unwrap();
        let max = scores.max_keepdim(D::Minus1).unwrap();
        let e = scores.broadcast_sub(&max).unwrap().exp().unwrap();
        let p = e.broadcast_div(&e.sum_keepdim(D::Minus1).unwrap()).unwrap();
        let expect: Vec<f32> = p
            .matmul(&vt)
            .unwrap()
            .transpose(0, 1)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for (a, b) in out.iter().zip(&expect) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }
}
