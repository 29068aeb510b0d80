//! AVX2 and AVX-512 VNNI dot products of K-quant weight rows (Q4_K, Q5_K, Q6_K) with `Q8K`
//! activation rows. Each super-block is unpacked once into eight runs of 32 unsigned weights
//! with a 16-bit scale per 16 of them, then reused for every activation row: `maddubs`
//! multiplies weights by activations into pairs, `madd` by the run's scales into 32-bit sums
//! (AVX-512: two runs per register, `vpdpwssd` for the scales and the add), and the minimums
//! (Q6_K: its offset of 32) are applied once per super-block through the activations' sums per
//! 16 (`Q8K::bsums`). The integer sums are exact; only the two per-block scalings are float.

use std::arch::x86_64::*;

use super::x86::hsum;
use super::{TILE, TILE_ACTS, TILE_ROWS};
use crate::llm::kernels::kquant::{layout, Q8K};

/// A super-block in registers: weight `i` of run `r` is `d * scale * q - dmin * min`, with the
/// scale of its 16 in `scales[r]` (one value per 128-bit half) and `mins` the 16 sub-blocks'
/// minimum coefficients, multiplied with the activations' `bsums`.
struct Unpacked {
    q: [__m256i; 8],
    scales: [__m256i; 8],
    mins: __m256i,
    d: f32,
    dmin: f32,
}

trait KBlock {
    /// Bytes per super-block.
    const BB: usize;
    unsafe fn unpack(p: *const u8) -> Unpacked;
}

struct Q4K;
struct Q5K;
struct Q6K;

#[inline(always)]
unsafe fn f16_pair(p: *const u8) -> (f32, f32) {
    let v = _mm_cvtph_ps(_mm_cvtsi32_si128((p as *const i32).read_unaligned()));
    (_mm_cvtss_f32(v), _mm_cvtss_f32(_mm_movehdup_ps(v)))
}

/// Q4_K/Q5_K's 6-bit scales (one per run of 32, in both halves of its register) and
/// minimums (repeated for both of a run's 16-value activation sums), unpacked with word
/// arithmetic on the 12 bytes (the layout `kquant::scale_min` reads one at a time): bytes 0-3
/// hold scales 0-3 and bytes 4-7 minimums 0-3 in their low 6 bits; bytes 8-11 hold the low
/// nibbles of scales 4-7 (low) and minimums 4-7 (high), whose top two bits are the spare high
/// bits of bytes 0-3 and 4-7.
#[inline(always)]
unsafe fn scales_and_mins(p: *const u8) -> ([__m256i; 8], __m256i) {
    const LOW6: u32 = 0x3f3f_3f3f;
    const LOW4: u32 = 0x0f0f_0f0f;
    const TOP2: u32 = 0x0303_0303;
    let words = p.add(layout::SCALES) as *const u32;
    let (w0, w1, w2) = (
        words.read_unaligned(),
        words.add(1).read_unaligned(),
        words.add(2).read_unaligned(),
    );
    let scales8 = (w0 & LOW6) as u64 | (((w2 & LOW4) | (((w0 >> 6) & TOP2) << 4)) as u64) << 32;
    let mins8 =
        (w1 & LOW6) as u64 | ((((w2 >> 4) & LOW4) | (((w1 >> 6) & TOP2) << 4)) as u64) << 32;
    let scales16 =
        _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(scales8 as i64)));
    // Loops, not `array::from_fn`: a closure would not inherit the caller's target features.
    let mut scales = [_mm256_setzero_si256(); 8];
    for (j, s) in scales.iter_mut().enumerate() {
        // Bytes 2j and 2j + 1 (scale j as i16) into every 16-bit lane.
        let pick = _mm256_set1_epi16(((2 * j) | ((2 * j + 1) << 8)) as i16);
        *s = _mm256_shuffle_epi8(scales16, pick);
    }
    let mins = _mm_cvtsi64_si128(mins8 as i64);
    (scales, _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mins, mins)))
}

