//! GGML's K-quant weight formats, kept as the GGUF file has them: 256-weight super-blocks
//! (`QK_K`) of Q4_K (144 bytes), Q5_K (176) and Q6_K (210), each split into sub-blocks with
//! their own integer scales under one f16 scale. Also the activation block they are multiplied
//! with (`Q8K`: 256 int8 values, one f32 scale and the sums of every 16, which is how the
//! formats' minimums and Q6_K's offset of 32 are applied without touching each weight), and a
//! portable unpacking of a super-block (`unpack`) that the scalar kernels and dequantization
//! share.

/// Weights per super-block.
pub const QK_K: usize = 256;

/// Byte offsets inside the super-blocks (GGML's `block_q4_K`, `block_q5_K`, `block_q6_K`).
pub mod layout {
    /// Q4_K: d (f16), dmin (f16), 12 bytes of packed 6-bit scales and minimums, 128 bytes of
    /// nibbles.
    pub const Q4K_BYTES: usize = 144;
    pub const Q4K_QS: usize = 16;
    /// Q5_K: as Q4_K, with 32 bytes of fifth bits before the nibbles.
    pub const Q5K_BYTES: usize = 176;
    pub const Q5K_QH: usize = 16;
    pub const Q5K_QS: usize = 48;
    /// Q6_K: 128 bytes of low nibbles, 64 of high bit pairs, 16 int8 scales, then d (f16).
    pub const Q6K_BYTES: usize = 210;
    pub const Q6K_QH: usize = 128;
    pub const Q6K_SCALES: usize = 192;
    pub const Q6K_D: usize = 208;
    /// Where the 12 bytes of 6-bit scales start in Q4_K and Q5_K.
    pub const SCALES: usize = 4;
}

/// One super-block of activations: `x ≈ d * qs`, `bsums[i]` = Σ qs[16i..16i+16] (GGML's
/// `block_q8_K`).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct Q8K {
    pub d: f32,
    pub qs: [i8; QK_K],
    pub bsums: [i16; QK_K / 16],
}

impl Default for Q8K {
    fn default() -> Self {
        Q8K {
            d: 0.0,
            qs: [0; QK_K],
            bsums: [0; QK_K / 16],
        }
    }
}

/// Quantizes `x` (a multiple of `QK_K` long) into `out` as GGML's `quantize_row_q8_K` does:
/// the value of largest magnitude maps to -127 (so the scale carries its sign), the others are
/// rounded to nearest even and capped at 127.
pub fn quantize_q8k(x: &[f32], out: &mut [Q8K]) {
    debug_assert_eq!(x.len(), out.len() * QK_K);
    for (xb, ob) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let (mut amax, mut max) = (0f32, 0f32);
        for &v in xb {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        if amax == 0.0 {
            *ob = Q8K::default();
            continue;
        }
        let iscale = -127.0 / max;
        for (q, v) in ob.qs.iter_mut().zip(xb) {
            // Round half to even by the 1.5·2^23 trick, as GGML's `nearest_int`.
            let r = ((v * iscale + 12_582_912.0) - 12_582_912.0) as i32;
            *q = r.min(127) as i8;
        }
        for (s, q) in ob.bsums.iter_mut().zip(ob.qs.chunks_exact(16)) {
            *s = q.iter().map(|&v| v as i16).sum();
        }
        ob.d = 1.0 / iscale;
    }
}

/// The 6-bit scale and minimum of sub-block `j` (0..8) from Q4_K/Q5_K's 12 packed bytes: the
/// first four of each sit in the low 6 bits of bytes 0-3 and 4-7; the last four are a nibble
/// of bytes 8-11 with their top two bits in the spare high bits of bytes 0-7.
#[inline]
pub fn scale_min(j: usize, packed: &[u8]) -> (u8, u8) {
    if j < 4 {
        (packed[j] & 63, packed[j + 4] & 63)
    } else {
        (
            (packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4),
            (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4),
        )
    }
}

/// A K-quant super-block unpacked: weight `i` is `d * scale[i / 16] * q[i] - dmin *
/// min[i / 16]`, with `q` unsigned. Q6_K's signed weights are `q - 32`, so their `min` is the
/// scale and `dmin` is `32 * d`.
pub struct Unpacked {
    pub q: [u8; QK_K],
    pub scale: [i32; QK_K / 16],
    pub min: [i32; QK_K / 16],
    pub d: f32,
    pub dmin: f32,
}

/// The K-quant formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KFormat {
    Q4K,
    Q5K,
    Q6K,
}

impl KFormat {
    pub const fn block_bytes(self) -> usize {
        match self {
            KFormat::Q4K => layout::Q4K_BYTES,
            KFormat::Q5K => layout::Q5K_BYTES,
            KFormat::Q6K => layout::Q6K_BYTES,
        }
    }
}

