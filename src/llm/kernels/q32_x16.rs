//! Q5_0 and Q8_0 regrouped at load by 16 rows (`Q5_0x16`, `Q8_0x16`), for CPUs with AVX-512
//! VNNI, as `q4k_x16` does for Q4_K: a 64-byte register holds four weights of each of 16 rows,
//! unsigned, and `vpdpbusd` adds their products with four activations broadcast into the
//! rows' lanes, so the 16 outputs leave the kernel in one register.
//!
//! A group of 16 rows is `cols / QK` blocks, one per 32 weights: the rows' d (f16, 32 bytes),
//! then the weights as unsigned values less a fixed offset (16 for Q5_0's `q - 16`, 128 for
//! Q8_0's signed bytes, stored with the sign bit flipped), four weights of row `r` at bytes
//! `4r..4r + 4` of each register's worth:
//! - Q5_0 (352 bytes, the file's 16 × 22): eight 64-bit masks, mask `k` holding at bit
//!   `4r + i` the fifth bit of weight `4k + i` of row `r`, then four chunks of 64 bytes, chunk
//!   `c` holding weight `4c + i` in the low nibble of byte `4r + i` and weight `16 + 4c + i` in
//!   the high one;
//! - Q8_0 (544 bytes, the file's 16 × 34): eight registers of 64 bytes, register `k` holding
//!   weight `4k + i` of row `r` at byte `4r + i`.
//!
//! The offset is taken off through the activation block's integer sum (`Acts` keeps one per
//! block for these formats). Every kernel takes the same steps per output and block:
//! `isum = Σ u·a - offset·Σa`, exact, then `acc += isum·(d·d_a)` as one fused multiply-add; so
//! the SIMD kernel equals the scalar reference bit for bit.

use super::q4k_x16::{regroup, GroupOut, ROWS};
use super::quant::{q5_values, read_f16, Q8Act, QK};

/// The two regrouped 32-weight formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format32 {
    Q5_0,
    Q8_0,
}

/// Where a block's weights start (after the 16 f16 scales).
pub const WEIGHTS: usize = 32;
/// Q5_0: where the nibbles start, after the eight masks.
pub const Q5_NIBBLES: usize = WEIGHTS + 64;

impl Format32 {
    /// Bytes of one block of a group of 16 rows.
    pub const fn group_block(self) -> usize {
        match self {
            Format32::Q5_0 => 352,
            Format32::Q8_0 => 544,
        }
    }

    /// Bytes of one block of the file's row.
    const fn file_block(self) -> usize {
        match self {
            Format32::Q5_0 => 22,
            Format32::Q8_0 => 34,
        }
    }

    /// What the stored unsigned weights are above the format's own.
    pub const fn offset(self) -> i32 {
        match self {
            Format32::Q5_0 => 16,
            Format32::Q8_0 => 128,
        }
    }

    /// The 32 unsigned weights of one of the file's blocks (`file_block` bytes).
    fn unsigned(self, blk: &[u8]) -> [u8; QK] {
        match self {
            Format32::Q5_0 => q5_values(&blk[2..]),
            Format32::Q8_0 => std::array::from_fn(|i| blk[2 + i] ^ 0x80),
        }
    }

    /// Unsigned weight `i` (0..32) of row `r` of a group's block.
    fn weight(self, blk: &[u8], r: usize, i: usize) -> u8 {
        let (k, at) = (i / 4, 4 * r + i % 4);
        match self {
            Format32::Q5_0 => {
                let mask = u64::from_le_bytes(blk[WEIGHTS + 8 * k..][..8].try_into().unwrap());
                let byte = blk[Q5_NIBBLES + 64 * (k % 4) + at];
                let nibble = if k < 4 { byte & 0x0f } else { byte >> 4 };
                nibble | (((mask >> at) & 1) as u8) << 4
            }
            Format32::Q8_0 => blk[WEIGHTS + 64 * k + at],
        }
    }
}

/// Regroups a `format` matrix (`rows` a multiple of 16, the file's bytes).
pub fn interleave(format: Format32, data: &[u8], rows: usize, cols: usize) -> Vec<u8> {
    assert!(cols.is_multiple_of(QK));
    let sizes = (format.file_block(), format.group_block());
    regroup(data, rows, cols / QK, sizes, |blk, r, src| {
        blk[2 * r..2 * r + 2].copy_from_slice(&src[0..2]);
        let u = format.unsigned(src);
        for (i, &v) in u.iter().enumerate() {
            let (k, at) = (i / 4, 4 * r + i % 4);
            match format {
                Format32::Q5_0 => {
                    let m = WEIGHTS + 8 * k + at / 8;
                    blk[m] |= ((v >> 4) & 1) << (at % 8);
                    let shift = if k < 4 { 0 } else { 4 };
                    blk[Q5_NIBBLES + 64 * (k % 4) + at] |= (v & 0x0f) << shift;
                }
                Format32::Q8_0 => blk[WEIGHTS + 64 * k + at] = v,
            }
        }
    })
}

/// Writes row `r` (of all rows) of a regrouped matrix into `out` (`cols` long).
pub fn dequantize_row(format: Format32, data: &[u8], cols: usize, r: usize, out: &mut [f32]) {
    let (nb, gb) = (cols / QK, format.group_block());
    let group = &data[r / ROWS * nb * gb..][..nb * gb];
    let lane = r % ROWS;
    for (blk, o) in group.chunks_exact(gb).zip(out.chunks_exact_mut(QK)) {
        let d = read_f16(blk, 2 * lane);
        for (i, v) in o.iter_mut().enumerate() {
            *v = d * (format.weight(blk, lane, i) as i32 - format.offset()) as f32;
        }
    }
}

/// The integer sum of each activation block's values, which the regrouped formats take
/// their offset off with.
pub fn block_sums(acts: &[Q8Act], out: &mut Vec<i32>) {
    out.clear();
    out.extend(
        acts.iter()
            .map(|b| b.qs.iter().map(|&q| q as i32).sum::<i32>()),
    );
}

/// The portable kernel (the reference the SIMD one is tested against): one group (`w`) of
/// `format` against up to four activation rows `a`, with their blocks' sums `sums`.
pub fn dot_group(format: Format32, w: &[u8], a: &[&[Q8Act]], sums: &[&[i32]], out: &mut GroupOut) {
    for ((row, row_sums), o) in a.iter().zip(sums).zip(out.iter_mut()) {
        for (lane, ol) in o.iter_mut().enumerate() {
            let mut acc = 0f32;
            for ((blk, ab), &asum) in w
                .chunks_exact(format.group_block())
                .zip(row.iter())
                .zip(row_sums.iter())
            {
                let raw: i32 = (0..QK)
                    .map(|i| format.weight(blk, lane, i) as i32 * ab.qs[i] as i32)
                    .sum();
                let isum = raw - format.offset() * asum;
                acc = (isum as f32).mul_add(read_f16(blk, 2 * lane) * ab.d, acc);
            }
            *ol = acc;
        }
    }
}
