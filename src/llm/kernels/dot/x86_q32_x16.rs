//! The AVX-512 VNNI kernels for Q5_0 and Q8_0 regrouped by 16 rows (`q32_x16`): per block of
//! 32 weights, eight registers of four unsigned weights of each of 16 rows (Q5_0: nibbles
//! with the fifth bit added under a byte mask; Q8_0: the bytes as stored), each multiplied by
//! four activations broadcast from memory with `vpdpbusd` per activation row, in two chains
//! to halve the wait on each sum. The offset and the float step are `q32_x16::dot_group`'s,
//! lane by lane.

use std::arch::x86_64::*;

use crate::llm::kernels::q32_x16::{Format32, Q5_NIBBLES, WEIGHTS};
use crate::llm::kernels::q4k_x16::GroupOut;
use crate::llm::kernels::quant::Q8Act;

/// Four bytes of `p` at `at`, broadcast to every 32-bit lane.
#[inline(always)]
unsafe fn quad(p: *const u8, at: usize) -> __m512i {
    _mm512_set1_epi32((p.add(at) as *const i32).read_unaligned())
}

/// Register `k` (0..8) of a block's unsigned weights.
trait Weights {
    const FORMAT: Format32;
    unsafe fn register(blk: *const u8, k: usize) -> __m512i;
}

struct Q5;
struct Q8;

impl Weights for Q5 {
    const FORMAT: Format32 = Format32::Q5_0;
    #[inline(always)]
    unsafe fn register(blk: *const u8, k: usize) -> __m512i {
        let v = _mm512_loadu_si512(blk.add(Q5_NIBBLES + 64 * (k % 4)) as *const __m512i);
        let nibbles = if k < 4 { v } else { _mm512_srli_epi16::<4>(v) };
        let w = _mm512_and_si512(nibbles, _mm512_set1_epi8(0x0f));
        let fifth = (blk.add(WEIGHTS + 8 * k) as *const u64).read_unaligned();
        _mm512_mask_add_epi8(w, fifth, w, _mm512_set1_epi8(0x10))
    }
}

impl Weights for Q8 {
    const FORMAT: Format32 = Format32::Q8_0;
    #[inline(always)]
    unsafe fn register(blk: *const u8, k: usize) -> __m512i {
        _mm512_loadu_si512(blk.add(WEIGHTS + 64 * k) as *const __m512i)
    }
}

#[inline(always)]
unsafe fn group<F: Weights, const N: usize>(
    w: &[u8],
    a: &[&[Q8Act]],
    sums: &[&[i32]],
    out: &mut GroupOut,
) {
    let gb = F::FORMAT.group_block();
    let offset = F::FORMAT.offset();
    let nb = w.len() / gb;
    let wp = w.as_ptr();
    let mut facc = [_mm512_setzero_ps(); N];
    for b in 0..nb {
        let blk = wp.add(b * gb);
        let ab: [&Q8Act; N] = std::array::from_fn(|j| &*a[j].as_ptr().add(b));
        let mut even = [_mm512_setzero_si512(); N];
        let mut odd = [_mm512_setzero_si512(); N];
        for k in (0..8).step_by(2) {
            let (w0, w1) = (F::register(blk, k), F::register(blk, k + 1));
            for j in 0..N {
                let qs = ab[j].qs.as_ptr() as *const u8;
                even[j] = _mm512_dpbusd_epi32(even[j], w0, quad(qs, 4 * k));
                odd[j] = _mm512_dpbusd_epi32(odd[j], w1, quad(qs, 4 * k + 4));
            }
        }
        let d = _mm512_cvtph_ps(_mm256_loadu_si256(blk as *const __m256i));
        for j in 0..N {
            let raw = _mm512_add_epi32(even[j], odd[j]);
            let asum = *sums[j].as_ptr().add(b);
            let isum = _mm512_sub_epi32(raw, _mm512_set1_epi32(offset * asum));
            let d_a = _mm512_mul_ps(d, _mm512_set1_ps(ab[j].d));
            facc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), d_a, facc[j]);
        }
    }
    for j in 0..N {
        _mm512_storeu_ps(out[j].as_mut_ptr(), facc[j]);
    }
}

macro_rules! group_kernel {
    ($name:ident, $fmt:ty) => {
        /// One group of 16 rows (`w`) against `a.len()` (1..=4) activation rows.
        #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
        pub(super) unsafe fn $name(w: &[u8], a: &[&[Q8Act]], sums: &[&[i32]], out: &mut GroupOut) {
            match a.len() {
                1 => group::<$fmt, 1>(w, a, sums, out),
                2 => group::<$fmt, 2>(w, a, sums, out),
                3 => group::<$fmt, 3>(w, a, sums, out),
                4 => group::<$fmt, 4>(w, a, sums, out),
                _ => {}
            }
        }
    };
}

group_kernel!(q5_0_x16_avx512, Q5);
group_kernel!(q8_0_x16_avx512, Q8);
