//! Dot products of one quantized weight row with up to four Q8 activation rows (the weight
//! block is unpacked once and reused across them: decode, one row per sequence), tiles of
//! `TILE_ROWS` weight rows × `TILE_ACTS` activation rows for prompts (each weight block
//! unpacked once for the tile's activation rows and each activation block read once for its
//! weight rows, on the file's own layout, so no repacked copy of the weights), one
//! attention head over the f16 KV cache, and SwiGLU's activation. A portable scalar version of
//! each is the reference; an AVX2+FMA+F16C version (and one using AVX-512 VNNI's u8×i8 sums) is
//! picked at run time with `is_x86_feature_detected!`, so a plain `cargo build --release` gets
//! it without RUSTFLAGS; `CLERK_KERNELS=avx2|scalar` asks for less. The K-quant kernels are in
//! `x86_kquants`; the kernels for Q4_K, Q5_0 and Q8_0 regrouped by 16 rows (`q4k_x16`,
//! `q32_x16`), which only the AVX-512 VNNI set has (elsewhere matrices keep the file's
//! layout), in `x86_q4k_x16` and `x86_q32_x16`.

use std::sync::OnceLock;

use super::kquant::{dot_block, KFormat, Q8K};
use super::q32_x16::{self, Format32};
use super::q4k_x16::{dot_group, GroupOut, GROUP_BLOCK, MAX_ACTS};
use super::quant::{f16_to_f32, q5_values, read_f16, Q8Act, Q8Pair, QType, QK};

/// Weight row `w` (bytes of `nb` blocks) against activation rows `a` (each `nb` blocks).
pub type DotFn = unsafe fn(w: &[u8], a: &[&[Q8Act]], out: &mut [f32]);
/// The same for a K-quant row (`nb` super-blocks) and `Q8K` activation rows.
pub type KDotFn = unsafe fn(w: &[u8], a: &[&[Q8K]], out: &mut [f32]);
/// Weight rows per tile of `dot_tile` and `dot_k_tile`.
pub const TILE_ROWS: usize = 2;
/// Activation rows per tile of `dot_tile` and `dot_k_tile`.
pub const TILE_ACTS: usize = 4;
/// Products per tile.
pub const TILE: usize = TILE_ROWS * TILE_ACTS;
/// `TILE_ROWS` consecutive weight rows of a 32-weight format (`w`, each `w.len() / TILE_ROWS`
/// bytes) against `TILE_ACTS` activation rows: `out[i * TILE_ACTS + j]` = row i · a[j].
pub type TileFn = unsafe fn(w: &[u8], a: &[&[Q8Act]; TILE_ACTS], out: &mut [f32; TILE]);
/// `TILE_ROWS` consecutive K-quant weight rows (`w`, each `w.len() / TILE_ROWS` bytes) against
/// `TILE_ACTS` `Q8K` activation rows: `out[i * TILE_ACTS + j]` = row i · a[j].
pub type KTileFn = unsafe fn(w: &[u8], a: &[&[Q8K]; TILE_ACTS], out: &mut [f32; TILE]);
/// One group of 16 `Q4Kx16` rows against up to `q4k_x16::MAX_ACTS` `Q8K` activation rows.
pub type GroupDotFn = unsafe fn(w: &[u8], a: &[&[Q8K]], out: &mut GroupOut);
/// The same for a regrouped 32-weight format (`q32_x16`) and `Q8Act` rows with their blocks'
/// integer sums.
pub type Group32DotFn = unsafe fn(w: &[u8], a: &[&[Q8Act]], sums: &[&[i32]], out: &mut GroupOut);
/// The same for `Q4_1x2` weights and paired activations.
pub type PairDotFn = unsafe fn(w: &[u8], a: &[&[Q8Pair]], out: &mut [f32]);
/// Consecutive `Q4_1x2` weight rows (`w`, `out.len()` rows) against one activation row.
pub type PairRowsFn = unsafe fn(w: &[u8], a: &[Q8Pair], out: &mut [f32]);
type SiluMulFn = unsafe fn(gate: &[f32], up: &[f32], out: &mut [f32]);
/// One query head against `keys`/`values` (positions × head dim, IEEE f16 bits):
/// softmax(q·k · scale)·v.
pub type HeadFn = unsafe fn(
    q: &[f32],
    keys: &[u16],
    values: &[u16],
    scale: f32,
    scores: &mut Vec<f32>,
    out: &mut [f32],
);

