//! The block formats the CPU forward keeps weights in, byte-compatible with GGML's so the GGUF
//! bytes are used as they are: Q4_0 (18 bytes per 32 weights), Q4_1 (20), Q5_0 (22), Q5_1 (24),
//! Q8_0 (34), and the K-quants' 256-weight super-blocks (`kquant`). Also the Q8 activation block
//! the 32-weight formats' dot products take, and conversions (f16, dequantizing a row,
//! quantizing f32 to Q8_0 for weight types we have no kernel for).

use super::kquant::{dequantize_block, KFormat, QK_K};
use super::q32_x16::Format32;

/// Elements per quantization block in the 32-weight formats (Q4_0 … Q8_0).
pub const QK: usize = 32;

/// Weight formats the CPU kernels work on directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QType {
    Q4_0,
    Q4_1,
    /// 4 bits in nibbles plus a fifth in a 32-bit mask; weights `d * (q - 16)`.
    Q5_0,
    /// As Q5_0, unsigned with a minimum: `d * q + m`.
    Q5_1,
    Q8_0,
    /// The K-quants (super-blocks of `QK_K`), multiplied with `Q8K` activations.
    K(KFormat),
    /// Q4_1 regrouped by pairs of blocks (`repack_q4_1_pairs`): the same 40 bytes per 64
    /// weights, laid out so one 256-bit load holds both blocks' nibbles and one f16→f32
    /// conversion both blocks' scales. Multiplied with `Q8Pair` activations.
    Q4_1x2,
    /// Q4_K regrouped by 16 rows (`q4k_x16`), multiplied with `Q8K` activations; 148 bytes
    /// per row and super-block.
    Q4Kx16,
    /// Q5_0 or Q8_0 regrouped by 16 rows (`q32_x16`), multiplied with `Q8Act` activations and
    /// their blocks' integer sums; the file's bytes per row and block.
    Q32x16(Format32),
}

impl QType {
    /// Bytes of one block (`block_len` weights).
    pub const fn block_bytes(self) -> usize {
        match self {
            QType::Q4_0 => 18,
            QType::Q4_1 | QType::Q4_1x2 => 20,
            QType::Q5_0 => 22,
            QType::Q5_1 => 24,
            QType::Q8_0 => 34,
            QType::K(format) => format.block_bytes(),
            QType::Q4Kx16 => super::q4k_x16::ROW_BLOCK_BYTES,
            QType::Q32x16(format) => format.group_block() / super::q4k_x16::ROWS,
        }
    }

    /// Weights per block: `QK`, or `QK_K` for the K-quants.
    pub const fn block_len(self) -> usize {
        match self {
            QType::K(_) | QType::Q4Kx16 => QK_K,
            _ => QK,
        }
    }

    /// Bytes of one row of `cols` weights (`cols` a multiple of `block_len`).
    pub const fn row_bytes(self, cols: usize) -> usize {
        cols / self.block_len() * self.block_bytes()
    }
}

/// One block of activations quantized to 8 bits: `x ≈ d * qs`, and `s = d * Σqs`, which the
/// Q4_0 offset and the Q4_1 minimum need (GGML's Q8_1, with f32 scales).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct Q8Act {
    pub d: f32,
    pub s: f32,
    pub qs: [i8; QK],
}

/// Two activation blocks for the `Q4_1x2` kernel: `ds` = (d0, d1, s0, s1), `lo` = the first
/// 16 values of each block (block 0's then block 1's), `hi` = the last 16 of each.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct Q8Pair {
    pub ds: [f32; 4],
    pub lo: [i8; QK],
    pub hi: [i8; QK],
}

impl Default for Q8Pair {
    fn default() -> Self {
        Q8Pair {
            ds: [0.0; 4],
            lo: [0; QK],
            hi: [0; QK],
        }
    }
}

/// Quantizes `x` (a multiple of 64 long) into pairs of blocks for the `Q4_1x2` kernel.
pub fn quantize_pairs(x: &[f32], out: &mut [Q8Pair]) {
    let mut b = [Q8Act::default(); 2];
    for (xp, op) in x.chunks_exact(2 * QK).zip(out.iter_mut()) {
        quantize_acts(xp, &mut b);
        op.ds = [b[0].d, b[1].d, b[0].s, b[1].s];
        let h = QK / 2;
        op.lo[..h].copy_from_slice(&b[0].qs[..h]);
        op.lo[h..].copy_from_slice(&b[1].qs[..h]);
        op.hi[..h].copy_from_slice(&b[0].qs[h..]);
        op.hi[h..].copy_from_slice(&b[1].qs[h..]);
    }
}

