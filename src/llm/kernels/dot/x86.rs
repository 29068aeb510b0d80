//! The x86-64 kernels: AVX2+FMA+F16C, and the same with AVX-512 VNNI's `vpdpbusd` for the
//! u8×i8 sums; chosen at run time by `super::kernels`. The K-quants' are in `x86_kquants`.

use super::x86_kquants::{
    q4k_avx2, q4k_avx512, q4k_tile_avx2, q4k_tile_avx512, q5k_avx2, q5k_avx512, q5k_tile_avx2,
    q5k_tile_avx512, q6k_avx2, q6k_avx512, q6k_tile_avx2, q6k_tile_avx512,
};
use super::*;
use std::arch::x86_64::*;

pub static AVX2: Kernels = Kernels {
    name: "avx2",
    q4_0: q4_0_avx2,
    q4_1: q4_1_avx2,
    q5_0: q5_0_avx2,
    q5_1: q5_1_avx2,
    q8_0: q8_0_avx2,
    q4_0_tile: q4_0_tile_avx2,
    q4_1_tile: q4_1_tile_avx2,
    q5_0_tile: q5_0_tile_avx2,
    q5_1_tile: q5_1_tile_avx2,
    q8_0_tile: q8_0_tile_avx2,
    q4k: q4k_avx2,
    q5k: q5k_avx2,
    q6k: q6k_avx2,
    q4k_tile: q4k_tile_avx2,
    q5k_tile: q5k_tile_avx2,
    q6k_tile: q6k_tile_avx2,
    q4k_x16: None,
    q5_0_x16: None,
    q8_0_x16: None,
    q4_1x2: q4_1x2_avx2,
    q4_1x2_rows: q4_1x2_rows_avx2,
    head,
    silu_mul,
};

/// AVX-512 VNNI's `vpdpbusd` on 256-bit vectors replaces AVX2's two-step u8×i8 sum. The
/// K-quants' scales change every 16 or 32 weights, so a `vpdpbusd` would need a 32-bit multiply
/// after it; theirs take 512-bit `maddubs` and `vpdpwssd` (the pairs times the scales, added in
/// one instruction) over two runs at once, and return the same floats as AVX2's.
pub static VNNI: Kernels = Kernels {
    name: "avx512vnni",
    q4_0: q4_0_vnni,
    q4_1: q4_1_vnni,
    q5_0: q5_0_vnni,
    q5_1: q5_1_vnni,
    q8_0: q8_0_vnni,
    q4_0_tile: q4_0_tile_vnni,
    q4_1_tile: q4_1_tile_vnni,
    q5_0_tile: q5_0_tile_vnni,
    q5_1_tile: q5_1_tile_vnni,
    q8_0_tile: q8_0_tile_vnni,
    q4k: q4k_avx512,
    q5k: q5k_avx512,
    q6k: q6k_avx512,
    q4k_tile: q4k_tile_avx512,
    q5k_tile: q5k_tile_avx512,
    q6k_tile: q6k_tile_avx512,
    q4k_x16: Some(super::x86_q4k_x16::q4k_x16_avx512),
    q5_0_x16: Some(super::x86_q32_x16::q5_0_x16_avx512),
    q8_0_x16: Some(super::x86_q32_x16::q8_0_x16_avx512),
    q4_1x2: q4_1x2_vnni,
    q4_1x2_rows: q4_1x2_rows_vnni,
    head,
    silu_mul,
};

pub fn available() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

pub fn vnni_available() -> bool {
    available()
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vnni")
}

#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// The two f16 at `p` (a block's d and, for Q4_1, m) as f32.
#[inline(always)]
unsafe fn scales(p: *const u8) -> (f32, f32) {
    let v = _mm_cvtph_ps(_mm_cvtsi32_si128((p as *const i32).read_unaligned()));
    (_mm_cvtss_f32(v), _mm_cvtss_f32(_mm_movehdup_ps(v)))
}