/// The kernels chosen for this CPU.
pub struct Kernels {
    pub name: &'static str,
    q4_0: DotFn,
    q4_1: DotFn,
    q5_0: DotFn,
    q5_1: DotFn,
    q8_0: DotFn,
    q4_0_tile: TileFn,
    q4_1_tile: TileFn,
    q5_0_tile: TileFn,
    q5_1_tile: TileFn,
    q8_0_tile: TileFn,
    q4k: KDotFn,
    q5k: KDotFn,
    q6k: KDotFn,
    q4k_tile: KTileFn,
    q5k_tile: KTileFn,
    q6k_tile: KTileFn,
    /// The kernel for Q4_K regrouped by 16 rows, on CPUs where it beats the file's layout
    /// (the matrices are regrouped at load only then).
    q4k_x16: Option<GroupDotFn>,
    q5_0_x16: Option<Group32DotFn>,
    q8_0_x16: Option<Group32DotFn>,
    q4_1x2: PairDotFn,
    q4_1x2_rows: PairRowsFn,
    head: HeadFn,
    silu_mul: SiluMulFn,
}

impl Kernels {
    /// Fills `out[i]` with the dot product of weight row `w` and activation row `a[i]`;
    /// `a.len() <= 4`, every row as long as `w`.
    #[inline]
    pub fn dot(&self, qtype: QType, w: &[u8], a: &[&[Q8Act]], out: &mut [f32]) {
        debug_assert!(a.len() <= 4 && out.len() >= a.len());
        debug_assert!(a.iter().all(|r| r.len() * qtype.block_bytes() == w.len()));
        let f = match qtype {
            QType::Q4_0 => self.q4_0,
            QType::Q4_1 => self.q4_1,
            QType::Q5_0 => self.q5_0,
            QType::Q5_1 => self.q5_1,
            QType::Q8_0 => self.q8_0,
            QType::Q4_1x2 => panic!("Q4_1x2 weights take paired activations (dot_pairs)"),
            QType::K(_) => panic!("K-quant weights take Q8K activations (dot_k)"),
            QType::Q4Kx16 | QType::Q32x16(_) => panic!("regrouped weights go by groups of rows"),
        };
        // SAFETY: the function was chosen for features this CPU has, and the lengths above are
        // what it reads.
        unsafe { f(w, a, out) }
    }

    /// `dot` for a K-quant weight row and `Q8K` activation rows (one block per super-block).
    #[inline]
    pub fn dot_k(&self, format: KFormat, w: &[u8], a: &[&[Q8K]], out: &mut [f32]) {
        debug_assert!(a.len() <= 4 && out.len() >= a.len());
        debug_assert!(a.iter().all(|r| r.len() * format.block_bytes() == w.len()));
        let f = match format {
            KFormat::Q4K => self.q4k,
            KFormat::Q5K => self.q5k,
            KFormat::Q6K => self.q6k,
        };
        // SAFETY: as in `dot`.
        unsafe { f(w, a, out) }
    }

    /// A prompt's tile: `TILE_ROWS` consecutive rows of a 32-weight format (`w`) against
    /// `TILE_ACTS` activation rows, `out[i * TILE_ACTS + j]` = row i · a[j]; the same sums as
    /// `dot`.
    #[inline]
    pub fn dot_tile(
        &self,
        qtype: QType,
        w: &[u8],
        a: &[&[Q8Act]; TILE_ACTS],
        out: &mut [f32; TILE],
    ) {
        assert!(a
            .iter()
            .all(|r| r.len() * qtype.block_bytes() * TILE_ROWS == w.len()));
        let f = match qtype {
            QType::Q4_0 => self.q4_0_tile,
            QType::Q4_1 => self.q4_1_tile,
            QType::Q5_0 => self.q5_0_tile,
            QType::Q5_1 => self.q5_1_tile,
            QType::Q8_0 => self.q8_0_tile,
            QType::Q4_1x2 => panic!("Q4_1x2 weights take paired activations (dot_pairs)"),
            QType::K(_) => panic!("K-quant weights take Q8K activations (dot_k_tile)"),
            QType::Q4Kx16 | QType::Q32x16(_) => panic!("regrouped weights go by groups of rows"),
        };
        // SAFETY: as in `dot`.
        unsafe { f(w, a, out) }
    }

