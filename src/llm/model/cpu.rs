//! Our CPU forward pass for llama-family and qwen2 models, on our own kernels: quantized
//! weights as they are in the file (the embedding too: only looked-up rows are dequantized), in
//! one huge-page arena, activations quantized to Q8 per row, matrices stacked so q/k/v and
//! gate/up are one parallel op each, a preallocated f16 KV cache, fused attention, scratch
//! buffers reused across calls, and only the last position's logits computed. It holds up to
//! `slots` sequences, each in its own KV cache (allocated on first use): a decode step of
//! several sequences is one pass with one activation row per sequence, so each weight row is
//! read once for all of them.

use std::path::Path;

use super::config::{Architecture, ModelConfig};
use super::weights::GgufReader;
use super::{LanguageModel, SlotToken};
use crate::llm::kernels::attention::{attention, KvCache};
use crate::llm::kernels::dot::kernels;
use crate::llm::kernels::pool::{self, Pool};
use crate::llm::kernels::{matmul, Acts, QMatrix, WeightArena};
use crate::llm::LlmError;

struct Layer {
    attn_norm: Vec<f32>,
    /// q, k, v stacked (or separately when their types differ).
    qkv: Vec<QMatrix>,
    qkv_bias: Option<Vec<f32>>,
    wo: QMatrix,
    ffn_norm: Vec<f32>,
    /// gate and up stacked (or separately).
    gate_up: Vec<QMatrix>,
    down: QMatrix,
}

#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    xn: Vec<f32>,
    acts: Acts,
    qkv: Vec<f32>,
    part: Vec<f32>,
    q: Vec<f32>,
    att: Vec<f32>,
    proj: Vec<f32>,
    gate_up: Vec<f32>,
    hidden: Vec<f32>,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

pub struct CpuModel {
    cfg: ModelConfig,
    embed: QMatrix,
    output: Option<QMatrix>,
    out_norm: Vec<f32>,
    layers: Vec<Layer>,
    inv_freq: Vec<f32>,
    /// One per slot used so far (at most `max_slots`), each `capacity` positions long.
    caches: Vec<KvCache>,
    max_slots: usize,
    capacity: usize,
    scratch: Scratch,
    pool: &'static Pool,
}