/// The 32-bit mask at `p` as 32 bytes, 0x10 where its bit is set (byte `i` for bit `i`): the
/// fifth bits of a Q5 block, in place.
#[inline(always)]
unsafe fn fifth_bits(p: *const u8) -> __m256i {
    let qh = _mm256_set1_epi32((p as *const i32).read_unaligned());
    // Byte i takes mask byte i / 8 (each 128-bit lane holds all four), then tests bit i % 8.
    let spread = _mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3,
        3, 3,
    );
    let bit = _mm256_set1_epi64x(0x8040_2010_0804_0201_u64 as i64);
    let set = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(qh, spread), bit), bit);
    _mm256_and_si256(set, _mm256_set1_epi8(0x10))
}

/// The 32 nibbles of a 4-bit block as bytes 0..15, in element order.
#[inline(always)]
unsafe fn nibbles(p: *const u8) -> __m256i {
    let q = _mm_loadu_si128(p as *const __m128i);
    let mask = _mm_set1_epi8(0x0f);
    let lo = _mm_and_si128(q, mask);
    let hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
    _mm256_set_m128i(hi, lo)
}

/// Σ u8(w) · i8(a) over 32 lanes, as 8 partial sums in f32.
trait U8I8 {
    unsafe fn dot(w: __m256i, a: __m256i) -> __m256;
}
struct Avx2;
struct Vnni;
impl U8I8 for Avx2 {
    #[inline(always)]
    unsafe fn dot(w: __m256i, a: __m256i) -> __m256 {
        let p = _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(1));
        _mm256_cvtepi32_ps(p)
    }
}
// The VNNI intrinsics and target feature are stable since Rust 1.89; the crate's declared
// rust-version (1.85) needs raising to match (Cargo.toml is not this module's to edit).
#[allow(clippy::incompatible_msrv)]
impl U8I8 for Vnni {
    #[inline(always)]
    unsafe fn dot(w: __m256i, a: __m256i) -> __m256 {
        _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), w, a))
    }
}

/// One weight format: block bytes, and per block (unsigned weights, the activation sign
/// source for Q8_0, d, and the per-block offset factor applied to `Q8Act::s`).
trait Format {
    const BB: usize;
    const SIGNED: bool;
    /// Whether the per-block offset factor is ever non-zero.
    const OFFSET: bool;
    unsafe fn unpack(p: *const u8) -> (__m256i, f32, f32);
}
struct Q40;
struct Q41;
struct Q50;
struct Q51;
struct Q80;
impl Format for Q40 {
    const OFFSET: bool = true;
    const BB: usize = 18;
    const SIGNED: bool = false;
    #[inline(always)]
    unsafe fn unpack(p: *const u8) -> (__m256i, f32, f32) {
        let (d, _) = scales(p);
        (nibbles(p.add(2)), d, -8.0 * d)
    }
}
impl Format for Q41 {
    const OFFSET: bool = true;
    const BB: usize = 20;
    const SIGNED: bool = false;
    #[inline(always)]
    unsafe fn unpack(p: *const u8) -> (__m256i, f32, f32) {
        let (d, m) = scales(p);
        (nibbles(p.add(4)), d, m)
    }
}
impl Format for Q50 {
    const OFFSET: bool = false;
    const BB: usize = 22;
    // q - 16 in -16..=15: signed, so the offset is applied per weight, exactly, as llama.cpp
    // does with its Q8_0 activations.
    const SIGNED: bool = true;
    #[inline(always)]
    unsafe fn unpack(p: *const u8) -> (__m256i, f32, f32) {
        let (d, _) = scales(p);
        let q = _mm256_or_si256(nibbles(p.add(6)), fifth_bits(p.add(2)));
        (_mm256_sub_epi8(q, _mm256_set1_epi8(16)), d, 0.0)
    }
}
impl Format for Q51 {
    const OFFSET: bool = true;
    const BB: usize = 24;
    const SIGNED: bool = false;
    #[inline(always)]
    unsafe fn unpack(p: *const u8) -> (__m256i, f32, f32) {
        let (d, m) = scales(p);
        (
            _mm256_or_si256(nibbles(p.add(8)), fifth_bits(p.add(4))),
            d,
            m,
        )
    }
}
impl Format for Q80 {
    const OFFSET: bool = false;
    const BB: usize = 34;
    const SIGNED: bool = true;
    #[inline(always)]
    unsafe fn unpack(p: *const u8) -> (__m256i, f32, f32) {
        let (d, _) = scales(p);
        (_mm256_loadu_si256(p.add(2) as *const __m256i), d, 0.0)
    }
}