    /// A prompt's tile: `TILE_ROWS` consecutive K-quant rows (`w`) against `TILE_ACTS`
    /// activation rows, `out[i * TILE_ACTS + j]` = row i · a[j]; the same sums as `dot_k`.
    #[inline]
    pub fn dot_k_tile(
        &self,
        format: KFormat,
        w: &[u8],
        a: &[&[Q8K]; TILE_ACTS],
        out: &mut [f32; TILE],
    ) {
        assert!(a
            .iter()
            .all(|r| r.len() * format.block_bytes() * TILE_ROWS == w.len()));
        let f = match format {
            KFormat::Q4K => self.q4k_tile,
            KFormat::Q5K => self.q5k_tile,
            KFormat::Q6K => self.q6k_tile,
        };
        // SAFETY: as in `dot`.
        unsafe { f(w, a, out) }
    }

    /// Whether `qtype` matrices are worth regrouping by 16 rows here (`dot_q4k_x16`,
    /// `dot_q32_x16`).
    pub fn regroups(&self, qtype: QType) -> bool {
        match qtype {
            QType::K(KFormat::Q4K) => self.q4k_x16.is_some(),
            QType::Q5_0 => self.q5_0_x16.is_some(),
            QType::Q8_0 => self.q8_0_x16.is_some(),
            _ => false,
        }
    }

    /// One group of 16 rows of a regrouped 32-weight format (`w`, `cols / QK` blocks) against
    /// `a.len()` (1..=4) activation rows and their blocks' sums: `out[j][r]` = row r · a[j].
    /// Where this CPU has no kernel for it, the portable one.
    #[inline]
    pub fn dot_q32_x16(
        &self,
        format: Format32,
        w: &[u8],
        a: &[&[Q8Act]],
        sums: &[&[i32]],
        out: &mut GroupOut,
    ) {
        assert!((1..=MAX_ACTS).contains(&a.len()) && sums.len() == a.len());
        assert!(a
            .iter()
            .zip(sums)
            .all(|(r, s)| r.len() * format.group_block() == w.len() && s.len() == r.len()));
        let f = match format {
            Format32::Q5_0 => self.q5_0_x16,
            Format32::Q8_0 => self.q8_0_x16,
        };
        match f {
            // SAFETY: as in `dot`.
            Some(f) => unsafe { f(w, a, sums, out) },
            None => q32_x16::dot_group(format, w, a, sums, out),
        }
    }

    /// One group of 16 `Q4Kx16` rows (`w`, `cols / QK_K` blocks) against `a.len()` (1..=4)
    /// `Q8K` activation rows: `out[j][r]` = row r · a[j]. Where this CPU has no kernel for it,
    /// the portable one.
    #[inline]
    pub fn dot_q4k_x16(&self, w: &[u8], a: &[&[Q8K]], out: &mut GroupOut) {
        assert!((1..=MAX_ACTS).contains(&a.len()));
        assert!(a.iter().all(|r| r.len() * GROUP_BLOCK == w.len()));
        match self.q4k_x16 {
            // SAFETY: as in `dot`.
            Some(f) => unsafe { f(w, a, out) },
            None => dot_group(w, a, out),
        }
    }

    /// `dot` for `Q4_1x2` weights: `a` rows of `Q8Pair`s (each row half as many as blocks).
    #[inline]
    pub fn dot_pairs(&self, w: &[u8], a: &[&[Q8Pair]], out: &mut [f32]) {
        debug_assert!(a.len() <= 4 && out.len() >= a.len());
        debug_assert!(a.iter().all(|r| r.len() * 40 == w.len()));
        // SAFETY: as in `dot`.
        unsafe { (self.q4_1x2)(w, a, out) }
    }

