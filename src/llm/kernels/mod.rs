//! Our own CPU kernels for the forward pass: block formats of the quantized weights we keep
//! (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and the Q8 activations they are multiplied with (`quant`),
//! the K-quants Q4_K, Q5_K, Q6_K and their Q8_K activations (`kquant`), Q4_K regrouped by 16
//! rows for AVX-512 VNNI (`q4k_x16`, which also holds the walk every 16-row layout shares;
//! Q5_0 and Q8_0 likewise in `q32_x16`), SIMD dot
//! products chosen at run time by the CPU's features (`dot`), a small persistent thread pool
//! (`pool`), the multithreaded matrix multiply built from those (`matmul`), its batched
//! counterpart for the sentence encoder (`gemm`: Q4_0 unpacked once into int8 panels for a
//! register-blocked product over many rows), attention over the
//! preallocated f16 KV cache (`attention`) and the huge-page memory the weights live in
//! (`arena`).
//!
//! candle 0.11 has no x86 SIMD path for Q4_1 and its per-op overheads dominate at this model
//! size, so the CPU forward runs on these instead; each kernel is tested against candle's
//! reference implementation on random data.

pub mod arena;
pub mod attention;
pub mod dot;
pub mod gemm;
pub mod kquant;
pub mod matmul;
pub mod pool;
pub mod q32_x16;
pub mod q4k_x16;
pub mod quant;

pub use arena::WeightArena;

/// Reproducible values in [-1, 1) for the kernels' tests and their callers' (a 64-bit LCG;
/// the same `seed` gives the same values on every machine).
#[cfg(test)]
pub(crate) fn test_values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}
pub use matmul::{matmul, Acts, QMatrix};
pub use quant::{Q8Act, Q8Pair, QType};
