//! The AVX-512 VNNI kernel for Q4_K regrouped by 16 rows (`q4k_x16`): per chunk of 64 bytes,
//! the low and high nibbles are two registers of four weights of each of 16 rows, and one
//! `vpdpbusd` per activation row adds their products with four activations broadcast from
//! memory into the rows' lanes. Each run of 16 weights is summed apart (at most
//! 16·15·127 < 2^15, so it is exact in the low half of its lane) and multiplied by its scale
//! with `vpdpwssd` against the scale zero-extended to 32 bits; the minimums' sums take one
//! `vpdpwssd` per run of 32 against the activations' two sums per 16, broadcast as a pair.
//! The float steps are `q4k_x16::dot_group`'s, lane by lane.

use std::arch::x86_64::*;

use crate::llm::kernels::kquant::Q8K;
use crate::llm::kernels::q4k_x16::{GroupOut, DMIN, GROUP_BLOCK, MINS, QS, SCALES};

/// Four bytes of `p` at `at`, broadcast to every 32-bit lane (folded into the instruction
/// that uses it as an embedded broadcast).
#[inline(always)]
unsafe fn quad(p: *const u8, at: usize) -> __m512i {
    _mm512_set1_epi32((p.add(at) as *const i32).read_unaligned())
}

/// 16 bytes of `p` at `at`, one per 32-bit lane.
#[inline(always)]
unsafe fn bytes16(p: *const u8, at: usize) -> __m512i {
    _mm512_cvtepu8_epi32(_mm_loadu_si128(p.add(at) as *const __m128i))
}

#[inline(always)]
unsafe fn group<const N: usize>(w: &[u8], a: &[&[Q8K]], out: &mut GroupOut) {
    let nb = w.len() / GROUP_BLOCK;
    let wp = w.as_ptr();
    let rows: [*const Q8K; N] = std::array::from_fn(|j| a[j].as_ptr());
    let low4 = _mm512_set1_epi8(0x0f);
    let mut facc = [_mm512_setzero_ps(); N];
    for b in 0..nb {
        let blk = wp.add(b * GROUP_BLOCK);
        let ab: [&Q8K; N] = std::array::from_fn(|j| &*rows[j].add(b));
        let d = _mm512_cvtph_ps(_mm256_loadu_si256(blk as *const __m256i));
        let dmin = _mm512_cvtph_ps(_mm256_loadu_si256(blk.add(DMIN) as *const __m256i));
        // Σ min·bsum: each run's minimum in both halves of its lane, against the
        // activations' sums of the run's two sixteens.
        let mut msum = [_mm512_setzero_si512(); N];
        for s in 0..8 {
            let m = bytes16(blk, MINS + 16 * s);
            let m = _mm512_or_si512(m, _mm512_slli_epi32::<16>(m));
            for j in 0..N {
                let bsums = quad(ab[j].bsums.as_ptr() as *const u8, 4 * s);
                msum[j] = _mm512_dpwssd_epi32(msum[j], m, bsums);
            }
        }
        for j in 0..N {
            let dmin_a = _mm512_mul_ps(dmin, _mm512_set1_ps(ab[j].d));
            facc[j] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum[j]), dmin_a, facc[j]);
        }
        // Σ scale·q·a: runs of 16 weights g (low nibbles, scale g / 2) and g + 8 (high
        // nibbles, scale 4 + g / 2) from chunks 4g..4g + 4.
        let mut isum = [_mm512_setzero_si512(); N];
        for g in 0..8 {
            let mut lo = [_mm512_setzero_si512(); N];
            let mut hi = [_mm512_setzero_si512(); N];
            for k in 0..4 {
                let c = 4 * g + k;
                let v = _mm512_loadu_si512(blk.add(QS + 64 * c) as *const __m512i);
                let (wl, wh) = (
                    _mm512_and_si512(v, low4),
                    _mm512_and_si512(_mm512_srli_epi16::<4>(v), low4),
                );
                for j in 0..N {
                    let qs = ab[j].qs.as_ptr() as *const u8;
                    lo[j] = _mm512_dpbusd_epi32(lo[j], wl, quad(qs, 4 * c));
                    hi[j] = _mm512_dpbusd_epi32(hi[j], wh, quad(qs, 128 + 4 * c));
                }
            }
            let scale_lo = bytes16(blk, SCALES + 16 * (g / 2));
            let scale_hi = bytes16(blk, SCALES + 16 * (4 + g / 2));
            for j in 0..N {
                isum[j] = _mm512_dpwssd_epi32(isum[j], lo[j], scale_lo);
                isum[j] = _mm512_dpwssd_epi32(isum[j], hi[j], scale_hi);
            }
        }
        for j in 0..N {
            let d_a = _mm512_mul_ps(d, _mm512_set1_ps(ab[j].d));
            facc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[j]), d_a, facc[j]);
        }
    }
    for j in 0..N {
        _mm512_storeu_ps(out[j].as_mut_ptr(), facc[j]);
    }
}

/// One group of 16 rows (`w`) against `a.len()` (1..=4) activation rows.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn q4k_x16_avx512(w: &[u8], a: &[&[Q8K]], out: &mut GroupOut) {
    match a.len() {
        1 => group::<1>(w, a, out),
        2 => group::<2>(w, a, out),
        3 => group::<3>(w, a, out),
        4 => group::<4>(w, a, out),
        _ => {}
    }
}