/// Q4_1 bytes (`cols` a multiple of 64) regrouped per pair of blocks as
/// (d0, d1, m0, m1, qs0, qs1).
pub fn repack_q4_1_pairs(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for pair in data.chunks_exact(40) {
        let (b0, b1) = pair.split_at(20);
        out.extend_from_slice(&b0[0..2]);
        out.extend_from_slice(&b1[0..2]);
        out.extend_from_slice(&b0[2..4]);
        out.extend_from_slice(&b1[2..4]);
        out.extend_from_slice(&b0[4..20]);
        out.extend_from_slice(&b1[4..20]);
    }
    out
}

/// IEEE half → f32, exact (subnormals included); GGML stores block scales as f16.
#[inline]
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h as u32) & 0x8000) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let mant = (h & 0x3ff) as u32;
    let bits = if exp == 0 {
        if mant == 0 {
            sign
        } else {
            // Subnormal: value = mant * 2^-24.
            let v = mant as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
    } else if exp == 31 {
        sign | 0x7f80_0000 | (mant << 13)
    } else {
        sign | ((exp + 112) << 23) | (mant << 13)
    };
    f32::from_bits(bits)
}

/// `x` as the nearest f16 holds it: what GGML keeps of block scales and cached keys/values.
#[inline]
pub fn round_to_f16(x: f32) -> f32 {
    f16_to_f32(f32_to_f16(x))
}

/// f32 → IEEE half, round to nearest even (for quantizing weights we convert at load).
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 31 {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = m & ((1 << shift) - 1);
        let mut r = m >> shift;
        if rest > half || (rest == half && (r & 1) == 1) {
            r += 1;
        }
        return sign | r as u16;
    }
    let mut r = ((e as u32) << 10) | (mant >> 13);
    let rest = mant & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && (r & 1) == 1) {
        r += 1;
    }
    sign | r as u16
}

#[inline]
pub(crate) fn read_f16(bytes: &[u8], at: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([bytes[at], bytes[at + 1]]))
}

/// Quantizes `x` (a multiple of `QK` long) into `out` (`x.len() / QK` blocks), round to nearest
/// like GGML's `quantize_row_q8_1`.
pub fn quantize_acts(x: &[f32], out: &mut [Q8Act]) {
    debug_assert_eq!(x.len(), out.len() * QK);
    for (xb, ob) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if amax > 0.0 { 127.0 / amax } else { 0.0 };
        let mut sum = 0i32;
        for (q, v) in ob.qs.iter_mut().zip(xb) {
            // Round to nearest (ties to even) by the 1.5·2^23 trick: |v·id| ≤ 127, and unlike
            // `round()` (a libm call) this vectorizes.
            let r = ((v * id + 12_582_912.0) - 12_582_912.0) as i32;
            *q = r as i8;
            sum += r;
        }
        // GGML keeps both scales as f16 (and divides by the unrounded scale, as here): the
        // dot products then see llama.cpp's values, not merely values near them.
        ob.d = round_to_f16(d);
        ob.s = round_to_f16(d * sum as f32);
    }
}