#[inline(always)]
unsafe fn block<F: Format, M: U8I8>(w: __m256i, ab: &Q8Act) -> __m256 {
    let av = _mm256_loadu_si256(ab.qs.as_ptr() as *const __m256i);
    if F::SIGNED {
        // maddubs/dpbusd want one unsigned operand: move w's sign onto a.
        M::dot(_mm256_sign_epi8(w, w), _mm256_sign_epi8(av, w))
    } else {
        M::dot(w, av)
    }
}

/// `N` activation rows; blocks in pairs with two accumulators each, to hide FMA latency.
#[inline(always)]
unsafe fn rows_n<F: Format, M: U8I8, const N: usize>(w: &[u8], a: &[&[Q8Act]], out: &mut [f32]) {
    let nb = w.len() / F::BB;
    let wp = w.as_ptr();
    let rows: [*const Q8Act; N] = std::array::from_fn(|i| a[i].as_ptr());
    let mut acc0 = [_mm256_setzero_ps(); N];
    let mut acc1 = [_mm256_setzero_ps(); N];
    let mut off = [0f32; N];
    let mut b = 0;
    while b + 2 <= nb {
        let (w0, d0, o0) = F::unpack(wp.add(b * F::BB));
        let (w1, d1, o1) = F::unpack(wp.add((b + 1) * F::BB));
        for i in 0..N {
            let a0 = &*rows[i].add(b);
            let a1 = &*rows[i].add(b + 1);
            acc0[i] = _mm256_fmadd_ps(block::<F, M>(w0, a0), _mm256_set1_ps(d0 * a0.d), acc0[i]);
            acc1[i] = _mm256_fmadd_ps(block::<F, M>(w1, a1), _mm256_set1_ps(d1 * a1.d), acc1[i]);
            off[i] += o0 * a0.s + o1 * a1.s;
        }
        b += 2;
    }
    if b < nb {
        let (w0, d0, o0) = F::unpack(wp.add(b * F::BB));
        for i in 0..N {
            let a0 = &*rows[i].add(b);
            acc0[i] = _mm256_fmadd_ps(block::<F, M>(w0, a0), _mm256_set1_ps(d0 * a0.d), acc0[i]);
            off[i] += o0 * a0.s;
        }
    }
    for i in 0..N {
        out[i] = hsum(_mm256_add_ps(acc0[i], acc1[i])) + off[i];
    }
}

macro_rules! kernel {
    ($name:ident, $fmt:ty, $m:ty, $features:literal) => {
        #[target_feature(enable = $features)]
        unsafe fn $name(w: &[u8], a: &[&[Q8Act]], out: &mut [f32]) {
            match a.len() {
                1 => rows_n::<$fmt, $m, 1>(w, a, out),
                2 => rows_n::<$fmt, $m, 2>(w, a, out),
                3 => rows_n::<$fmt, $m, 3>(w, a, out),
                4 => rows_n::<$fmt, $m, 4>(w, a, out),
                _ => {}
            }
        }
    };
}