    /// Each of the `out.len()` consecutive `Q4_1x2` rows in `w` against activation row `a`
    /// (the decode case: one kernel call for a block of rows, weight rows interleaved for
    /// independent accumulators).
    #[inline]
    pub fn dot_pairs_rows(&self, w: &[u8], a: &[Q8Pair], out: &mut [f32]) {
        assert_eq!(w.len(), out.len() * a.len() * 40);
        // SAFETY: as in `dot`.
        unsafe { (self.q4_1x2_rows)(w, a, out) }
    }

    /// Attention of one query head over the cached positions in `keys`/`values` (rows of
    /// `q.len()` f16 values), written to `out`; `scores` is scratch.
    #[inline]
    pub fn attend(
        &self,
        q: &[f32],
        keys: &[u16],
        values: &[u16],
        scale: f32,
        scores: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        assert!(keys.len() == values.len() && out.len() == q.len() && !q.is_empty());
        assert!(keys.len().is_multiple_of(q.len()) && !keys.is_empty());
        // SAFETY: as above; the lengths are consistent.
        unsafe { (self.head)(q, keys, values, scale, scores, out) }
    }

    /// `out = silu(gate) * up`, the SwiGLU feed-forward's activation.
    #[inline]
    pub fn silu_mul(&self, gate: &[f32], up: &[f32], out: &mut [f32]) {
        assert!(gate.len() == up.len() && out.len() == up.len());
        // SAFETY: as above.
        unsafe { (self.silu_mul)(gate, up, out) }
    }
}

/// The portable kernels (the reference the SIMD ones are tested against).
pub static SCALAR: Kernels = Kernels {
    name: "scalar",
    q4_0: scalar::q4_0,
    q4_1: scalar::q4_1,
    q5_0: scalar::q5_0,
    q5_1: scalar::q5_1,
    q8_0: scalar::q8_0,
    q4_0_tile: scalar::q4_0_tile,
    q4_1_tile: scalar::q4_1_tile,
    q5_0_tile: scalar::q5_0_tile,
    q5_1_tile: scalar::q5_1_tile,
    q8_0_tile: scalar::q8_0_tile,
    q4k: scalar::q4k,
    q5k: scalar::q5k,
    q6k: scalar::q6k,
    q4k_tile: scalar::q4k_tile,
    q5k_tile: scalar::q5k_tile,
    q6k_tile: scalar::q6k_tile,
    q4k_x16: None,
    q5_0_x16: None,
    q8_0_x16: None,
    q4_1x2: scalar::q4_1x2,
    q4_1x2_rows: scalar::q4_1x2_rows,
    head: scalar::head,
    silu_mul: scalar::silu_mul,
};

/// The best kernels this CPU runs.
pub fn kernels() -> &'static Kernels {
    static BEST: OnceLock<&'static Kernels> = OnceLock::new();
    BEST.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            let choice = std::env::var("CLERK_KERNELS").unwrap_or_default();
            if choice != "scalar" && choice != "avx2" && x86::vnni_available() {
                return &x86::VNNI;
            }
            if choice != "scalar" && x86::available() {
                return &x86::AVX2;
            }
        }
        &SCALAR
    })
}

mod scalar {
    use super::*;

    fn for_rows(a: &[&[Q8Act]], out: &mut [f32], mut one: impl FnMut(&[Q8Act]) -> f32) {
        for (o, row) in out.iter_mut().zip(a) {
            *o = one(row);
        }
    }

    pub unsafe fn q4_0(w: &[u8], a: &[&[Q8Act]], out: &mut [f32]) {
        for_rows(a, out, |row| {
            let mut sum = 0f32;
            for (blk, ab) in w.chunks_exact(18).zip(row) {
                let d = read_f16(blk, 0);
                let acc = nibble_dot(&blk[2..2 + QK / 2], &ab.qs);
                sum += d * (ab.d * acc as f32 - 8.0 * ab.s);
            }
            sum
        })
    }

    /// Unsigned 4-bit weights (low nibbles first, then high) against one Q8 block.
    fn nibble_dot(packed: &[u8], qs: &[i8]) -> i32 {
        let (low, high) = qs.split_at(QK / 2);
        packed
            .iter()
            .zip(low.iter().zip(high))
            .map(|(&q, (&l, &h))| (q & 0x0f) as i32 * l as i32 + (q >> 4) as i32 * h as i32)
            .sum()
    }

