//! Quantized weight matrix × quantized activations, split over the pool by blocks of output
//! rows (and, for long prompts, of activation rows, so a tile of activations stays in cache
//! while a block of weight rows streams past it once). A prompt's task runs the kernels'
//! tiles (2 weight rows × 4 activation rows) over its block; a decode step the one-row
//! kernels. Q4_K, Q5_0 and Q8_0 regrouped by 16 rows take one kernel per format for both,
//! 16 rows × up to 4 activation rows a call.

use std::sync::Arc;

use super::arena::{WeightArena, WeightBytes};
use super::dot::{kernels, TILE, TILE_ACTS, TILE_ROWS};
use super::kquant::{quantize_q8k, KFormat, Q8K, QK_K};
use super::pool::OutPtr;
use super::pool::Pool;
use super::q32_x16::{self, Format32};
use super::q4k_x16::{self, GroupOut, ROWS};
use super::quant::{
    dequantize_row, quantize_acts, quantize_pairs, repack_q4_1_pairs, Q8Act, Q8Pair, QType, QK,
};

/// A row-major quantized matrix: `rows` outputs, each a dot product over `cols` inputs.
#[derive(Debug, Clone)]
pub struct QMatrix {
    pub qtype: QType,
    pub rows: usize,
    pub cols: usize,
    pub data: WeightBytes,
}

impl QMatrix {
    pub fn row(&self, r: usize) -> &[u8] {
        let rb = self.qtype.row_bytes(self.cols);
        &self.data[r * rb..(r + 1) * rb]
    }

    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        dequantize_row(self.qtype, &self.data, self.cols, r, out)
    }

    /// Stacks matrices with the same type and width into one (rows one after another), so that
    /// e.g. q/k/v run as one parallel op; `None` when they differ.
    pub fn stack(parts: &[&QMatrix]) -> Option<QMatrix> {
        let first = parts.first()?;
        if parts
            .iter()
            .any(|p| p.qtype != first.qtype || p.cols != first.cols)
        {
            return None;
        }
        let mut data = Vec::with_capacity(parts.iter().map(|p| p.data.len()).sum());
        for p in parts {
            data.extend_from_slice(&p.data);
        }
        Some(QMatrix {
            qtype: first.qtype,
            rows: parts.iter().map(|p| p.rows).sum(),
            cols: first.cols,
            data: data.into(),
        })
    }

    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// The same matrix with its bytes moved into `arena` (kept where they are if it is full).
    pub fn into_arena(self, arena: &Arc<WeightArena>) -> QMatrix {
        match arena.store(&self.data) {
            Some(data) => QMatrix { data, ..self },
            None => self,
        }
    }

    /// Q4_1 regrouped for the paired kernel when the width allows (a multiple of 64); the
    /// formats `grouped_where_faster` regroups by 16 rows; other types as they are.
    pub fn into_fast_layout(self) -> QMatrix {
        if self.qtype == QType::Q4_1 && self.cols.is_multiple_of(2 * QK) {
            QMatrix {
                qtype: QType::Q4_1x2,
                data: repack_q4_1_pairs(&self.data).into(),
                ..self
            }
        } else {
            self.grouped_where_faster()
        }
    }

    /// Q4_K, Q5_0 and Q8_0 regrouped by 16 rows where this CPU has the kernel for it
    /// (and the rows come in sixteens); other types as they are. Rows still dequantize one by
    /// one (`dequantize_row`), so this also serves an embedding table tied to the output.
    pub fn grouped_where_faster(self) -> QMatrix {
        if self.rows.is_multiple_of(ROWS) && kernels().regroups(self.qtype) {
            self.regrouped()
        } else {
            self
        }
    }

    /// A Q4_K, Q5_0 or Q8_0 matrix (rows in sixteens) regrouped by 16 rows (`q4k_x16`,
    /// `q32_x16`); other types as they are.
    pub fn regrouped(self) -> QMatrix {
        let (qtype, data) = match self.qtype {
            QType::K(KFormat::Q4K) => (
                QType::Q4Kx16,
                q4k_x16::interleave(&self.data, self.rows, self.cols),
            ),
            QType::Q5_0 | QType::Q8_0 => {
                let format = if self.qtype == QType::Q5_0 {
                    Format32::Q5_0
                } else {
                    Format32::Q8_0
                };
                let data = q32_x16::interleave(format, &self.data, self.rows, self.cols);
                (QType::Q32x16(format), data)
            }
            _ => return self,
        };
        QMatrix {
            qtype,
            data: data.into(),
            ..self
        }
    }
}