impl CpuModel {
    /// Loads the model at `path` with room for `context` positions (at most the model's own)
    /// in each of `slots` sequences.
    pub fn load(path: &Path, context: Option<usize>, slots: usize) -> Result<CpuModel, LlmError> {
        let mut r = GgufReader::open(path)?;
        let (vocab, emb_cols) = r.matrix_shape("token_embd.weight")?;
        let cfg = ModelConfig::from_metadata(&r.content.metadata, vocab)?;
        if emb_cols != cfg.n_embd {
            return Err(LlmError::BadModel(format!(
                "token_embd.weight is {emb_cols} wide, the metadata says {}",
                cfg.n_embd
            )));
        }
        let arena = WeightArena::new(WeightArena::room_for(r.matrix_sizes()));
        // A file that ties the output matrix to the embedding table multiplies by the table
        // every step, so the table takes the 16-row layout where the layer matrices do (its
        // rows still dequantize one by one for the lookup); an untied table is only looked up,
        // and stays as the file has it (regrouping it would only lengthen the load).
        let tied = !r.has("output.weight");
        let embed = r.matrix("token_embd.weight")?;
        let embed = if tied {
            embed.grouped_where_faster()
        } else {
            embed
        }
        .into_arena(&arena);
        let output = if tied {
            None
        } else {
            Some(
                r.matrix("output.weight")?
                    .grouped_where_faster()
                    .into_arena(&arena),
            )
        };
        let out_norm = r.vector("output_norm.weight", cfg.n_embd)?;
        let (qd, kvd) = (cfg.n_head * cfg.head_dim, cfg.n_kv_head * cfg.head_dim);
        let mut layers = Vec::with_capacity(cfg.n_layer);
        for i in 0..cfg.n_layer {
            let name = |t: &str| format!("blk.{i}.{t}");
            let wq = r.matrix(&name("attn_q.weight"))?;
            let wk = r.matrix(&name("attn_k.weight"))?;
            let wv = r.matrix(&name("attn_v.weight"))?;
            check_shape(&wq, qd, cfg.n_embd, &name("attn_q.weight"))?;
            check_shape(&wk, kvd, cfg.n_embd, &name("attn_k.weight"))?;
            check_shape(&wv, kvd, cfg.n_embd, &name("attn_v.weight"))?;
            let qkv_bias = if cfg.arch == Architecture::Qwen2 || r.has(&name("attn_q.bias")) {
                let mut b = r.vector(&name("attn_q.bias"), qd)?;
                b.extend(r.vector(&name("attn_k.bias"), kvd)?);
                b.extend(r.vector(&name("attn_v.bias"), kvd)?);
                Some(b)
            } else {
                None
            };
            let wo = r.matrix(&name("attn_output.weight"))?;
            check_shape(&wo, cfg.n_embd, qd, &name("attn_output.weight"))?;
            let gate = r.matrix(&name("ffn_gate.weight"))?;
            let up = r.matrix(&name("ffn_up.weight"))?;
            let down = r.matrix(&name("ffn_down.weight"))?;
            check_shape(&gate, cfg.n_ff, cfg.n_embd, &name("ffn_gate.weight"))?;
            check_shape(&up, cfg.n_ff, cfg.n_embd, &name("ffn_up.weight"))?;
            check_shape(&down, cfg.n_embd, cfg.n_ff, &name("ffn_down.weight"))?;
            layers.push(Layer {
                attn_norm: r.vector(&name("attn_norm.weight"), cfg.n_embd)?,
                qkv: stack_or_keep(vec![wq, wk, wv], &arena),
                qkv_bias,
                wo: wo.into_fast_layout().into_arena(&arena),
                ffn_norm: r.vector(&name("ffn_norm.weight"), cfg.n_embd)?,
                gate_up: stack_or_keep(vec![gate, up], &arena),
                down: down.into_fast_layout().into_arena(&arena),
            });
        }
        let half = cfg.rope_dim / 2;
        // Llama 3.x files carry per-frequency divisors for their long-context RoPE scaling.
        let factors = if r.has("rope_freqs.weight") {
            Some(r.vector("rope_freqs.weight", half)?)
        } else {
            None
        };
        let inv_freq = (0..half)
            .map(|i| {
                let f = 1.0 / cfg.rope_theta.powf(2.0 * i as f32 / cfg.rope_dim as f32);
                f / factors.as_ref().map_or(1.0, |v| v[i])
            })
            .collect();
        let capacity = context
            .unwrap_or(cfg.context_length)
            .min(cfg.context_length)
            .max(1);
        let cache = KvCache::new(cfg.n_layer, cfg.n_kv_head, cfg.head_dim, capacity);
        Ok(CpuModel {
            caches: vec![cache],
            max_slots: slots.max(1),
            capacity,
            cfg,
            embed,
            output,
            out_norm,
            layers,
            inv_freq,
            scratch: Scratch::default(),
            pool: pool::global(),
        })
    }

    /// Bytes of weights held (for reporting).
    pub fn weight_bytes(&self) -> usize {
        let l: usize = self
            .layers
            .iter()
            .map(|l| {
                l.qkv.iter().map(QMatrix::bytes).sum::<usize>()
                    + l.wo.bytes()
                    + l.gate_up.iter().map(QMatrix::bytes).sum::<usize>()
                    + l.down.bytes()
            })
            .sum();
        l + self.embed.bytes() + self.output.as_ref().map_or(0, QMatrix::bytes)
    }
}

fn check_shape(m: &QMatrix, rows: usize, cols: usize, name: &str) -> Result<(), LlmError> {
    if m.rows != rows || m.cols != cols {
        return Err(LlmError::BadModel(format!(
            "tensor {name} is {}x{}, want {rows}x{cols}",
            m.rows, m.cols
        )));
    }
    Ok(())
}

fn stack_or_keep(parts: Vec<QMatrix>, arena: &std::sync::Arc<WeightArena>) -> Vec<QMatrix> {
    let refs: Vec<&QMatrix> = parts.iter().collect();
    let mats = match QMatrix::stack(&refs) {
        Some(m) => vec![m],
        None => parts,
    };
    mats.into_iter()
        .map(|m| m.into_fast_layout().into_arena(arena))
        .collect()
}

fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let d = w.len();
    for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let ss: f32 = xr.iter().map(|v| v * v).sum::<f32>() / d as f32;
        let s = 1.0 / (ss + eps).sqrt();
        for ((o, v), g) in or.iter_mut().zip(xr).zip(w) {
            *o = v * s * g;
        }
    }
}

