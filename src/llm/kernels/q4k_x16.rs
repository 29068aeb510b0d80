//! Q4_K weights regrouped at load by 16 rows (`Q4Kx16`), for CPUs with AVX-512 VNNI: one
//! 64-byte load then holds four weights of each of 16 rows, so `vpdpbusd` multiplies them by
//! four activations broadcast from memory into 16 lanes, one lane per weight row. The sums
//! leave the kernel as 16 outputs in one register, with no horizontal adds and one float step
//! per super-block for 16 rows (the file's layout needs one per row, and its unpacking of
//! scales per row; see `dot::x86_kquants`).
//!
//! A group of 16 rows is `cols / QK_K` blocks of `GROUP_BLOCK` bytes, one per super-block:
//! the rows' d and dmin (f16), their 6-bit scales and minimums unpacked to a byte each (run
//! `s` of 32 weights: 16 bytes, one per row), then 32 chunks of 64 bytes, where chunk `c`
//! holds at byte `4r + i` weight `4c + i` of row `r` in its low nibble and weight
//! `128 + 4c + i` in its high one. The same bytes as the file (148 per row and super-block
//! against 144), so decoding streams as much.
//!
//! Every kernel for this layout takes the same steps per output: the super-block's exact
//! integer sums Σ scale·q·a and Σ min·bsum, then `acc -= msum·(dmin·d_a)` and
//! `acc += isum·(d·d_a)`, each one fused multiply-add. So the SIMD kernel equals the scalar
//! reference here bit for bit, and decoding and prompts give the same logits.

use super::kquant::{unpack, KFormat, Q8K, QK_K};
use super::quant::read_f16;

/// Rows per group.
pub const ROWS: usize = 16;
/// Bytes of one super-block of a group of 16 rows.
pub const GROUP_BLOCK: usize = 2368;
/// Where the parts of a group's super-block start.
pub const DMIN: usize = 32;
pub const SCALES: usize = 64;
pub const MINS: usize = 192;
pub const QS: usize = 320;
/// Activation rows per kernel call.
pub const MAX_ACTS: usize = 4;

/// Bytes per row and super-block (`GROUP_BLOCK / ROWS`).
pub const ROW_BLOCK_BYTES: usize = GROUP_BLOCK / ROWS;

/// One kernel call's outputs: `out[j][r]` = row r of the group · activation row j.
pub type GroupOut = [[f32; ROWS]; MAX_ACTS];

/// The walk every 16-row layout takes from the file's (`rows` a multiple of 16, each
/// `blocks` blocks of `file_block` bytes): for each group of 16 rows and each block, `fill(dst,
/// r, src)` writes block `src` of the group's row `r` into the group's block `dst`
/// (`group_block` bytes, zeroed). Groups are split over the machine's cores: a model's
/// largest matrices (a 151936-row embedding table) are regrouped as they load.
pub fn regroup(
    data: &[u8],
    rows: usize,
    blocks: usize,
    (file_block, group_block): (usize, usize),
    fill: impl Fn(&mut [u8], usize, &[u8]) + Sync,
) -> Vec<u8> {
    assert!(rows.is_multiple_of(ROWS));
    assert_eq!(data.len(), rows * blocks * file_block);
    let groups = rows / ROWS;
    let per_group = blocks * group_block;
    let mut out = vec![0u8; groups * per_group];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = groups.div_ceil(threads).max(1);
    let fill = &fill;
    std::thread::scope(|scope| {
        for (t, part) in out.chunks_mut(per_thread * per_group).enumerate() {
            scope.spawn(move || {
                for (i, group) in part.chunks_exact_mut(per_group).enumerate() {
                    let g = t * per_thread + i;
                    for (b, blk) in group.chunks_exact_mut(group_block).enumerate() {
                        for r in 0..ROWS {
                            let at = ((g * ROWS + r) * blocks + b) * file_block;
                            fill(blk, r, &data[at..at + file_block]);
                        }
                    }
                }
            });
        }
    });
    out
}

