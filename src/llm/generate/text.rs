//! Turning a stream of token ids into a stream of text. `StreamDecoder` decodes a small window of
//! recent tokens and emits only what is new, holding back a token that ends inside a UTF-8
//! sequence (byte-level BPE splits multi-byte characters across tokens) until the character is
//! complete. `StopMatcher` cuts the text at the first stop string and holds back a tail that
//! could still become one, so a stop string never reaches the caller.

use crate::llm::LlmError;

/// Token ids → text, as the model's tokenizer does it.
pub trait TokenDecoder {
    fn decode(&self, ids: &[u32]) -> Result<String, LlmError>;
}

impl TokenDecoder for crate::llm::GgufTokenizer {
    fn decode(&self, ids: &[u32]) -> Result<String, LlmError> {
        crate::llm::GgufTokenizer::decode(self, ids, true)
    }
}

#[derive(Debug, Default)]
pub struct StreamDecoder {
    ids: Vec<u32>,
    /// Start of the window that is decoded for context (the text before `read` is known).
    prefix: usize,
    /// Tokens before this have been emitted.
    read: usize,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token and returns the text it completes ("" while a character is unfinished).
    pub fn push(&mut self, id: u32, dec: &dyn TokenDecoder) -> Result<String, LlmError> {
        self.ids.push(id);
        let known = dec.decode(&self.ids[self.prefix..self.read])?;
        let all = dec.decode(&self.ids[self.prefix..])?;
        if all.ends_with('\u{FFFD}') || all.len() <= known.len() {
            return Ok(String::new());
        }
        let new = match all.strip_prefix(known.as_str()) {
            Some(rest) => rest.to_string(),
            // Decoding is not always prefix-stable (e.g. a cleanup rule); take the whole tail.
            None => {
                let mut at = known.len().min(all.len());
                while !all.is_char_boundary(at) {
                    at -= 1;
                }
                all[at..].to_string()
            }
        };
        self.prefix = self.read;
        self.read = self.ids.len();
        Ok(new)
    }

    /// Whatever is still held (an unfinished character shows as U+FFFD).
    pub fn finish(&mut self, dec: &dyn TokenDecoder) -> Result<String, LlmError> {
        let known = dec.decode(&self.ids[self.prefix..self.read])?;
        let all = dec.decode(&self.ids[self.prefix..])?;
        self.prefix = self.ids.len();
        self.read = self.ids.len();
        Ok(match all.strip_prefix(known.as_str()) {
            Some(rest) => rest.to_string(),
            None => String::new(),
        })
    }
}

#[derive(Debug, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

impl StopMatcher {
    pub fn new(stops: &[String]) -> Self {
        StopMatcher {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            held: String::new(),
        }
    }

    /// Adds text; returns what can be shown now and whether a stop string was reached (then the
    /// returned text is everything before it).
    pub fn push(&mut self, text: &str) -> (String, bool) {
        self.held.push_str(text);
        let first = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min();
        if let Some(at) = first {
            let out = self.held[..at].to_string();
            self.held.clear();
            return (out, true);
        }
        // Keep the longest tail that is the start of some stop string.
        let mut keep = 0;
        for s in &self.stops {
            for (i, _) in self.held.char_indices() {
                let tail = &self.held[i..];
                if tail.len() > keep && s.starts_with(tail) {
                    keep = tail.len();
                    break;
                }
            }
        }
        let cut = self.held.len() - keep;
        let out = self.held[..cut].to_string();
        self.held.drain(..cut);
        (out, false)
    }

    /// The held tail, once no more text will come.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each id is one byte of UTF-8, decoded lossily like a byte-level BPE.
    struct Bytes;
    impl TokenDecoder for Bytes {
        fn decode(&self, ids: &[u32]) -> Result<String, LlmError> {
            let b: Vec<u8> = ids.iter().map(|&i| i as u8).collect();
            Ok(String::from_utf8_lossy(&b).into_owned())
        }
    }

    #[test]
    fn holds_partial_utf8_until_complete() {
        let mut d = StreamDecoder::new();
        let text = "a€b😀";
        let mut out = Vec::new();
        for b in text.bytes() {
            out.push(d.push(b as u32, &Bytes).unwrap());
        }
        assert_eq!(out.concat(), text);
        // '€' is 3 bytes: nothing is shown until its last byte arrives.
        assert_eq!(out[1], "");
        assert_eq!(out[2], "");
        assert_eq!(out[3], "€");
        assert!(out.iter().all(|s| !s.contains('\u{FFFD}')));
        assert_eq!(d.finish(&Bytes).unwrap(), "");
    }

    #[test]
    fn finish_flushes_an_unfinished_character() {
        let mut d = StreamDecoder::new();
        assert_eq!(d.push(b'x' as u32, &Bytes).unwrap(), "x");
        assert_eq!(d.push(0xE2, &Bytes).unwrap(), "");
        assert_eq!(d.finish(&Bytes).unwrap(), "\u{FFFD}");
    }

    #[test]
    fn stop_strings_are_cut_and_never_shown() {
        let mut m = StopMatcher::new(&["\nUser:".to_string()]);
        let (a, s1) = m.push("Hello\nUs");
        assert_eq!((a.as_str(), s1), ("Hello", false));
        let (b, s2) = m.push("er: hi");
        assert_eq!((b.as_str(), s2), ("", true));
        let mut m = StopMatcher::new(&["END".to_string()]);
        assert_eq!(m.push("the E").0, "the ");
        assert_eq!(m.push("ast").0, "East");
        assert_eq!(m.push(" E").0, " ");
        assert_eq!(m.finish(), "E");
    }
}