/// Q4_K, and with `FIFTH` Q5_K (the same but for 32 bytes of fifth bits before the nibbles:
/// bits 2c and 2c + 1 of each for run pair c).
#[inline(always)]
unsafe fn unpack_q4k_q5k<const FIFTH: bool>(p: *const u8) -> Unpacked {
    let (d, dmin) = f16_pair(p);
    let (scales, mins) = scales_and_mins(p);
    let mask = _mm256_set1_epi8(0x0f);
    let sixteen = _mm256_set1_epi8(0x10);
    let qs = p.add(if FIFTH {
        layout::Q5K_QS
    } else {
        layout::Q4K_QS
    });
    let qh = _mm256_loadu_si256(p.add(layout::Q5K_QH) as *const __m256i);
    // 0x10 in each byte whose `bit` is set in `qh`.
    let fifth = |bit: i32| {
        let b = _mm256_set1_epi8(bit as u8 as i8);
        _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b), b), sixteen)
    };
    let mut q = [_mm256_setzero_si256(); 8];
    for c in 0..4 {
        let v = _mm256_loadu_si256(qs.add(32 * c) as *const __m256i);
        q[2 * c] = _mm256_and_si256(v, mask);
        q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
        if FIFTH {
            q[2 * c] = _mm256_or_si256(q[2 * c], fifth(1 << (2 * c)));
            q[2 * c + 1] = _mm256_or_si256(q[2 * c + 1], fifth(2 << (2 * c)));
        }
    }
    Unpacked {
        q,
        scales,
        mins,
        d,
        dmin,
    }
}

impl KBlock for Q4K {
    const BB: usize = layout::Q4K_BYTES;
    #[inline(always)]
    unsafe fn unpack(p: *const u8) -> Unpacked {
        unpack_q4k_q5k::<false>(p)
    }
}

impl KBlock for Q5K {
    const BB: usize = layout::Q5K_BYTES;
    #[inline(always)]
    unsafe fn unpack(p: *const u8) -> Unpacked {
        unpack_q4k_q5k::<true>(p)
    }
}

impl KBlock for Q6K {
    const BB: usize = layout::Q6K_BYTES;
    #[inline(always)]
    unsafe fn unpack(p: *const u8) -> Unpacked {
        let d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(
            (p.add(layout::Q6K_D) as *const u16).read_unaligned() as i32,
        )));
        let sc = std::slice::from_raw_parts(p.add(layout::Q6K_SCALES) as *const i8, 16);
        let low4 = _mm256_set1_epi8(0x0f);
        let low2 = _mm256_set1_epi8(3);
        // Two bits of `h` (from bit `shift` of each byte) moved to bits 4-5.
        let top = |h: __m256i, shift: i32| {
            let bits = match shift {
                0 => h,
                2 => _mm256_srli_epi16(h, 2),
                4 => _mm256_srli_epi16(h, 4),
                _ => _mm256_srli_epi16(h, 6),
            };
            _mm256_slli_epi16(_mm256_and_si256(bits, low2), 4)
        };
        // Run r holds sub-blocks 2r (low half) and 2r + 1 (high half): the 16 scales as i16,
        // each run's pair spread over its register's halves.
        let sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(sc.as_ptr() as *const __m128i));
        // Scales 0-7 and 8-15, each in both 128-bit halves.
        let halves = [
            _mm256_permute4x64_epi64::<0x44>(sc16),
            _mm256_permute4x64_epi64::<0xee>(sc16),
        ];
        let mut scales = [_mm256_setzero_si256(); 8];
        for (r, s) in scales.iter_mut().enumerate() {
            // Bytes of scale 2r (as i16) in the low half's lanes, of 2r + 1 in the high's.
            let lo = ((4 * (r % 4)) | ((4 * (r % 4) + 1) << 8)) as i16;
            let pick = _mm256_set_m128i(_mm_set1_epi16(lo + 0x202), _mm_set1_epi16(lo));
            *s = _mm256_shuffle_epi8(halves[r / 4], pick);
        }
        let mut q = [_mm256_setzero_si256(); 8];
        for n in 0..2 {
            let l0 = _mm256_loadu_si256(p.add(64 * n) as *const __m256i);
            let l1 = _mm256_loadu_si256(p.add(64 * n + 32) as *const __m256i);
            let h = _mm256_loadu_si256(p.add(layout::Q6K_QH + 32 * n) as *const __m256i);
            let (l0_hi, l1_hi) = (_mm256_srli_epi16(l0, 4), _mm256_srli_epi16(l1, 4));
            q[4 * n] = _mm256_or_si256(_mm256_and_si256(l0, low4), top(h, 0));
            q[4 * n + 1] = _mm256_or_si256(_mm256_and_si256(l1, low4), top(h, 2));
            q[4 * n + 2] = _mm256_or_si256(_mm256_and_si256(l0_hi, low4), top(h, 4));
            q[4 * n + 3] = _mm256_or_si256(_mm256_and_si256(l1_hi, low4), top(h, 6));
        }
        Unpacked {
            q,
            scales,
            // The weights are q - 32: Σ scale·(q - 32)·a = Σ scale·q·a - 32 Σ scale·bsum.
            mins: _mm256_cvtepi8_epi16(_mm_loadu_si128(sc.as_ptr() as *const __m128i)),
            d,
            dmin: 32.0 * d,
        }
    }
}