/// Writes the `cols` weights of row `row` of a `qtype` matrix stored in `data` into `out`.
pub fn dequantize_row(qtype: QType, data: &[u8], cols: usize, row: usize, out: &mut [f32]) {
    match qtype {
        QType::Q4Kx16 => return super::q4k_x16::dequantize_row(data, cols, row, out),
        QType::Q32x16(format) => {
            return super::q32_x16::dequantize_row(format, data, cols, row, out)
        }
        _ => {}
    }
    let rb = qtype.row_bytes(cols);
    let bytes = &data[row * rb..(row + 1) * rb];
    if qtype == QType::Q4_1x2 {
        for (pair, o) in bytes.chunks_exact(40).zip(out.chunks_exact_mut(2 * QK)) {
            for k in 0..2 {
                let (d, m) = (read_f16(pair, 2 * k), read_f16(pair, 4 + 2 * k));
                let qs = &pair[8 + 16 * k..24 + 16 * k];
                for j in 0..QK / 2 {
                    o[k * QK + j] = (qs[j] & 0x0f) as f32 * d + m;
                    o[k * QK + j + QK / 2] = (qs[j] >> 4) as f32 * d + m;
                }
            }
        }
        return;
    }
    if let QType::K(format) = qtype {
        for (blk, o) in bytes
            .chunks_exact(format.block_bytes())
            .zip(out.chunks_exact_mut(QK_K))
        {
            dequantize_block(format, blk, o);
        }
        return;
    }
    let bb = qtype.block_bytes();
    for (blk, o) in bytes.chunks_exact(bb).zip(out.chunks_exact_mut(QK)) {
        let d = read_f16(blk, 0);
        match qtype {
            QType::Q4_0 => {
                for j in 0..QK / 2 {
                    let q = blk[2 + j];
                    o[j] = ((q & 0x0f) as i32 - 8) as f32 * d;
                    o[j + QK / 2] = ((q >> 4) as i32 - 8) as f32 * d;
                }
            }
            QType::Q4_1 => {
                let m = read_f16(blk, 2);
                for j in 0..QK / 2 {
                    let q = blk[4 + j];
                    o[j] = (q & 0x0f) as f32 * d + m;
                    o[j + QK / 2] = (q >> 4) as f32 * d + m;
                }
            }
            QType::Q5_0 => {
                let q = q5_values(&blk[2..]);
                for j in 0..QK {
                    o[j] = (q[j] as i32 - 16) as f32 * d;
                }
            }
            QType::Q5_1 => {
                let m = read_f16(blk, 2);
                let q = q5_values(&blk[4..]);
                for j in 0..QK {
                    o[j] = q[j] as f32 * d + m;
                }
            }
            QType::Q8_0 => {
                for j in 0..QK {
                    o[j] = blk[2 + j] as i8 as f32 * d;
                }
            }
            QType::Q4_1x2 | QType::K(_) | QType::Q4Kx16 | QType::Q32x16(_) => {
                unreachable!("handled above")
            }
        }
    }
}

/// The 32 unsigned 5-bit values of a Q5_0/Q5_1 block from its 32-bit mask of fifth bits
/// (little-endian, bit `j` for weight `j`) followed by 16 bytes of nibbles (weight `j` in the
/// low nibble of byte `j`, weight `j + 16` in the high one).
pub(crate) fn q5_values(qh_qs: &[u8]) -> [u8; QK] {
    let qh = u32::from_le_bytes([qh_qs[0], qh_qs[1], qh_qs[2], qh_qs[3]]);
    let mut q = [0u8; QK];
    for j in 0..QK / 2 {
        let byte = qh_qs[4 + j];
        q[j] = (byte & 0x0f) | (((qh >> j) & 1) as u8) << 4;
        q[j + QK / 2] = (byte >> 4) | (((qh >> (j + QK / 2)) & 1) as u8) << 4;
    }
    q
}

/// Quantizes f32 weights (a multiple of `QK` long) to Q8_0 bytes, as GGML does; used at load
/// for weight types we have no kernel for (f16, K-quants), so they run on the Q8_0 kernel.
pub fn quantize_q8_0(x: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(x.len() / QK * QType::Q8_0.block_bytes());
    for xb in x.chunks_exact(QK) {
        let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if amax > 0.0 { 127.0 / amax } else { 0.0 };
        out.extend_from_slice(&f32_to_f16(d).to_le_bytes());
        out.extend(xb.iter().map(|v| (v * id).round() as i8 as u8));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_round_trips_representable_values() {
        for h in 0u16..=0xffff {
            let exp = (h >> 10) & 0x1f;
            if exp == 31 {
                continue;
            }
            let f = f16_to_f32(h);
            assert_eq!(f32_to_f16(f), h, "h={h:#x} f={f}");
        }
    }

    #[test]
    fn quantize_acts_is_close() {
        let x: Vec<f32> = (0..64)
            .map(|i| ((i * 37 % 19) as f32 - 9.0) * 0.37)
            .collect();
        let mut q = vec![Q8Act::default(); 2];
        quantize_acts(&x, &mut q);
        for (b, xb) in q.iter().zip(x.chunks(QK)) {
            let sum: i32 = b.qs.iter().map(|&v| v as i32).sum();
            // Both scales are f16 values, as GGML stores them (relative error ≤ 2^-11).
            assert_eq!(round_to_f16(b.d), b.d);
            assert_eq!(round_to_f16(b.s), b.s);
            assert!((b.s - b.d * sum as f32).abs() <= (b.d * sum as f32).abs() * 1e-3);
            for (v, &qv) in xb.iter().zip(&b.qs) {
                // Half a step of rounding, plus the scale's own f16 rounding at most 127 times.
                assert!((v - b.d * qv as f32).abs() <= b.d * (0.5 + 127.0 / 2048.0) + 1e-6);
            }
        }
    }
}