/// `R` consecutive weight rows (each `rb` bytes from `w`) against `T` activation rows, for
/// prompts: each weight block is unpacked (and, for the signed formats, its absolute value
/// taken) once for all `T` rows, each activation block loaded once for all `R`.
// `b`, `i` and `j` index the weight rows' blocks, the activation rows and the sums at once.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
unsafe fn tile<F: Format, M: U8I8, const R: usize, const T: usize>(
    w: &[u8],
    rb: usize,
    a: &[&[Q8Act]; T],
    out: &mut [f32],
) {
    let nb = rb / F::BB;
    let wp = w.as_ptr();
    let mut acc = [[_mm256_setzero_ps(); T]; R];
    let mut off = [[0f32; T]; R];
    for b in 0..nb {
        // Loops, not `array::from_fn`: a closure would not inherit this function's target
        // features.
        let mut wq = [_mm256_setzero_si256(); R];
        let mut wabs = [_mm256_setzero_si256(); R];
        let mut wd = [_mm256_setzero_ps(); R];
        let mut wo = [0f32; R];
        for i in 0..R {
            let (q, d, o) = F::unpack(wp.add(i * rb + b * F::BB));
            wq[i] = q;
            wabs[i] = if F::SIGNED { _mm256_sign_epi8(q, q) } else { q };
            wd[i] = _mm256_set1_ps(d);
            wo[i] = o;
        }
        for j in 0..T {
            let ab = &a[j][b];
            let av = _mm256_loadu_si256(ab.qs.as_ptr() as *const __m256i);
            let ad = _mm256_set1_ps(ab.d);
            for i in 0..R {
                let a_signed = if F::SIGNED {
                    _mm256_sign_epi8(av, wq[i])
                } else {
                    av
                };
                let sums = M::dot(wabs[i], a_signed);
                acc[i][j] = _mm256_fmadd_ps(sums, _mm256_mul_ps(wd[i], ad), acc[i][j]);
                if F::OFFSET {
                    off[i][j] += wo[i] * ab.s;
                }
            }
        }
    }
    for i in 0..R {
        for j in 0..T {
            out[i * T + j] = hsum(acc[i][j]) + off[i][j];
        }
    }
}

macro_rules! tile_kernel {
    ($name:ident, $fmt:ty, $m:ty, $features:literal) => {
        #[target_feature(enable = $features)]
        unsafe fn $name(w: &[u8], a: &[&[Q8Act]; TILE_ACTS], out: &mut [f32; TILE]) {
            tile::<$fmt, $m, TILE_ROWS, TILE_ACTS>(w, w.len() / TILE_ROWS, a, out)
        }
    };
}

tile_kernel!(q4_0_tile_avx2, Q40, Avx2, "avx2,fma,f16c");
tile_kernel!(q4_1_tile_avx2, Q41, Avx2, "avx2,fma,f16c");
tile_kernel!(q5_0_tile_avx2, Q50, Avx2, "avx2,fma,f16c");
tile_kernel!(q5_1_tile_avx2, Q51, Avx2, "avx2,fma,f16c");
tile_kernel!(q8_0_tile_avx2, Q80, Avx2, "avx2,fma,f16c");
tile_kernel!(
    q4_0_tile_vnni,
    Q40,
    Vnni,
    "avx2,fma,f16c,avx512vnni,avx512vl"
);
tile_kernel!(
    q4_1_tile_vnni,
    Q41,
    Vnni,
    "avx2,fma,f16c,avx512vnni,avx512vl"
);
tile_kernel!(
    q5_0_tile_vnni,
    Q50,
    Vnni,
    "avx2,fma,f16c,avx512vnni,avx512vl"
);
tile_kernel!(
    q5_1_tile_vnni,
    Q51,
    Vnni,
    "avx2,fma,f16c,avx512vnni,avx512vl"
);
tile_kernel!(
    q8_0_tile_vnni,
    Q80,
    Vnni,
    "avx2,fma,f16c,avx512vnni,avx512vl"
);

/// Σ over 32 u8·i8 products of two (w, a) register pairs, as 8 i32 partial sums.
trait PairSum {
    unsafe fn sum2(w0: __m256i, a0: __m256i, w1: __m256i, a1: __m256i) -> __m256i;
}
impl PairSum for Avx2 {
    #[inline(always)]
    unsafe fn sum2(w0: __m256i, a0: __m256i, w1: __m256i, a1: __m256i) -> __m256i {
        // 15·127·2 per i16 lane, twice, fits in i16.
        let p = _mm256_add_epi16(_mm256_maddubs_epi16(w0, a0), _mm256_maddubs_epi16(w1, a1));
        _mm256_madd_epi16(p, _mm256_set1_epi16(1))
    }
}
#[allow(clippy::incompatible_msrv)]
impl PairSum for Vnni {
    #[inline(always)]
    unsafe fn sum2(w0: __m256i, a0: __m256i, w1: __m256i, a1: __m256i) -> __m256i {
        _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), w0, a0), w1, a1)
    }
}