    pub unsafe fn q4_1(w: &[u8], a: &[&[Q8Act]], out: &mut [f32]) {
        for_rows(a, out, |row| {
            let mut sum = 0f32;
            for (blk, ab) in w.chunks_exact(20).zip(row) {
                let d = read_f16(blk, 0);
                let m = read_f16(blk, 2);
                let acc = nibble_dot(&blk[4..4 + QK / 2], &ab.qs);
                sum += d * ab.d * acc as f32 + m * ab.s;
            }
            sum
        })
    }

    /// Σ q·a of one 5-bit block's values, less `offset` per weight (16 for Q5_0, 0 for Q5_1).
    fn q5_dot(qh_qs: &[u8], qs: &[i8], offset: i32) -> i32 {
        q5_values(qh_qs)
            .iter()
            .zip(qs)
            .map(|(&q, &a)| (q as i32 - offset) * a as i32)
            .sum()
    }

    pub unsafe fn q5_0(w: &[u8], a: &[&[Q8Act]], out: &mut [f32]) {
        for_rows(a, out, |row| {
            let mut sum = 0f32;
            for (blk, ab) in w.chunks_exact(22).zip(row) {
                sum += read_f16(blk, 0) * ab.d * q5_dot(&blk[2..], &ab.qs, 16) as f32;
            }
            sum
        })
    }

    pub unsafe fn q5_1(w: &[u8], a: &[&[Q8Act]], out: &mut [f32]) {
        for_rows(a, out, |row| {
            let mut sum = 0f32;
            for (blk, ab) in w.chunks_exact(24).zip(row) {
                let (d, m) = (read_f16(blk, 0), read_f16(blk, 2));
                sum += d * ab.d * q5_dot(&blk[4..], &ab.qs, 0) as f32 + m * ab.s;
            }
            sum
        })
    }

    fn k_rows(format: KFormat, w: &[u8], a: &[&[Q8K]], out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(a) {
            *o = w
                .chunks_exact(format.block_bytes())
                .zip(row.iter())
                .map(|(b, ab)| dot_block(format, b, ab))
                .sum();
        }
    }

    pub unsafe fn q4k(w: &[u8], a: &[&[Q8K]], out: &mut [f32]) {
        k_rows(KFormat::Q4K, w, a, out)
    }

    pub unsafe fn q5k(w: &[u8], a: &[&[Q8K]], out: &mut [f32]) {
        k_rows(KFormat::Q5K, w, a, out)
    }

    pub unsafe fn q6k(w: &[u8], a: &[&[Q8K]], out: &mut [f32]) {
        k_rows(KFormat::Q6K, w, a, out)
    }

    /// A tile as `TILE_ROWS` separate rows, each by `row_dot` (a one-row scalar kernel).
    fn tile<A>(
        row_dot: impl Fn(&[u8], &[&[A]], &mut [f32]),
        w: &[u8],
        a: &[&[A]; TILE_ACTS],
        out: &mut [f32; TILE],
    ) {
        for (row, o) in w
            .chunks_exact(w.len() / TILE_ROWS)
            .zip(out.chunks_exact_mut(TILE_ACTS))
        {
            row_dot(row, a, o);
        }
    }

    pub unsafe fn q4_0_tile(w: &[u8], a: &[&[Q8Act]; TILE_ACTS], out: &mut [f32; TILE]) {
        // SAFETY: the scalar kernels have no requirement beyond the lengths.
        tile(|w, a, o| unsafe { q4_0(w, a, o) }, w, a, out)
    }

    pub unsafe fn q4_1_tile(w: &[u8], a: &[&[Q8Act]; TILE_ACTS], out: &mut [f32; TILE]) {
        // SAFETY: the scalar kernels have no requirement beyond the lengths.
        tile(|w, a, o| unsafe { q4_1(w, a, o) }, w, a, out)
    }

    pub unsafe fn q5_0_tile(w: &[u8], a: &[&[Q8Act]; TILE_ACTS], out: &mut [f32; TILE]) {
        // SAFETY: the scalar kernels have no requirement beyond the lengths.
        tile(|w, a, o| unsafe { q5_0(w, a, o) }, w, a, out)
    }