/// Runs the (possibly split) stacked matrices `mats` on `x` (`t_len` rows), writing the rows
/// of their concatenated outputs into `out`.
fn run_stacked(
    pool: &Pool,
    mats: &[QMatrix],
    x: &[f32],
    t_len: usize,
    acts: &mut Acts,
    out: &mut Vec<f32>,
    part: &mut Vec<f32>,
) {
    let refs: Vec<&QMatrix> = mats.iter().collect();
    acts.prepare(x, t_len, &refs);
    let width: usize = mats.iter().map(|m| m.rows).sum();
    out.resize(t_len * width, 0.0);
    if let [m] = mats {
        matmul(pool, m, acts, out);
        return;
    }
    let mut col = 0;
    for m in mats {
        part.resize(t_len * m.rows, 0.0);
        matmul(pool, m, acts, part);
        for t in 0..t_len {
            out[t * width + col..t * width + col + m.rows]
                .copy_from_slice(&part[t * m.rows..(t + 1) * m.rows]);
        }
        col += m.rows;
    }
}

fn rope(x: &mut [f32], cos: &[f32], sin: &[f32], rope_dim: usize, neox: bool) {
    let half = rope_dim / 2;
    for i in 0..half {
        let (a, b) = if neox {
            (i, i + half)
        } else {
            (2 * i, 2 * i + 1)
        };
        let (x0, x1) = (x[a], x[b]);
        x[a] = x0 * cos[i] - x1 * sin[i];
        x[b] = x0 * sin[i] + x1 * cos[i];
    }
}

/// Which positions of a pass need logits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Logits {
    /// The last row only (a prompt).
    Last,
    /// Every row (a decode step of several sequences).
    Each,
}

impl CpuModel {
    /// Checks `rows` against the slots and their capacity, allocating the caches of slots used
    /// for the first time.
    fn check_rows(&mut self, rows: &[SlotToken]) -> Result<(), LlmError> {
        let Some(needed) = rows.iter().map(|r| r.pos + 1).max() else {
            return Err(LlmError::InvalidParams("no tokens to run".into()));
        };
        if needed > self.capacity {
            return Err(LlmError::ContextFull {
                needed,
                capacity: self.capacity,
            });
        }
        for r in rows {
            if r.slot >= self.max_slots {
                return Err(LlmError::InvalidParams(format!(
                    "slot {} of a model with {} slots",
                    r.slot, self.max_slots
                )));
            }
            if r.token as usize >= self.embed.rows {
                return Err(LlmError::InvalidParams(format!(
                    "token id {} is outside the vocabulary of {}",
                    r.token, self.embed.rows
                )));
            }
        }
        let needed = rows.iter().map(|r| r.slot + 1).max().unwrap_or(1);
        while self.caches.len() < needed {
            let cfg = &self.cfg;
            self.caches.push(KvCache::new(
                cfg.n_layer,
                cfg.n_kv_head,
                cfg.head_dim,
                self.capacity,
            ));
        }
        Ok(())
    }