/// `N` paired-activation rows against a `Q4_1x2` row. Per pair of blocks: one load of
/// both blocks' nibbles, two u8·i8 sums (lanes 0-3 block 0, 4-7 block 1), one f16→f32 of
/// (d0, d1, m0, m1) times the activations' (d0, d1, s0, s1).
#[inline(always)]
unsafe fn pairs_n<M: PairSum, const N: usize>(w: &[u8], a: &[&[Q8Pair]], out: &mut [f32]) {
    let np = w.len() / 40;
    let wp = w.as_ptr();
    let rows: [*const Q8Pair; N] = std::array::from_fn(|i| a[i].as_ptr());
    let mut acc = [_mm256_setzero_ps(); N];
    let mut off = [_mm_setzero_ps(); N];
    let mask = _mm256_set1_epi8(0x0f);
    let spread = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    for p in 0..np {
        let base = wp.add(p * 40);
        let dm = _mm_cvtph_ps(_mm_loadl_epi64(base as *const __m128i));
        let q = _mm256_loadu_si256(base.add(8) as *const __m256i);
        let lo = _mm256_and_si256(q, mask);
        let hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
        for i in 0..N {
            let ap = &*rows[i].add(p);
            let al = _mm256_loadu_si256(ap.lo.as_ptr() as *const __m256i);
            let ah = _mm256_loadu_si256(ap.hi.as_ptr() as *const __m256i);
            let sums = _mm256_cvtepi32_ps(M::sum2(lo, al, hi, ah));
            // (d0·ad0, d1·ad1, m0·s0, m1·s1)
            let f = _mm_mul_ps(dm, _mm_loadu_ps(ap.ds.as_ptr()));
            let scale = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(f), spread);
            acc[i] = _mm256_fmadd_ps(sums, scale, acc[i]);
            off[i] = _mm_add_ps(off[i], f);
        }
    }
    for i in 0..N {
        let o = _mm_movehl_ps(off[i], off[i]);
        out[i] = hsum(acc[i]) + _mm_cvtss_f32(o) + _mm_cvtss_f32(_mm_movehdup_ps(o));
    }
}

macro_rules! pair_kernel {
    ($name:ident, $m:ty, $features:literal) => {
        #[target_feature(enable = $features)]
        unsafe fn $name(w: &[u8], a: &[&[Q8Pair]], out: &mut [f32]) {
            match a.len() {
                1 => pairs_n::<$m, 1>(w, a, out),
                2 => pairs_n::<$m, 2>(w, a, out),
                3 => pairs_n::<$m, 3>(w, a, out),
                4 => pairs_n::<$m, 4>(w, a, out),
                _ => {}
            }
        }
    };
}

/// `R` weight rows against one activation row.
#[inline(always)]
unsafe fn rows_r<M: PairSum, const R: usize>(w: *const u8, rb: usize, a: &[Q8Pair]) -> [f32; R] {
    let mut acc = [_mm256_setzero_ps(); R];
    let mut off = [_mm_setzero_ps(); R];
    let mask = _mm256_set1_epi8(0x0f);
    let spread = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    for (p, ap) in a.iter().enumerate() {
        let al = _mm256_loadu_si256(ap.lo.as_ptr() as *const __m256i);
        let ah = _mm256_loadu_si256(ap.hi.as_ptr() as *const __m256i);
        let ads = _mm_loadu_ps(ap.ds.as_ptr());
        for r in 0..R {
            let base = w.add(r * rb + p * 40);
            let dm = _mm_cvtph_ps(_mm_loadl_epi64(base as *const __m128i));
            let q = _mm256_loadu_si256(base.add(8) as *const __m256i);
            let lo = _mm256_and_si256(q, mask);
            let hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
            let sums = _mm256_cvtepi32_ps(M::sum2(lo, al, hi, ah));
            let f = _mm_mul_ps(dm, ads);
            let scale = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(f), spread);
            acc[r] = _mm256_fmadd_ps(sums, scale, acc[r]);
            off[r] = _mm_add_ps(off[r], f);
        }
    }
    std::array::from_fn(|r| {
        let o = _mm_movehl_ps(off[r], off[r]);
        hsum(acc[r]) + _mm_cvtss_f32(o) + _mm_cvtss_f32(_mm_movehdup_ps(o))
    })
}