    pub unsafe fn q5_1_tile(w: &[u8], a: &[&[Q8Act]; TILE_ACTS], out: &mut [f32; TILE]) {
        // SAFETY: the scalar kernels have no requirement beyond the lengths.
        tile(|w, a, o| unsafe { q5_1(w, a, o) }, w, a, out)
    }

    pub unsafe fn q8_0_tile(w: &[u8], a: &[&[Q8Act]; TILE_ACTS], out: &mut [f32; TILE]) {
        // SAFETY: the scalar kernels have no requirement beyond the lengths.
        tile(|w, a, o| unsafe { q8_0(w, a, o) }, w, a, out)
    }

    pub unsafe fn q4k_tile(w: &[u8], a: &[&[Q8K]; TILE_ACTS], out: &mut [f32; TILE]) {
        tile(|w, a, o| k_rows(KFormat::Q4K, w, a, o), w, a, out)
    }

    pub unsafe fn q5k_tile(w: &[u8], a: &[&[Q8K]; TILE_ACTS], out: &mut [f32; TILE]) {
        tile(|w, a, o| k_rows(KFormat::Q5K, w, a, o), w, a, out)
    }

    pub unsafe fn q6k_tile(w: &[u8], a: &[&[Q8K]; TILE_ACTS], out: &mut [f32; TILE]) {
        tile(|w, a, o| k_rows(KFormat::Q6K, w, a, o), w, a, out)
    }

    pub unsafe fn q8_0(w: &[u8], a: &[&[Q8Act]], out: &mut [f32]) {
        for_rows(a, out, |row| {
            let mut sum = 0f32;
            for (blk, ab) in w.chunks_exact(34).zip(row) {
                let d = read_f16(blk, 0);
                let acc: i32 = (0..QK)
                    .map(|j| blk[2 + j] as i8 as i32 * ab.qs[j] as i32)
                    .sum();
                sum += d * ab.d * acc as f32;
            }
            sum
        })
    }

    pub unsafe fn q4_1x2(w: &[u8], a: &[&[Q8Pair]], out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(a) {
            let mut sum = 0f32;
            for (pair, ap) in w.chunks_exact(40).zip(row.iter()) {
                for k in 0..2 {
                    let (d, m) = (read_f16(pair, 2 * k), read_f16(pair, 4 + 2 * k));
                    let qs = &pair[8 + 16 * k..24 + 16 * k];
                    let (lo, hi) = (&ap.lo[16 * k..16 * k + 16], &ap.hi[16 * k..16 * k + 16]);
                    let mut acc = 0i32;
                    for ((q, l), h) in qs.iter().zip(lo).zip(hi) {
                        acc += (q & 0x0f) as i32 * *l as i32 + (q >> 4) as i32 * *h as i32;
                    }
                    sum += d * ap.ds[k] * acc as f32 + m * ap.ds[2 + k];
                }
            }
            *o = sum;
        }
    }

    pub unsafe fn q4_1x2_rows(w: &[u8], a: &[Q8Pair], out: &mut [f32]) {
        let rb = a.len() * 40;
        for (r, o) in out.iter_mut().enumerate() {
            q4_1x2(&w[r * rb..(r + 1) * rb], &[a], std::slice::from_mut(o));
        }
    }

    pub unsafe fn silu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) {
        for ((o, g), u) in out.iter_mut().zip(gate).zip(up) {
            *o = g / (1.0 + (-g).exp()) * u;
        }
    }

    pub unsafe fn head(
        q: &[f32],
        keys: &[u16],
        values: &[u16],
        scale: f32,
        s: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        let hd = q.len();
        s.clear();
        s.extend(keys.chunks_exact(hd).map(|k| {
            k.iter()
                .zip(q)
                .map(|(&k, q)| f16_to_f32(k) * q)
                .sum::<f32>()
                * scale
        }));
        let max = s.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let mut sum = 0f32;
        for v in s.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        out.fill(0.0);
        for (p, v) in s.iter().zip(values.chunks_exact(hd)) {
            for (o, &v) in out.iter_mut().zip(v) {
                *o += p / sum * f16_to_f32(v);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
mod x86_kquants;
#[cfg(target_arch = "x86_64")]
mod x86_q32_x16;
#[cfg(target_arch = "x86_64")]
mod x86_q4k_x16;

#[cfg(test)]
mod tests;