/// Regroups a Q4_K matrix (`rows` a multiple of 16, `cols` of `QK_K`, the file's bytes).
pub fn interleave(data: &[u8], rows: usize, cols: usize) -> Vec<u8> {
    assert!(cols.is_multiple_of(QK_K));
    let sizes = (KFormat::Q4K.block_bytes(), GROUP_BLOCK);
    regroup(data, rows, cols / QK_K, sizes, |blk, r, src| {
        let u = unpack(KFormat::Q4K, src);
        blk[2 * r..2 * r + 2].copy_from_slice(&src[0..2]);
        blk[DMIN + 2 * r..DMIN + 2 * r + 2].copy_from_slice(&src[2..4]);
        for s in 0..8 {
            blk[SCALES + 16 * s + r] = u.scale[2 * s] as u8;
            blk[MINS + 16 * s + r] = u.min[2 * s] as u8;
        }
        for c in 0..32 {
            for i in 0..4 {
                blk[QS + 64 * c + 4 * r + i] = u.q[4 * c + i] | (u.q[128 + 4 * c + i] << 4);
            }
        }
    })
}

/// Weight `i` (0..256) of row `r` of a group's super-block, unsigned (0..16).
#[inline]
fn weight(blk: &[u8], r: usize, i: usize) -> u8 {
    let byte = blk[QS + 64 * ((i % 128) / 4) + 4 * r + i % 4];
    if i < 128 {
        byte & 0x0f
    } else {
        byte >> 4
    }
}

/// Writes row `r` (of all rows) of a regrouped matrix into `out` (`cols` long).
pub fn dequantize_row(data: &[u8], cols: usize, r: usize, out: &mut [f32]) {
    let nb = cols / QK_K;
    let group = &data[r / ROWS * nb * GROUP_BLOCK..][..nb * GROUP_BLOCK];
    let lane = r % ROWS;
    for (blk, o) in group
        .chunks_exact(GROUP_BLOCK)
        .zip(out.chunks_exact_mut(QK_K))
    {
        let (d, dmin) = (read_f16(blk, 2 * lane), read_f16(blk, DMIN + 2 * lane));
        for (i, v) in o.iter_mut().enumerate() {
            let s = i / 32;
            let (scale, min) = (blk[SCALES + 16 * s + lane], blk[MINS + 16 * s + lane]);
            *v = d * scale as f32 * weight(blk, lane, i) as f32 - dmin * min as f32;
        }
    }
}

/// The portable kernel (the reference the SIMD one is tested against): one group (`w`, its
/// `cols / QK_K` blocks) against up to `MAX_ACTS` activation rows.
pub fn dot_group(w: &[u8], a: &[&[Q8K]], out: &mut GroupOut) {
    debug_assert!(a.len() <= MAX_ACTS);
    for (row, o) in a.iter().zip(out.iter_mut()) {
        for (lane, ol) in o.iter_mut().enumerate() {
            let mut acc = 0f32;
            for (blk, ab) in w.chunks_exact(GROUP_BLOCK).zip(row.iter()) {
                let (mut isum, mut msum) = (0i32, 0i32);
                for g in 0..QK_K / 16 {
                    let part: i32 = (16 * g..16 * g + 16)
                        .map(|i| weight(blk, lane, i) as i32 * ab.qs[i] as i32)
                        .sum();
                    isum += blk[SCALES + 16 * (g / 2) + lane] as i32 * part;
                }
                for s in 0..8 {
                    let bsum = ab.bsums[2 * s] as i32 + ab.bsums[2 * s + 1] as i32;
                    msum += blk[MINS + 16 * s + lane] as i32 * bsum;
                }
                let (d, dmin) = (read_f16(blk, 2 * lane), read_f16(blk, DMIN + 2 * lane));
                acc = (-(msum as f32)).mul_add(dmin * ab.d, acc);
                acc = (isum as f32).mul_add(d * ab.d, acc);
            }
            *ol = acc;
        }
    }
}
