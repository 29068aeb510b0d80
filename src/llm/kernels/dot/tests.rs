//! The kernels against candle's reference and against each other, on random data.

use super::*;
use crate::llm::kernels::kquant::{quantize_q8k, QK_K};
use crate::llm::kernels::quant::{dequantize_row, f32_to_f16, quantize_acts};
use crate::llm::kernels::test_values as random;
use candle_core::quantized::{GgmlDType, QStorage, QTensor};
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

/// A kernel's products of one weight row with activation rows `out.len()` rows: near the f32
/// products of candle's dequantized row (`deq_row`) with the unquantized activations, and equal
/// to the scalar kernel's (`scalar`), which does the same integer sums.
fn check_row_products(
    label: &str,
    deq_row: &[f32],
    acts: &[Vec<f32>],
    out: &[f32],
    scalar: &[f32],
) {
    for (i, (got, x)) in out.iter().zip(acts).enumerate() {
        let exact: f32 = deq_row.iter().zip(x).map(|(a, b)| a * b).sum();
        assert!(
            (got - exact).abs() < 0.05 + exact.abs() * 0.02,
            "{label} act {i}: {got} vs {exact}"
        );
    }
    assert_same_sums(label, out, scalar);
}

fn assert_same_sums(label: &str, out: &[f32], scalar: &[f32]) {
    for (i, (got, want)) in out.iter().zip(scalar).enumerate() {
        assert!(
            (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
            "{label} act {i}: {got} vs scalar {want}"
        );
    }
}

#[test]
fn quantized_dots_match_candle() {
    let k = 288;
    for (dtype, qtype) in [
        (GgmlDType::Q4_0, QType::Q4_0),
        (GgmlDType::Q4_1, QType::Q4_1),
        (GgmlDType::Q5_0, QType::Q5_0),
        (GgmlDType::Q5_1, QType::Q5_1),
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
            let mut scalar = [0f32; 4];
            SCALAR.dot(qtype, wrow, &refs, &mut scalar);
            for kern in all() {
                for n in [1, 3, 4] {
                    let mut out = [0f32; 4];
                    kern.dot(qtype, wrow, &refs[..n], &mut out);
                    let label = format!("{qtype:?} {} row {row}", kern.name);
                    let deq_row = &deq[row * k..(row + 1) * k];
                    check_row_products(&label, deq_row, &acts, &out[..n], &scalar);
                }
            }
        }
    }
}

const K_TYPES: [(GgmlDType, KFormat); 3] = [
    (GgmlDType::Q4K, KFormat::Q4K),
    (GgmlDType::Q5K, KFormat::Q5K),
    (GgmlDType::Q6K, KFormat::Q6K),
];

/// `rows` rows of `cols` weights of `dtype` as candle quantizes them, and candle's
/// dequantization of those bytes.
fn candle_quantized(dtype: GgmlDType, rows: usize, cols: usize, seed: u64) -> (Vec<u8>, Vec<f32>) {
    let w = Tensor::from_vec(random(rows * cols, seed), (rows, cols), &Device::Cpu).unwrap();
    let qw = QTensor::quantize(&w, dtype).unwrap();
    (qw.data().unwrap().into_owned(), candle_dequantized(&qw))
}

fn candle_dequantized(qw: &QTensor) -> Vec<f32> {
    qw.dequantize(&Device::Cpu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// Random bytes as blocks of `qtype`, with every f16 scale set to a modest value: unlike
/// quantized data, these reach every bit of the packed scales, minimums and high bits.
fn random_blocks(qtype: QType, blocks: usize, seed: u64) -> Vec<u8> {
    let bytes: Vec<u8> = random(blocks * qtype.block_bytes(), seed)
        .iter()
        .map(|v| ((v + 1.0) * 128.0) as u8)
        .collect();
    let scales: &[usize] = match qtype {
        QType::K(KFormat::Q6K) => &[208],
        QType::K(_) | QType::Q4_1 | QType::Q5_1 => &[0, 2],
        _ => &[0],
    };
    let mut bytes = bytes;
    for (i, blk) in bytes.chunks_exact_mut(qtype.block_bytes()).enumerate() {
        for (j, &at) in scales.iter().enumerate() {
            let v =
                0.001 * (1.0 + ((i + j) % 7) as f32) * if (i + j) % 3 == 0 { -1.0 } else { 1.0 };
            blk[at..at + 2].copy_from_slice(&f32_to_f16(v).to_le_bytes());
        }
    }
    bytes
}

/// Our dequantization of every new format equals candle's, on quantized and on random blocks.
#[test]
fn dequantization_matches_candle() {
    let cols = 2 * QK_K;
    let types = [
        (GgmlDType::Q5_0, QType::Q5_0),
        (GgmlDType::Q5_1, QType::Q5_1),
    ]
    .into_iter()
    .chain(K_TYPES.map(|(d, f)| (d, QType::K(f))));
    for (dtype, qtype) in types {
        let (quantized, _) = candle_quantized(dtype, 2, cols, 5);
        let random_bytes = random_blocks(qtype, 2 * cols / qtype.block_len(), 9);
        for bytes in [quantized, random_bytes] {
            let storage =
                QStorage::from_data(std::borrow::Cow::Borrowed(&bytes), &Device::Cpu, dtype)
                    .unwrap();
            let want = candle_dequantized(&QTensor::new(storage, (2, cols)).unwrap());
            let mut got = vec![0f32; 2 * cols];
            for (row, out) in got.chunks_exact_mut(cols).enumerate() {
                dequantize_row(qtype, &bytes, cols, row, out);
            }
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    // Q6_K: ours is d·s·q - 32·d·s, candle's d·s·(q - 32).
                    (g - w).abs() <= 2e-5 * (1.0 + w.abs()),
                    "{qtype:?} weight {i}: {g} vs {w}"
                );
            }
        }
    }
}