    /// One pass over `rows` (each a token at a position of a slot; a prompt is consecutive
    /// positions of one slot, a decode step one row per sequence): stores their keys and
    /// values and returns the logits `which` asks for.
    fn run(&mut self, rows: &[SlotToken], which: Logits) -> Result<Vec<Vec<f32>>, LlmError> {
        self.check_rows(rows)?;
        let t_len = rows.len();
        let cfg = &self.cfg;
        let (d, hd) = (cfg.n_embd, cfg.head_dim);
        let (qd, kvd) = (cfg.n_head * hd, cfg.n_kv_head * hd);
        let pool = self.pool;
        let kern = kernels();
        let s = &mut self.scratch;

        s.x.resize(t_len * d, 0.0);
        for (t, r) in rows.iter().enumerate() {
            self.embed
                .dequantize_row(r.token as usize, &mut s.x[t * d..(t + 1) * d]);
        }
        let half = cfg.rope_dim / 2;
        s.cos.resize(t_len * half, 0.0);
        s.sin.resize(t_len * half, 0.0);
        for (t, r) in rows.iter().enumerate() {
            for (i, f) in self.inv_freq.iter().enumerate() {
                let (sn, cs) = (r.pos as f32 * f).sin_cos();
                s.cos[t * half + i] = cs;
                s.sin[t * half + i] = sn;
            }
        }
        let at: Vec<(usize, usize)> = rows.iter().map(|r| (r.slot, r.pos)).collect();
        let neox = cfg.arch == Architecture::Qwen2;
        s.xn.resize(t_len * d, 0.0);
        for (li, layer) in self.layers.iter().enumerate() {
            rms_norm(&s.x, &layer.attn_norm, cfg.rms_eps, &mut s.xn);
            run_stacked(
                pool,
                &layer.qkv,
                &s.xn,
                t_len,
                &mut s.acts,
                &mut s.qkv,
                &mut s.part,
            );
            let w = qd + 2 * kvd;
            s.q.resize(t_len * qd, 0.0);
            for (t, r) in rows.iter().enumerate() {
                let row = &mut s.qkv[t * w..(t + 1) * w];
                if let Some(b) = &layer.qkv_bias {
                    row.iter_mut().zip(b).for_each(|(v, b)| *v += b);
                }
                let (cos, sin) = (&s.cos[t * half..][..half], &s.sin[t * half..][..half]);
                for h in row[..qd + kvd].chunks_exact_mut(hd) {
                    rope(h, cos, sin, cfg.rope_dim, neox);
                }
                s.q[t * qd..(t + 1) * qd].copy_from_slice(&row[..qd]);
                self.caches[r.slot].store(li, r.pos, &row[qd..qd + kvd], &row[qd + kvd..]);
            }
            s.att.resize(t_len * qd, 0.0);
            attention(pool, &self.caches, li, &s.q, &at, &mut s.att);
            s.acts.prepare(&s.att, t_len, &[&layer.wo]);
            s.proj.resize(t_len * d, 0.0);
            matmul(pool, &layer.wo, &s.acts, &mut s.proj);
            s.x.iter_mut().zip(&s.proj).for_each(|(x, p)| *x += p);

            rms_norm(&s.x, &layer.ffn_norm, cfg.rms_eps, &mut s.xn);
            run_stacked(
                pool,
                &layer.gate_up,
                &s.xn,
                t_len,
                &mut s.acts,
                &mut s.gate_up,
                &mut s.part,
            );
            let ff = cfg.n_ff;
            s.hidden.resize(t_len * ff, 0.0);
            for t in 0..t_len {
                let gu = &s.gate_up[t * 2 * ff..(t + 1) * 2 * ff];
                let (g, u) = gu.split_at(ff);
                kern.silu_mul(g, u, &mut s.hidden[t * ff..(t + 1) * ff]);
            }
            s.acts.prepare(&s.hidden, t_len, &[&layer.down]);
            matmul(pool, &layer.down, &s.acts, &mut s.proj);
            s.x.iter_mut().zip(&s.proj).for_each(|(x, p)| *x += p);
        }
        let (first, n) = match which {
            Logits::Last => (t_len - 1, 1),
            Logits::Each => (0, t_len),
        };
        let hidden = &s.x[first * d..];
        rms_norm(hidden, &self.out_norm, cfg.rms_eps, &mut s.xn[..n * d]);
        let out = self.output.as_ref().unwrap_or(&self.embed);
        s.acts.prepare(&s.xn[..n * d], n, &[out]);
        let mut logits = vec![0f32; n * out.rows];
        matmul(pool, out, &s.acts, &mut logits);
        Ok(logits.chunks_exact(out.rows).map(<[f32]>::to_vec).collect())
    }
}

impl LanguageModel for CpuModel {
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    fn context_capacity(&self) -> usize {
        self.capacity
    }

    fn reset(&mut self) {}

    fn slots(&self) -> usize {
        self.max_slots
    }

    fn reuses_prefix(&self) -> bool {
        true
    }

    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>, LlmError> {
        self.forward_in(0, tokens, pos)
    }

    fn forward_in(
        &mut self,
        slot: usize,
        tokens: &[u32],
        pos: usize,
    ) -> Result<Vec<f32>, LlmError> {
        let rows: Vec<SlotToken> = tokens
            .iter()
            .enumerate()
            .map(|(t, &token)| SlotToken {
                slot,
                token,
                pos: pos + t,
            })
            .collect();
        let mut logits = self.run(&rows, Logits::Last)?;
        Ok(logits.pop().unwrap_or_default())
    }

    fn decode_batch(&mut self, batch: &[SlotToken]) -> Result<Vec<Vec<f32>>, LlmError> {
        let mut slots: Vec<usize> = batch.iter().map(|t| t.slot).collect();
        slots.sort_unstable();
        if slots.windows(2).any(|w| w[0] == w[1]) {
            return Err(LlmError::InvalidParams(
                "a decode step holds one token per slot".into(),
            ));
        }
        self.run(batch, Logits::Each)
    }
}