/// Unpacks one super-block of `format` (its `block_bytes` bytes).
pub fn unpack(format: KFormat, b: &[u8]) -> Unpacked {
    use super::quant::read_f16;
    use layout::*;
    let mut u = Unpacked {
        q: [0; QK_K],
        scale: [0; QK_K / 16],
        min: [0; QK_K / 16],
        d: 0.0,
        dmin: 0.0,
    };
    match format {
        KFormat::Q4K | KFormat::Q5K => {
            u.d = read_f16(b, 0);
            u.dmin = read_f16(b, 2);
            let packed = &b[SCALES..SCALES + 12];
            for j in 0..8 {
                let (sc, m) = scale_min(j, packed);
                u.scale[2 * j..2 * j + 2].fill(sc as i32);
                u.min[2 * j..2 * j + 2].fill(m as i32);
            }
            let (qs, qh) = if format == KFormat::Q4K {
                (&b[Q4K_QS..Q4K_QS + 128], None)
            } else {
                (&b[Q5K_QS..Q5K_QS + 128], Some(&b[Q5K_QH..Q5K_QH + 32]))
            };
            // Each 64 weights: the low nibbles of 32 bytes, then their high nibbles; Q5_K's
            // fifth bits for chunk c are bits 2c and 2c + 1 of the 32 `qh` bytes.
            for c in 0..4 {
                for l in 0..32 {
                    let byte = qs[32 * c + l];
                    let (mut lo, mut hi) = (byte & 0x0f, byte >> 4);
                    if let Some(qh) = qh {
                        lo |= ((qh[l] >> (2 * c)) & 1) << 4;
                        hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
                    }
                    u.q[64 * c + l] = lo;
                    u.q[64 * c + 32 + l] = hi;
                }
            }
        }
        KFormat::Q6K => {
            u.d = read_f16(b, Q6K_D);
            u.dmin = 32.0 * u.d;
            for (j, s) in b[Q6K_SCALES..Q6K_SCALES + 16].iter().enumerate() {
                u.scale[j] = *s as i8 as i32;
                u.min[j] = *s as i8 as i32;
            }
            // Each half of 128 weights: four runs of 32, from the low and high nibbles of
            // 64 `ql` bytes and the four bit pairs of 32 `qh` bytes.
            for n in 0..2 {
                let ql = &b[64 * n..64 * n + 64];
                let qh = &b[Q6K_QH + 32 * n..Q6K_QH + 32 * n + 32];
                let y = &mut u.q[128 * n..128 * n + 128];
                for l in 0..32 {
                    y[l] = (ql[l] & 0x0f) | ((qh[l] & 3) << 4);
                    y[l + 32] = (ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4);
                    y[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                    y[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
                }
            }
        }
    }
    u
}

/// Writes the 256 weights of one super-block into `out`.
pub fn dequantize_block(format: KFormat, b: &[u8], out: &mut [f32]) {
    let u = unpack(format, b);
    for (i, o) in out[..QK_K].iter_mut().enumerate() {
        let s = i / 16;
        *o = u.d * u.scale[s] as f32 * u.q[i] as f32 - u.dmin * u.min[s] as f32;
    }
}

/// The scalar dot product of one super-block with one activation block: the integer sums
/// per sub-block are exact, as in the SIMD kernels.
pub fn dot_block(format: KFormat, b: &[u8], a: &Q8K) -> f32 {
    let u = unpack(format, b);
    let mut sum = 0i32;
    let mut offset = 0i32;
    for s in 0..QK_K / 16 {
        let part: i32 = u.q[16 * s..16 * s + 16]
            .iter()
            .zip(&a.qs[16 * s..16 * s + 16])
            .map(|(&q, &x)| q as i32 * x as i32)
            .sum();
        sum += u.scale[s] * part;
        offset += u.min[s] * a.bsums[s] as i32;
    }
    a.d * (u.d * sum as f32 - u.dmin * offset as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::kernels::test_values as random;

    #[test]
    fn q8k_round_trips_within_half_a_step() {
        let x: Vec<f32> = random(2 * QK_K, 3).iter().map(|v| v * 3.0).collect();
        let mut q = vec![Q8K::default(); 2];
        quantize_q8k(&x, &mut q);
        for (b, xb) in q.iter().zip(x.chunks(QK_K)) {
            for (s, qs) in b.bsums.iter().zip(b.qs.chunks(16)) {
                assert_eq!(*s as i32, qs.iter().map(|&v| v as i32).sum::<i32>());
            }
            for (v, &qv) in xb.iter().zip(&b.qs) {
                assert!((v - b.d * qv as f32).abs() <= b.d.abs() * 0.5 + 1e-6);
            }
        }
        let mut zero = vec![Q8K::default(); 1];
        quantize_q8k(&[0.0; QK_K], &mut zero);
        assert_eq!(zero[0].d, 0.0);
    }
}