/// Activation rows quantized in the layouts the matrices about to use them need: Q8 blocks of
/// 32 (`std`), pairs of them (`pairs`, for `Q4_1x2`), `Q8K` super-blocks (`super_blocks`, for
/// the K-quants).
#[derive(Default)]
pub struct Acts {
    t_len: usize,
    cols: usize,
    std: Vec<Q8Act>,
    /// The integer sum of each `std` block, for the regrouped 32-weight formats.
    std_sums: Vec<i32>,
    pairs: Vec<Q8Pair>,
    super_blocks: Vec<Q8K>,
    has_std: bool,
    has_pairs: bool,
    has_super_blocks: bool,
}

impl Acts {
    /// Quantizes `t_len` rows `x` for multiplication by `mats`.
    pub fn prepare(&mut self, x: &[f32], t_len: usize, mats: &[&QMatrix]) {
        self.t_len = t_len;
        self.cols = x.len() / t_len.max(1);
        self.has_pairs = mats.iter().any(|m| m.qtype == QType::Q4_1x2);
        self.has_super_blocks = mats.iter().any(|m| m.qtype.block_len() == QK_K);
        self.has_std = mats
            .iter()
            .any(|m| m.qtype != QType::Q4_1x2 && m.qtype.block_len() != QK_K);
        if self.has_super_blocks {
            self.super_blocks.resize(x.len() / QK_K, Q8K::default());
            quantize_q8k(x, &mut self.super_blocks);
        }
        if self.has_pairs {
            self.pairs.resize(x.len() / (2 * QK), Q8Pair::default());
            quantize_pairs(x, &mut self.pairs);
        }
        if self.has_std {
            self.std.resize(x.len() / QK, Q8Act::default());
            quantize_acts(x, &mut self.std);
            if mats.iter().any(|m| matches!(m.qtype, QType::Q32x16(_))) {
                q32_x16::block_sums(&self.std, &mut self.std_sums);
            }
        }
    }

    pub fn t_len(&self) -> usize {
        self.t_len
    }
}

/// Activation rows per tile: 64 rows of a 1536-wide input are ~120 KB of Q8 blocks, which
/// stays in L2 while the weight rows stream past.
const T_TILE: usize = 64;

/// Bytes of weight rows per prompt task: what stays in L2 (512 KB and more on the CPUs
/// measured) beside the activations while the task's groups of activation rows pass them.
const TILE_WEIGHT_BYTES: usize = 192 * 1024;