/// How a super-block's integer sums are taken: Σ scale·q·a over its 256 weights, as the 8
/// i32 lanes of AVX2's runs of 32 (lane `l` holds bytes 4l..4l+3 of every run). The sums are
/// exact, so every width gives the same lanes, and with the one float step below
/// (`add_block`) every kernel here, one-row or tile, AVX2 or AVX-512, returns the same floats
/// for the same product: a prompt's logits do not depend on how it was batched.
trait ISum {
    /// The super-block's weights and scales in this width's registers.
    type Wide: Copy;
    unsafe fn widen(u: &Unpacked) -> Self::Wide;
    unsafe fn isum(w: &Self::Wide, aq: *const i8) -> __m256i;
}

/// 256-bit: per run of 32, `maddubs` into pairs, `madd` by the run's scales, `add`.
struct Avx2;
/// 512-bit with AVX-512 VNNI: per two runs, `maddubs` into pairs and `vpdpwssd` (the pairs
/// times the scales, added to the sums in one instruction); the two halves are added at the
/// end into AVX2's lanes.
struct Avx512;

impl ISum for Avx2 {
    type Wide = ([__m256i; 8], [__m256i; 8]);
    #[inline(always)]
    unsafe fn widen(u: &Unpacked) -> Self::Wide {
        (u.q, u.scales)
    }
    #[inline(always)]
    unsafe fn isum(w: &Self::Wide, aq: *const i8) -> __m256i {
        let mut isum = _mm256_setzero_si256();
        for (r, (q, scale)) in w.0.iter().zip(&w.1).enumerate() {
            let av = _mm256_loadu_si256(aq.add(32 * r) as *const __m256i);
            // Pairs of 6-bit weights by int8 activations fit in i16 (2·63·127).
            let pairs = _mm256_maddubs_epi16(*q, av);
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(pairs, *scale));
        }
        isum
    }
}

// The AVX-512 intrinsics are stable since Rust 1.89, the crate's rust-version.
impl ISum for Avx512 {
    type Wide = ([__m512i; 4], [__m512i; 4]);
    #[inline(always)]
    unsafe fn widen(u: &Unpacked) -> Self::Wide {
        let mut q = [_mm512_setzero_si512(); 4];
        let mut scales = [_mm512_setzero_si512(); 4];
        for k in 0..4 {
            q[k] = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(u.q[2 * k]), u.q[2 * k + 1]);
            scales[k] = _mm512_inserti64x4::<1>(
                _mm512_castsi256_si512(u.scales[2 * k]),
                u.scales[2 * k + 1],
            );
        }
        (q, scales)
    }
    #[inline(always)]
    unsafe fn isum(w: &Self::Wide, aq: *const i8) -> __m256i {
        let mut isum = _mm512_setzero_si512();
        for k in 0..4 {
            let av = _mm512_loadu_si512(aq.add(64 * k) as *const __m512i);
            let pairs = _mm512_maddubs_epi16(w.0[k], av);
            isum = _mm512_dpwssd_epi32(isum, pairs, w.1[k]);
        }
        _mm256_add_epi32(
            _mm512_castsi512_si256(isum),
            _mm512_extracti64x4_epi64::<1>(isum),
        )
    }
}

/// Adds one super-block's product to a row's float sums: the integer sums times d and the
/// minimums' sums (Σ min·bsum) times −dmin, each by the activation row's scale.
#[inline(always)]
unsafe fn add_block(acc: __m256, isum: __m256i, blk: &Unpacked, ab: &Q8K) -> __m256 {
    let bsums = _mm256_loadu_si256(ab.bsums.as_ptr() as *const __m256i);
    let msum = _mm256_madd_epi16(bsums, blk.mins);
    let acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(blk.d * ab.d), acc);
    _mm256_fmadd_ps(
        _mm256_cvtepi32_ps(msum),
        _mm256_set1_ps(-blk.dmin * ab.d),
        acc,
    )
}