macro_rules! rows_kernel {
    ($name:ident, $m:ty, $features:literal) => {
        #[target_feature(enable = $features)]
        unsafe fn $name(w: &[u8], a: &[Q8Pair], out: &mut [f32]) {
            let rb = a.len() * 40;
            let mut r = 0;
            while r + 2 <= out.len() {
                let v = rows_r::<$m, 2>(w.as_ptr().add(r * rb), rb, a);
                out[r..r + 2].copy_from_slice(&v);
                r += 2;
            }
            while r < out.len() {
                out[r] = rows_r::<$m, 1>(w.as_ptr().add(r * rb), rb, a)[0];
                r += 1;
            }
        }
    };
}

rows_kernel!(q4_1x2_rows_avx2, Avx2, "avx2,fma,f16c");
rows_kernel!(q4_1x2_rows_vnni, Vnni, "avx2,fma,f16c,avx512vnni,avx512vl");

pair_kernel!(q4_1x2_avx2, Avx2, "avx2,fma,f16c");
pair_kernel!(q4_1x2_vnni, Vnni, "avx2,fma,f16c,avx512vnni,avx512vl");

kernel!(q4_0_avx2, Q40, Avx2, "avx2,fma,f16c");
kernel!(q4_1_avx2, Q41, Avx2, "avx2,fma,f16c");
kernel!(q5_0_avx2, Q50, Avx2, "avx2,fma,f16c");
kernel!(q5_1_avx2, Q51, Avx2, "avx2,fma,f16c");
kernel!(q8_0_avx2, Q80, Avx2, "avx2,fma,f16c");
kernel!(q4_0_vnni, Q40, Vnni, "avx2,fma,f16c,avx512vnni,avx512vl");
kernel!(q4_1_vnni, Q41, Vnni, "avx2,fma,f16c,avx512vnni,avx512vl");
kernel!(q5_0_vnni, Q50, Vnni, "avx2,fma,f16c,avx512vnni,avx512vl");
kernel!(q5_1_vnni, Q51, Vnni, "avx2,fma,f16c,avx512vnni,avx512vl");
kernel!(q8_0_vnni, Q80, Vnni, "avx2,fma,f16c,avx512vnni,avx512vl");

/// Eight f16 at `p` as f32.
#[inline(always)]
unsafe fn load_f16x8(p: *const u16) -> __m256 {
    _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i))
}

#[inline(always)]
unsafe fn dot_row<const H: usize>(qv: &[__m256; H], row: *const u16) -> __m256 {
    let mut a = _mm256_mul_ps(qv[0], load_f16x8(row));
    for (j, q) in qv.iter().enumerate().skip(1) {
        a = _mm256_fmadd_ps(*q, load_f16x8(row.add(8 * j)), a);
    }
    a
}

#[cfg(test)]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn exp_all(x: &mut [f32]) {
    for c in x.chunks_exact_mut(8) {
        _mm256_storeu_ps(c.as_mut_ptr(), exp8(_mm256_loadu_ps(c.as_ptr())));
    }
}

/// e^x for 8 lanes (Cephes' polynomial, relative error ~1e-7; inputs below -87 give 0).
#[inline(always)]
unsafe fn exp8(x: __m256) -> __m256 {
    let x = _mm256_max_ps(x, _mm256_set1_ps(-87.0));
    let x = _mm256_min_ps(x, _mm256_set1_ps(88.0));
    let fx = _mm256_floor_ps(_mm256_fmadd_ps(
        x,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
        _mm256_set1_ps(0.5),
    ));
    let x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693_359_4), x);
    let x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.121_944_4e-4), x);
    let mut y = _mm256_set1_ps(1.987_569_1e-4);
    for c in [
        1.398_2e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ] {
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(c));
    }
    y = _mm256_fmadd_ps(
        y,
        _mm256_mul_ps(x, x),
        _mm256_add_ps(x, _mm256_set1_ps(1.0)),
    );
    let n = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)),
        23,
    );
    _mm256_mul_ps(y, _mm256_castsi256_ps(n))
}