/// `out[t * w.rows + r] = w.row(r) · x[t]` for every activation row in `acts` (prepared for
/// `w`).
pub fn matmul(pool: &Pool, w: &QMatrix, acts: &Acts, out: &mut [f32]) {
    let t_len = acts.t_len;
    assert_eq!(acts.cols, w.cols, "activation width");
    assert!(out.len() >= t_len * w.rows, "output too small");
    let paired = w.qtype == QType::Q4_1x2;
    let k_format = match w.qtype {
        QType::K(format) => Some(format),
        _ => None,
    };
    assert!(
        if paired {
            acts.has_pairs
        } else if w.qtype.block_len() == QK_K {
            acts.has_super_blocks
        } else {
            acts.has_std
        },
        "activations not prepared"
    );
    let k = kernels();
    let threads = pool.threads();
    let rb = w.qtype.row_bytes(w.cols);
    // Enough row blocks per thread that uneven finishing evens out.
    // (Multiples of 16, the rows of a regrouped matrix's group.)
    let mut row_block = (w.rows / (threads * 4)).clamp(16, 256).next_multiple_of(16);
    if t_len > TILE_ACTS {
        // A prompt's tiles (below) read a task's weight rows once per group of activation
        // rows.
        row_block = row_block.min((TILE_WEIGHT_BYTES / rb).max(16).next_multiple_of(16));
    }
    let row_blocks = w.rows.div_ceil(row_block);
    let t_blocks = t_len.div_ceil(T_TILE);
    let out_ptr = OutPtr(out.as_mut_ptr());
    let (nb, np, nk) = (w.cols / QK, w.cols / (2 * QK), w.cols / QK_K);
    let task = |i: usize| {
        let (rblk, tblk) = (i % row_blocks, i / row_blocks);
        let r0 = rblk * row_block;
        let r1 = (r0 + row_block).min(w.rows);
        let t0 = tblk * T_TILE;
        let t1 = (t0 + T_TILE).min(t_len);
        match w.qtype {
            QType::Q4Kx16 => {
                let gb = nk * q4k_x16::GROUP_BLOCK;
                row_groups(
                    w,
                    gb,
                    &acts.super_blocks,
                    nk,
                    (r0, r1),
                    (t0, t1),
                    out_ptr,
                    {
                        |group: &[u8], a: &[&[Q8K]], _, out: &mut GroupOut| {
                            k.dot_q4k_x16(group, a, out)
                        }
                    },
                );
                return;
            }
            QType::Q32x16(format) => {
                let gb = nb * format.group_block();
                row_groups(w, gb, &acts.std, nb, (r0, r1), (t0, t1), out_ptr, {
                    |group: &[u8], a: &[&[Q8Act]], t: usize, out: &mut GroupOut| {
                        let sums: [&[i32]; q4k_x16::MAX_ACTS] = std::array::from_fn(|j| {
                            &acts.std_sums[(t + j.min(a.len() - 1)) * nb..][..nb]
                        });
                        k.dot_q32_x16(format, group, a, &sums[..a.len()], out)
                    }
                });
                return;
            }
            _ => {}
        }
        if paired && t1 - t0 == 1 {
            // SAFETY: row t0's outputs r0..r1 are this task's alone.
            let o = unsafe {
                std::slice::from_raw_parts_mut(out_ptr.get().add(t0 * w.rows + r0), r1 - r0)
            };
            k.dot_pairs_rows(&w.data[r0 * rb..r1 * rb], &acts.pairs[t0 * np..][..np], o);
            return;
        }
        // A decode step of a few sequences keeps the one-row kernels, which measured faster
        // there (the weights stream once either way); prompts take the tiles.
        if t1 - t0 > TILE_ACTS && !paired {
            let span = ((r0, r1), (t0, t1));
            if let Some(format) = k_format {
                tiles(
                    w,
                    &acts.super_blocks,
                    nk,
                    span.0,
                    span.1,
                    out_ptr,
                    |w, a, o| k.dot_k_tile(format, w, a, o),
                    |w, a, o| k.dot_k(format, w, a, o),
                );
            } else {
                tiles(
                    w,
                    &acts.std,
                    nb,
                    span.0,
                    span.1,
                    out_ptr,
                    |w8, a, o| k.dot_tile(w.qtype, w8, a, o),
                    |w8, a, o| k.dot(w.qtype, w8, a, o),
                );
            }
            return;
        }
        let mut res = [0f32; 4];
        for r in r0..r1 {
            let wrow = &w.data[r * rb..(r + 1) * rb];
            let mut t = t0;
            while t < t1 {
                let n = (t1 - t).min(4);
                if paired {
                    let rows: [&[Q8Pair]; 4] =
                        std::array::from_fn(|j| &acts.pairs[(t + j.min(n - 1)) * np..][..np]);
                    k.dot_pairs(wrow, &rows[..n], &mut res);
                } else if let Some(format) = k_format {
                    let rows: [&[Q8K]; 4] = std::array::from_fn(|j| {
                        &acts.super_blocks[(t + j.min(n - 1)) * nk..][..nk]
                    });
                    k.dot_k(format, wrow, &rows[..n], &mut res);
                } else {
                    let rows: [&[Q8Act]; 4] =
                        std::array::from_fn(|j| &acts.std[(t + j.min(n - 1)) * nb..][..nb]);
                    k.dot(w.qtype, wrow, &rows[..n], &mut res);
                }
                for (j, v) in res.iter().enumerate().take(n) {
                    // SAFETY: (t + j, r) is written by this task only, and is in bounds.
                    unsafe { *out_ptr.get().add((t + j) * w.rows + r) = *v };
                }
                t += n;
            }
        }
    };
    pool.run(row_blocks * t_blocks, &task);
}

/// Rows `r0..r1` (in sixteens) of a regrouped matrix `w` (groups of `gb` bytes) times
/// activation rows `t0..t1` (each `per_row` of `blocks`), by `dot` (a group, up to four
/// activation rows from row `t`, the outputs): each group of activation rows stays in L1
/// while the groups of weight rows pass it.
#[allow(clippy::too_many_arguments)]
fn row_groups<A>(
    w: &QMatrix,
    gb: usize,
    blocks: &[A],
    per_row: usize,
    (r0, r1): (usize, usize),
    (t0, t1): (usize, usize),
    out: OutPtr,
    dot: impl Fn(&[u8], &[&[A]], usize, &mut GroupOut),
) {
    let mut res: GroupOut = Default::default();
    let mut t = t0;
    while t < t1 {
        let n = (t1 - t).min(q4k_x16::MAX_ACTS);
        let a: [&[A]; q4k_x16::MAX_ACTS] =
            std::array::from_fn(|j| &blocks[(t + j.min(n - 1)) * per_row..][..per_row]);
        for r in (r0..r1).step_by(ROWS) {
            let g = r / ROWS;
            dot(&w.data[g * gb..(g + 1) * gb], &a[..n], t, &mut res);
            for (j, o) in res.iter().enumerate().take(n) {
                // SAFETY: rows r..r + 16 of activation row t + j are this task's alone, and
                // in bounds.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        o.as_ptr(),
                        out.get().add((t + j) * w.rows + r),
                        ROWS,
                    )
                };
            }
        }
        t += n;
    }
}