/// `N` activation rows against one weight row of `F` super-blocks.
#[inline(always)]
unsafe fn rows_n<F: KBlock, S: ISum, const N: usize>(w: &[u8], a: &[&[Q8K]], out: &mut [f32]) {
    let nb = w.len() / F::BB;
    let wp = w.as_ptr();
    let rows: [*const Q8K; N] = std::array::from_fn(|i| a[i].as_ptr());
    let mut acc = [_mm256_setzero_ps(); N];
    for b in 0..nb {
        let blk = F::unpack(wp.add(b * F::BB));
        let wide = S::widen(&blk);
        for i in 0..N {
            let ab = &*rows[i].add(b);
            acc[i] = add_block(acc[i], S::isum(&wide, ab.qs.as_ptr()), &blk, ab);
        }
    }
    for i in 0..N {
        out[i] = hsum(acc[i]);
    }
}

macro_rules! k_kernel {
    ($name:ident, $fmt:ty, $s:ty, $features:literal) => {
        #[target_feature(enable = $features)]
        pub(super) unsafe fn $name(w: &[u8], a: &[&[Q8K]], out: &mut [f32]) {
            match a.len() {
                1 => rows_n::<$fmt, $s, 1>(w, a, out),
                2 => rows_n::<$fmt, $s, 2>(w, a, out),
                3 => rows_n::<$fmt, $s, 3>(w, a, out),
                4 => rows_n::<$fmt, $s, 4>(w, a, out),
                _ => {}
            }
        }
    };
}

/// The one-row and tile kernels of the three formats for one width and its features.
macro_rules! k_kernels {
    ($s:ty, $features:literal, [$($name:ident, $tile:ident, $fmt:ty);+]) => {
        $(
            k_kernel!($name, $fmt, $s, $features);
            k_tile_kernel!($tile, $fmt, $s, $features);
        )+
    };
}

/// `R` consecutive weight rows (each `rb` bytes from `w`) against `T` activation rows, for
/// prompts: each row's super-block is unpacked once for all `T` rows, and each activation
/// row's runs are read from L1 once per weight row. The float sums are updated once per
/// super-block, in the one-row kernel's order (`add_block`).
// `b` walks the super-blocks of every weight row and activation row at once.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
unsafe fn tile<F: KBlock, S: ISum, const R: usize, const T: usize>(
    w: &[u8],
    rb: usize,
    a: &[&[Q8K]; T],
    out: &mut [f32],
) {
    let nb = rb / F::BB;
    let wp = w.as_ptr();
    let mut facc = [[_mm256_setzero_ps(); T]; R];
    for b in 0..nb {
        // Filled by a loop, not `array::from_fn`: a closure would not inherit this function's
        // target features, and the unpacking intrinsics would become calls.
        // SAFETY: `Unpacked` is vectors and floats, for which all-zero bytes are valid.
        let mut blk: [Unpacked; R] = std::mem::zeroed();
        for (i, bi) in blk.iter_mut().enumerate() {
            *bi = F::unpack(wp.add(i * rb + b * F::BB));
        }
        let ab: [&Q8K; T] = std::array::from_fn(|j| &a[j][b]);
        for (i, bi) in blk.iter().enumerate() {
            let wide = S::widen(bi);
            for (j, aj) in ab.iter().enumerate() {
                facc[i][j] = add_block(facc[i][j], S::isum(&wide, aj.qs.as_ptr()), bi, aj);
            }
        }
    }
    for i in 0..R {
        for j in 0..T {
            out[i * T + j] = hsum(facc[i][j]);
        }
    }
}

macro_rules! k_tile_kernel {
    ($name:ident, $fmt:ty, $s:ty, $features:literal) => {
        #[target_feature(enable = $features)]
        pub(super) unsafe fn $name(w: &[u8], a: &[&[Q8K]; TILE_ACTS], out: &mut [f32; TILE]) {
            tile::<$fmt, $s, TILE_ROWS, TILE_ACTS>(w, w.len() / TILE_ROWS, a, out)
        }
    };
}

k_kernels!(Avx2, "avx2,fma,f16c", [
    q4k_avx2, q4k_tile_avx2, Q4K;
    q5k_avx2, q5k_tile_avx2, Q5K;
    q6k_avx2, q6k_tile_avx2, Q6K
]);
k_kernels!(Avx512, "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni", [
    q4k_avx512, q4k_tile_avx512, Q4K;
    q5k_avx512, q5k_tile_avx512, Q5K;
    q6k_avx512, q6k_tile_avx512, Q6K
]);