/// Replaces `s` by exp(s - max(s)) and returns the sum.
#[inline(always)]
unsafe fn softmax_exp(s: &mut [f32]) -> f32 {
    let max = s.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mv = _mm256_set1_ps(max);
    let mut acc = _mm256_setzero_ps();
    let mut chunks = s.chunks_exact_mut(8);
    for c in &mut chunks {
        let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(c.as_ptr()), mv));
        _mm256_storeu_ps(c.as_mut_ptr(), e);
        acc = _mm256_add_ps(acc, e);
    }
    let mut sum = hsum(acc);
    for v in chunks.into_remainder() {
        *v = (*v - max).exp();
        sum += *v;
    }
    sum
}

unsafe fn head(
    q: &[f32],
    keys: &[u16],
    values: &[u16],
    scale: f32,
    s: &mut Vec<f32>,
    out: &mut [f32],
) {
    match q.len() {
        32 => head_n::<4>(q, keys, values, scale, s, out),
        64 => head_n::<8>(q, keys, values, scale, s, out),
        128 => head_n::<16>(q, keys, values, scale, s, out),
        _ => super::scalar::head(q, keys, values, scale, s, out),
    }
}

/// A head of `8 * H` dims: q and the output accumulators live in registers while the keys
/// and then the values stream past once.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn head_n<const H: usize>(
    q: &[f32],
    keys: &[u16],
    values: &[u16],
    scale: f32,
    s: &mut Vec<f32>,
    out: &mut [f32],
) {
    let hd = 8 * H;
    let len = keys.len() / hd;
    let sv = _mm256_set1_ps(scale);
    let qv: [__m256; H] =
        std::array::from_fn(|j| _mm256_mul_ps(_mm256_loadu_ps(q.as_ptr().add(8 * j)), sv));
    s.clear();
    s.resize(len, 0.0);
    let kp = keys.as_ptr();
    let sp = s.as_mut_ptr();
    let dot = |row: *const u16| dot_row(&qv, row);
    // Four positions at a time, so one horizontal reduction serves four scores.
    let mut p = 0;
    while p + 4 <= len {
        let a0 = dot(kp.add(p * hd));
        let a1 = dot(kp.add((p + 1) * hd));
        let a2 = dot(kp.add((p + 2) * hd));
        let a3 = dot(kp.add((p + 3) * hd));
        let t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
        let r = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
        _mm_storeu_ps(sp.add(p), r);
        p += 4;
    }
    while p < len {
        *sp.add(p) = hsum(dot(kp.add(p * hd)));
        p += 1;
    }
    let sum = softmax_exp(s);
    let mut acc = [_mm256_setzero_ps(); H];
    let vp = values.as_ptr();
    for (p, &w) in s.iter().enumerate() {
        let row = vp.add(p * hd);
        let wv = _mm256_set1_ps(w);
        for (j, a) in acc.iter_mut().enumerate() {
            *a = _mm256_fmadd_ps(wv, load_f16x8(row.add(8 * j)), *a);
        }
    }
    let inv = _mm256_set1_ps(1.0 / sum);
    for (j, a) in acc.iter().enumerate() {
        _mm256_storeu_ps(out.as_mut_ptr().add(8 * j), _mm256_mul_ps(*a, inv));
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn silu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) {
    let n = gate.len();
    let one = _mm256_set1_ps(1.0);
    let mut i = 0;
    while i + 8 <= n {
        let g = _mm256_loadu_ps(gate.as_ptr().add(i));
        let e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
        let sg = _mm256_div_ps(g, _mm256_add_ps(one, e));
        let r = _mm256_mul_ps(sg, _mm256_loadu_ps(up.as_ptr().add(i)));
        _mm256_storeu_ps(out.as_mut_ptr().add(i), r);
        i += 8;
    }
    super::scalar::silu_mul(&gate[i..], &up[i..], &mut out[i..]);
}
