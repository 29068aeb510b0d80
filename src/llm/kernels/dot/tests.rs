//! The kernels against candle's reference and against each other, on random data.

use super::*;
use crate::llm::kernels::quant::{f32_to_f16, quantize_acts};
use crate::llm::kernels::test_values as random;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

/// Our kernels (scalar and the dispatched ones) against candle's quantize + dequantize +
/// f32 dot on random data.
fn all() -> Vec<&'static Kernels> {
    let mut v = vec![&SCALAR];
    #[cfg(target_arch = "x86_64")]
    {
        if x86::available() {
            v.push(&x86::AVX2);
        }
        if x86::vnni_available() {
            v.push(&x86::VNNI);
        }
    }
    v
}

#[test]
fn quantized_dots_match_candle() {
    let k = 288;
    for (dtype, qtype) in [
        (GgmlDType::Q4_0, QType::Q4_0),
        (GgmlDType::Q4_1, QType::Q4_1),
        (GgmlDType::Q8_0, QType::Q8_0),
    ] {
        let wf = random(3 * k, 7);
        let w = Tensor::from_vec(wf, (3, k), &Device::Cpu).unwrap();
        let qw = QTensor::quantize(&w, dtype).unwrap();
        let bytes = qw.data().unwrap().into_owned();
        let deq: Vec<f32> = qw
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let acts: Vec<Vec<f32>> = (0..4).map(|i| random(k, 100 + i)).collect();
        let qa: Vec<Vec<Q8Act>> = acts
            .iter()
            .map(|x| {
                let mut q = vec![Q8Act::default(); k / QK];
                quantize_acts(x, &mut q);
                q
            })
            .collect();
        let refs: Vec<&[Q8Act]> = qa.iter().map(|v| v.as_slice()).collect();
        let rb = qtype.row_bytes(k);
        for row in 0..3 {
            let wrow = &bytes[row * rb..(row + 1) * rb];
            for kern in all() {
                for n in [1, 3, 4] {
                    let mut out = [0f32; 4];
                    kern.dot(qtype, wrow, &refs[..n], &mut out);
                    for i in 0..n {
                        let exact: f32 = deq[row * k..(row + 1) * k]
                            .iter()
                            .zip(&acts[i])
                            .map(|(a, b)| a * b)
                            .sum();
                        assert!(
                            (out[i] - exact).abs() < 0.05 + exact.abs() * 0.02,
                            "{qtype:?} {} row {row} act {i}: {} vs {exact}",
                            kern.name,
                            out[i]
                        );
                    }
                }
            }
            // The SIMD kernel does the same integer arithmetic as the scalar one.
            for kern in all() {
                let (mut a, mut b) = ([0f32; 4], [0f32; 4]);
                SCALAR.dot(qtype, wrow, &refs, &mut a);
                kern.dot(qtype, wrow, &refs, &mut b);
                for i in 0..4 {
                    assert!(
                        (a[i] - b[i]).abs() <= 1e-4 * (1.0 + a[i].abs()),
                        "{a:?} {b:?}"
                    );
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn vector_exp_is_accurate() {
    if !x86::available() {
        return;
    }
    let xs: Vec<f32> = (0..800).map(|i| -100.0 + i as f32 * 0.13).collect();
    let mut ys = xs.clone();
    unsafe { x86::exp_all(&mut ys) };
    for (x, y) in xs.iter().zip(&ys) {
        let e = x.exp();
        assert!(
            (y - e).abs() <= 2e-6 * e + 1e-37,
            "exp({x}) = {y}, want {e}"
        );
    }
}

/// The paired Q4_1 layout gives what plain Q4_1 gives, in every kernel set.
#[test]
fn paired_q4_1_matches_plain() {
    use crate::llm::kernels::quant::{quantize_pairs, repack_q4_1_pairs};
    let k = 192;
    let w = Tensor::from_vec(random(2 * k, 11), (2, k), &Device::Cpu).unwrap();
    let bytes = QTensor::quantize(&w, GgmlDType::Q4_1)
        .unwrap()
        .data()
        .unwrap()
        .into_owned();
    let packed = repack_q4_1_pairs(&bytes);
    let acts: Vec<Vec<f32>> = (0..4).map(|i| random(k, 40 + i)).collect();
    let plain: Vec<Vec<Q8Act>> = acts
        .iter()
        .map(|x| {
            let mut q = vec![Q8Act::default(); k / QK];
            quantize_acts(x, &mut q);
            q
        })
        .collect();
    let pairs: Vec<Vec<Q8Pair>> = acts
        .iter()
        .map(|x| {
            let mut q = vec![Q8Pair::default(); k / (2 * QK)];
            quantize_pairs(x, &mut q);
            q
        })
        .collect();
    let pr: Vec<&[Q8Act]> = plain.iter().map(|v| v.as_slice()).collect();
    let pp: Vec<&[Q8Pair]> = pairs.iter().map(|v| v.as_slice()).collect();
    let rb = QType::Q4_1.row_bytes(k);
    for kern in all() {
        let mut got = [0f32; 2];
        kern.dot_pairs_rows(&packed, pp[1], &mut got);
        for (row, g) in got.iter().enumerate() {
            let mut want = [0f32; 1];
            SCALAR.dot(
                QType::Q4_1,
                &bytes[row * rb..(row + 1) * rb],
                &pr[1..2],
                &mut want,
            );
            assert!(
                (g - want[0]).abs() <= 1e-4 * (1.0 + want[0].abs()),
                "{}",
                kern.name
            );
        }
    }
    for row in 0..2 {
        let mut want = [0f32; 4];
        SCALAR.dot(
            QType::Q4_1,
            &bytes[row * rb..(row + 1) * rb],
            &pr,
            &mut want,
        );
        for kern in all() {
            for n in 1..=4 {
                let mut got = [0f32; 4];
                kern.dot_pairs(&packed[row * rb..(row + 1) * rb], &pp[..n], &mut got);
                for i in 0..n {
                    assert!(
                        (got[i] - want[i]).abs() <= 1e-4 * (1.0 + want[i].abs()),
                        "{}: {got:?} vs {want:?}",
                        kern.name
                    );
                }
            }
        }
    }
}

#[test]
fn f32_kernels_match_scalar() {
    for n in [1, 7, 8, 64, 100] {
        let a = random(n, 1);
        let b = random(n, 2);
        let (mut s1, mut s2) = (vec![0f32; n], vec![0f32; n]);
        SCALAR.silu_mul(&a, &b, &mut s1);
        kernels().silu_mul(&a, &b, &mut s2);
        for (p, q) in s1.iter().zip(&s2) {
            assert!((p - q).abs() < 1e-5, "silu {p} vs {q}");
        }
    }
}

/// The SIMD attention heads (32, 64 and 128 dims) against the scalar one, over f16
/// keys/values.
#[test]
fn attention_head_matches_scalar() {
    for hd in [32, 64, 128] {
        for len in [1, 3, 4, 5, 33] {
            let q = random(hd, 3);
            let keys: Vec<u16> = random(len * hd, 4).iter().map(|&x| f32_to_f16(x)).collect();
            let values: Vec<u16> = random(len * hd, 5).iter().map(|&x| f32_to_f16(x)).collect();
            let (mut s, mut want, mut got) = (Vec::new(), vec![0f32; hd], vec![0f32; hd]);
            SCALAR.attend(&q, &keys, &values, 0.125, &mut s, &mut want);
            kernels().attend(&q, &keys, &values, 0.125, &mut s, &mut got);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "{hd}x{len}: {g} vs {w}");
            }
        }
    }
}