/// The K-quant kernels (scalar, AVX2) against candle's dequantized weights times the f32
/// activations, and against each other, for 1 to 4 activation rows.
#[test]
fn k_quant_dots_match_candle() {
    let cols = 3 * QK_K;
    let acts: Vec<Vec<f32>> = (0..4).map(|i| random(cols, 200 + i)).collect();
    let qa: Vec<Vec<Q8K>> = acts
        .iter()
        .map(|x| {
            let mut q = vec![Q8K::default(); cols / QK_K];
            quantize_q8k(x, &mut q);
            q
        })
        .collect();
    let refs: Vec<&[Q8K]> = qa.iter().map(|v| v.as_slice()).collect();
    for (dtype, format) in K_TYPES {
        let (bytes, deq) = candle_quantized(dtype, 3, cols, 17);
        let rb = QType::K(format).row_bytes(cols);
        for row in 0..3 {
            let wrow = &bytes[row * rb..(row + 1) * rb];
            let mut scalar = [0f32; 4];
            SCALAR.dot_k(format, wrow, &refs, &mut scalar);
            for kern in all() {
                for n in [1, 2, 3, 4] {
                    let mut out = [0f32; 4];
                    kern.dot_k(format, wrow, &refs[..n], &mut out);
                    let label = format!("{format:?} {} row {row}", kern.name);
                    let deq_row = &deq[row * cols..(row + 1) * cols];
                    check_row_products(&label, deq_row, &acts, &out[..n], &scalar);
                }
            }
        }
        // Random blocks reach scale bits quantized data may not; the kernels still agree.
        let random_row = random_blocks(QType::K(format), cols / QK_K, 23);
        let mut scalar = [0f32; 4];
        SCALAR.dot_k(format, &random_row, &refs, &mut scalar);
        for kern in all() {
            let mut out = [0f32; 4];
            kern.dot_k(format, &random_row, &refs, &mut out);
            let label = format!("{format:?} {} random blocks", kern.name);
            assert_same_sums(&label, &out, &scalar);
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

/// Each row of `acts` quantized by `quantize` into blocks of `block` values.
fn quantized_rows<Q: Default + Clone>(
    acts: &[Vec<f32>],
    block: usize,
    quantize: fn(&[f32], &mut [Q]),
) -> Vec<Vec<Q>> {
    acts.iter()
        .map(|x| {
            let mut q = vec![Q::default(); x.len() / block];
            quantize(x, &mut q);
            q
        })
        .collect()
}

/// A prompt's tiles (`TILE_ROWS` weight rows × `TILE_ACTS` activation rows) give the sums the
/// scalar one-row kernels give, for every format and kernel, on random blocks (every bit
/// pattern of the scales and high bits, not only what quantizing reaches).
#[test]
fn tiles_match_the_one_row_kernels() {
    let cols = 3 * QK_K;
    let acts: Vec<Vec<f32>> = (0..TILE_ACTS)
        .map(|i| random(cols, 300 + i as u64))
        .collect();
    let std_acts = quantized_rows(&acts, QK, quantize_acts);
    let k_acts = quantized_rows(&acts, QK_K, quantize_q8k);
    let std_refs: [&[Q8Act]; TILE_ACTS] = std::array::from_fn(|j| std_acts[j].as_slice());
    let k_refs: [&[Q8K]; TILE_ACTS] = std::array::from_fn(|j| k_acts[j].as_slice());
    for qtype in [
        QType::Q4_0,
        QType::Q4_1,
        QType::Q5_0,
        QType::Q5_1,
        QType::Q8_0,
    ] {
        let w = random_blocks(qtype, TILE_ROWS * cols / QK, 41);
        let mut want = [0f32; TILE];
        for (row, o) in w
            .chunks_exact(w.len() / TILE_ROWS)
            .zip(want.chunks_exact_mut(TILE_ACTS))
        {
            SCALAR.dot(qtype, row, &std_refs, o);
        }
        for kern in all() {
            let mut got = [0f32; TILE];
            kern.dot_tile(qtype, &w, &std_refs, &mut got);
            assert_same_sums(&format!("{qtype:?} {} tile", kern.name), &got, &want);
        }
    }
    for (_, format) in K_TYPES {
        let w = random_blocks(QType::K(format), TILE_ROWS * cols / QK_K, 43);
        let mut want = [0f32; TILE];
        for (row, o) in w
            .chunks_exact(w.len() / TILE_ROWS)
            .zip(want.chunks_exact_mut(TILE_ACTS))
        {
            SCALAR.dot_k(format, row, &k_refs, o);
        }
        let mut first_x86: Option<[f32; TILE]> = None;
        for kern in all() {
            let mut got = [0f32; TILE];
            kern.dot_k_tile(format, &w, &k_refs, &mut got);
            assert_same_sums(&format!("{format:?} {} tile", kern.name), &got, &want);
            // The K-quant tiles make the one-row kernel's float steps in its order: the same
            // floats, so a prompt's logits do not depend on its batching. The x86 widths agree
            // with each other exactly too (their integer sums are exact).
            let mut rows = [0f32; TILE];
            for (row, o) in w
                .chunks_exact(w.len() / TILE_ROWS)
                .zip(rows.chunks_exact_mut(TILE_ACTS))
            {
                kern.dot_k(format, row, &k_refs, o);
            }
            assert_eq!(
                got, rows,
                "{format:?} {} tile vs its one-row sums",
                kern.name
            );
            if kern.name != SCALAR.name {
                let first = *first_x86.get_or_insert(got);
                assert_eq!(
                    got, first,
                    "{format:?} {} vs the other x86 kernels",
                    kern.name
                );
            }
        }
    }
}

/// Every kernel set's kernel for a group of 16 rows (`dot`: the set, the number of activation
/// rows, the outputs) gives `want` exactly, for one to four activation rows.
fn assert_groups_equal(
    label: &str,
    want: &crate::llm::kernels::q4k_x16::GroupOut,
    dot: impl Fn(&Kernels, usize, &mut crate::llm::kernels::q4k_x16::GroupOut),
) {
    for kern in all() {
        for n in 1..=4 {
            let mut got = Default::default();
            dot(kern, n, &mut got);
            assert_eq!(
                got[..n],
                want[..n],
                "{label} {}, {n} activation rows",
                kern.name
            );
        }
    }
}

/// Q4_K regrouped by 16 rows: the same weights as the file's rows, and every kernel for it
/// returns the portable kernel's floats exactly, for any number of activation rows (so
/// decoding and prompts agree), near the file layout's sums. Also on the largest sums the
/// format allows (every weight 15, every scale 63, activations at -127).
#[test]
fn regrouped_q4k_matches_the_file_layout() {
    use crate::llm::kernels::q4k_x16::{self, GroupOut};
    let (rows, cols) = (32, 3 * QK_K);
    let nb = cols / QK_K;
    let random_acts: Vec<Vec<f32>> = (0..4).map(|i| random(cols, 500 + i)).collect();
    let full_acts: Vec<Vec<f32>> = (0..4).map(|i| vec![1.0 + i as f32; cols]).collect();
    let mut full = random_blocks(QType::K(KFormat::Q4K), rows * nb, 3);
    for blk in full.chunks_exact_mut(KFormat::Q4K.block_bytes()) {
        blk[4..].fill(0xff);
    }
    let random_w = random_blocks(QType::K(KFormat::Q4K), rows * nb, 51);
    for (label, w, acts) in [
        ("random", &random_w, &random_acts),
        ("largest", &full, &full_acts),
    ] {
        let qa = quantized_rows(acts, QK_K, quantize_q8k);
        let refs: Vec<&[Q8K]> = qa.iter().map(|v| v.as_slice()).collect();
        let grouped = q4k_x16::interleave(w, rows, cols);
        let (mut a, mut b) = (vec![0f32; cols], vec![0f32; cols]);
        for r in 0..rows {
            dequantize_row(QType::K(KFormat::Q4K), w, cols, r, &mut a);
            dequantize_row(QType::Q4Kx16, &grouped, cols, r, &mut b);
            assert_eq!(a, b, "{label} row {r} dequantized");
        }
        let gb = nb * q4k_x16::GROUP_BLOCK;
        for (g, group) in grouped.chunks_exact(gb).enumerate() {
            let mut want: GroupOut = Default::default();
            q4k_x16::dot_group(group, &refs, &mut want);
            for r in 0..q4k_x16::ROWS {
                let file_row = &w[(g * 16 + r) * nb * 144..][..nb * 144];
                let mut file = [0f32; 4];
                SCALAR.dot_k(KFormat::Q4K, file_row, &refs, &mut file);
                let got: Vec<f32> = want.iter().map(|o| o[r]).collect();
                assert_same_sums(&format!("{label} group {g} row {r}"), &got, &file);
            }
            assert_groups_equal(&format!("{label} group {g}"), &want, |kern, n, got| {
                kern.dot_q4k_x16(group, &refs[..n], got)
            });
        }
    }
}

/// Q5_0 and Q8_0 regrouped by 16 rows: the same weights as the file's rows, and every kernel
/// returns the portable kernel's floats exactly for any number of activation rows, near the
/// file layout's sums; also at the largest sums (every weight at its extreme, activations at
/// ±127).
#[test]
fn regrouped_32_weight_formats_match_the_file_layout() {
    use crate::llm::kernels::q32_x16::{self, Format32};
    use crate::llm::kernels::q4k_x16::GroupOut;
    let (rows, cols) = (32, 4 * QK);
    let nb = cols / QK;
    let random_acts: Vec<Vec<f32>> = (0..4).map(|i| random(cols, 700 + i)).collect();
    let extreme_acts: Vec<Vec<f32>> = (0..4)
        .map(|i| vec![if i % 2 == 0 { 1.0 } else { -2.0 }; cols])
        .collect();
    for (qtype, format) in [(QType::Q5_0, Format32::Q5_0), (QType::Q8_0, Format32::Q8_0)] {
        let random_w = random_blocks(qtype, rows * nb, 61);
        let mut extreme = random_w.clone();
        for (i, blk) in extreme.chunks_exact_mut(qtype.block_bytes()).enumerate() {
            // Q5_0: every weight 15 or -16; Q8_0: 127 or -128.
            blk[2..].fill(if i % 2 == 0 { 0xff } else { 0x00 });
            if qtype == QType::Q8_0 && i % 2 == 0 {
                blk[2..].fill(0x7f);
            } else if qtype == QType::Q8_0 {
                blk[2..].fill(0x80);
            }
        }
        for (label, w, acts) in [
            ("random", &random_w, &random_acts),
            ("extreme", &extreme, &extreme_acts),
        ] {
            let qa = quantized_rows(acts, QK, quantize_acts);
            let refs: Vec<&[Q8Act]> = qa.iter().map(|v| v.as_slice()).collect();
            let sums: Vec<Vec<i32>> = qa
                .iter()
                .map(|r| {
                    let mut s = Vec::new();
                    q32_x16::block_sums(r, &mut s);
                    s
                })
                .collect();
            let sum_refs: Vec<&[i32]> = sums.iter().map(|v| v.as_slice()).collect();
            let grouped = q32_x16::interleave(format, w, rows, cols);
            let (mut a, mut b) = (vec![0f32; cols], vec![0f32; cols]);
            for r in 0..rows {
                dequantize_row(qtype, w, cols, r, &mut a);
                dequantize_row(QType::Q32x16(format), &grouped, cols, r, &mut b);
                assert_eq!(a, b, "{qtype:?} {label} row {r} dequantized");
            }
            let gb = nb * format.group_block();
            let rb = qtype.row_bytes(cols);
            for (g, group) in grouped.chunks_exact(gb).enumerate() {
                let mut want: GroupOut = Default::default();
                q32_x16::dot_group(format, group, &refs, &sum_refs, &mut want);
                for r in 0..16 {
                    let mut file = [0f32; 4];
                    SCALAR.dot(qtype, &w[(g * 16 + r) * rb..][..rb], &refs, &mut file);
                    let got: Vec<f32> = want.iter().map(|o| o[r]).collect();
                    assert_same_sums(&format!("{qtype:?} {label} group {g} row {r}"), &got, &file);
                }
                let label = format!("{qtype:?} {label} group {g}");
                assert_groups_equal(&label, &want, |kern, n, got| {
                    kern.dot_q32_x16(format, group, &refs[..n], &sum_refs[..n], got)
                });
            }
        }
    }
}