/// Rows `r0..r1` of `w` times activation rows `t0..t1` (each `per_row` of `blocks`), by tiles
/// of `TILE_ROWS` × `TILE_ACTS` (`tile`); a short last group of activations repeats its last
/// row, an odd last weight row takes the one-row kernel (`row`).
#[allow(clippy::too_many_arguments)]
fn tiles<A>(
    w: &QMatrix,
    blocks: &[A],
    per_row: usize,
    (r0, r1): (usize, usize),
    (t0, t1): (usize, usize),
    out: OutPtr,
    tile: impl Fn(&[u8], &[&[A]; TILE_ACTS], &mut [f32; TILE]),
    row: impl Fn(&[u8], &[&[A]], &mut [f32]),
) {
    let rb = w.qtype.row_bytes(w.cols);
    let mut res = [0f32; TILE];
    // Activation groups outside, weight rows inside: a group (a few KB) stays in L1 while the
    // task's weight rows (sized to stay in L2) pass it, each row read once per group.
    let mut t = t0;
    while t < t1 {
        let n = (t1 - t).min(TILE_ACTS);
        let a: [&[A]; TILE_ACTS] =
            std::array::from_fn(|j| &blocks[(t + j.min(n - 1)) * per_row..][..per_row]);
        let mut r = r0;
        while r < r1 {
            let rows_here = if r + TILE_ROWS <= r1 { TILE_ROWS } else { 1 };
            let wrows = &w.data[r * rb..(r + rows_here) * rb];
            if rows_here == TILE_ROWS {
                tile(wrows, &a, &mut res);
            } else {
                row(wrows, &a[..n], &mut res[..n]);
            }
            for i in 0..rows_here {
                for j in 0..n {
                    // SAFETY: (t + j, r + i) is written by this task only, and is in bounds.
                    unsafe { *out.get().add((t + j) * w.rows + r + i) = res[i * TILE_ACTS + j] };
                }
            }
            r += rows_here;
        }
        t += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
    use candle_core::{Device, Module, Tensor};

    /// Against candle's QMatMul (its own Q8 activation path) on random weights, for the
    /// 32-weight formats (128 wide) and the K-quants (512 wide).
    #[test]
    fn matches_candle_qmatmul() {
        for (cols, types) in [
            (
                128,
                &[
                    (GgmlDType::Q4_0, QType::Q4_0),
                    (GgmlDType::Q4_1, QType::Q4_1),
                    (GgmlDType::Q5_0, QType::Q5_0),
                    (GgmlDType::Q5_1, QType::Q5_1),
                    (GgmlDType::Q8_0, QType::Q8_0),
                ][..],
            ),
            (
                512,
                &[
                    (GgmlDType::Q4K, QType::K(KFormat::Q4K)),
                    (GgmlDType::Q5K, QType::K(KFormat::Q5K)),
                    (GgmlDType::Q6K, QType::K(KFormat::Q6K)),
                ][..],
            ),
        ] {
            matches_candle_for(cols, types);
        }
    }

    fn matches_candle_for(cols: usize, types: &[(GgmlDType, QType)]) {
        // 71 rows: an odd last weight row beside the tiles; 48: three groups of 16 (Q4_K
        // regrouped); 9 activation rows: a short last group.
        for rows in [71, 48] {
            matches_candle_shape(cols, rows, 9, types);
        }
    }

    fn matches_candle_shape(cols: usize, rows: usize, t_len: usize, types: &[(GgmlDType, QType)]) {
        let wf: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.3)
            .collect();
        let xf: Vec<f32> = (0..t_len * cols)
            .map(|i| (i * 104729 % 997) as f32 / 498.0 - 1.0)
            .collect();
        let pool = Pool::new(2);
        for &(dtype, qtype) in types {
            let w = Tensor::from_vec(wf.clone(), (rows, cols), &Device::Cpu).unwrap();
            let qt = QTensor::quantize(&w, dtype).unwrap();
            let m = QMatrix {
                qtype,
                rows,
                cols,
                data: qt.data().unwrap().into_owned().into(),
            };
            let fast = if rows.is_multiple_of(16) {
                m.clone().regrouped()
            } else {
                m.clone().into_fast_layout()
            };
            let x = Tensor::from_vec(xf.clone(), (t_len, cols), &Device::Cpu).unwrap();
            let expect: Vec<f32> = QMatMul::from_qtensor(qt)
                .unwrap()
                .forward(&x)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            for m in [&m, &fast] {
                let mut acts = Acts::default();
                acts.prepare(&xf, t_len, &[m]);
                let mut out = vec![0f32; t_len * rows];
                matmul(&pool, m, &acts, &mut out);
                for (a, b) in out.iter().zip(&expect) {
                    assert!(
                        (a - b).abs() < 0.02 + 0.01 * b.abs(),
                        "{:?}: {a} vs {b}",
                        m.qtype
                    );
                }
            }
        }
    }
}
