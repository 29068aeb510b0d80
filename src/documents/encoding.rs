//! Bytes to text. UTF-8 is the norm (a byte-order mark is dropped); UTF-16 is read when it says so
//! with a byte-order mark; Windows-1252 is accepted because that is what Excel and older Windows
//! tools still write for "CSV". Anything else is refused rather than guessed: a silently garbled
//! price list is worse than an error asking for UTF-8. The result has `\n` line ends and is NFC.

use encoding_rs::{UTF_16BE, UTF_16LE, WINDOWS_1252};
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use super::DocumentError;

const SAVE_AS_UTF8: &str = "save it as UTF-8 (in Excel: \"CSV UTF-8\"; in an editor: Save as → Encoding UTF-8) and upload it again";

/// Bytes that Windows-1252 leaves undefined; a file holding them is not Windows-1252.
const UNDEFINED_1252: [u8; 5] = [0x81, 0x8D, 0x8F, 0x90, 0x9D];

/// Decodes an uploaded text file; see the module docs for what is accepted.
pub(crate) fn decode(file: &str, bytes: &[u8]) -> Result<String, DocumentError> {
    let error = |message: String| DocumentError::Encoding {
        file: file.to_string(),
        message,
    };
    let text = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        match std::str::from_utf8(rest) {
            Ok(text) => text.to_string(),
            Err(e) => {
                let line = line_of(rest, e.valid_up_to());
                return Err(error(format!(
                    "line {line} is not valid UTF-8 although the file is marked as UTF-8; {SAVE_AS_UTF8}"
                )));
            }
        }
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        utf16(rest, true)
            .ok_or_else(|| error(format!("the file is damaged UTF-16 text; {SAVE_AS_UTF8}")))?
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        utf16(rest, false)
            .ok_or_else(|| error(format!("the file is damaged UTF-16 text; {SAVE_AS_UTF8}")))?
    } else if looks_like_utf16(bytes) {
        return Err(error(format!(
            "the file looks like UTF-16 text without a byte-order mark; {SAVE_AS_UTF8}"
        )));
    } else {
        match std::str::from_utf8(bytes) {
            Ok(text) => text.to_string(),
            Err(e) => windows_1252(bytes, e.valid_up_to()).map_err(error)?,
        }
    };

    let text = check_controls(&text).map_err(error)?;
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    Ok(match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => text,
        _ => text.nfc().collect(),
    })
}

fn utf16(bytes: &[u8], little_endian: bool) -> Option<String> {
    let encoding = if little_endian { UTF_16LE } else { UTF_16BE };
    encoding
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| text.into_owned())
}

/// UTF-16 text without a byte-order mark has a zero byte in every other position for Latin text.
fn looks_like_utf16(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(1024)];
    if sample.len() < 4 {
        return false;
    }
    let pairs = sample.len() / 2;
    let even = sample.iter().step_by(2).filter(|&&b| b == 0).count();
    let odd = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|&&b| b == 0)
        .count();
    even.max(odd) * 10 >= pairs * 4 && even.min(odd) * 10 < pairs
}

/// Decodes as Windows-1252 only when the bytes plausibly are: no undefined bytes, not mostly
/// UTF-8 with a stray byte (that would turn every "ö" into "Ã¶"), and not mostly non-ASCII.
fn windows_1252(bytes: &[u8], valid_up_to: usize) -> Result<String, String> {
    let undecodable = || {
        format!("the file is not UTF-8 text and does not look like Windows-1252 (Western European) text either; {SAVE_AS_UTF8}")
    };
    if bytes.iter().any(|b| UNDEFINED_1252.contains(b)) {
        return Err(undecodable());
    }
    let non_ascii = bytes.iter().filter(|b| !b.is_ascii()).count();
    if utf8_sequence_bytes(bytes) * 2 > non_ascii {
        let line = line_of(bytes, valid_up_to);
        return Err(format!(
            "line {line} is not valid UTF-8 although the rest of the file is; {SAVE_AS_UTF8}"
        ));
    }
    let visible = bytes.iter().filter(|b| !b.is_ascii_whitespace()).count();
    if non_ascii * 10 > visible * 3 {
        return Err(undecodable());
    }
    let (text, _) = WINDOWS_1252.decode_without_bom_handling(bytes);
    Ok(text.into_owned())
}

/// How many bytes belong to well-formed multi-byte UTF-8 sequences.
fn utf8_sequence_bytes(bytes: &[u8]) -> usize {
    let mut count = 0;
    let mut i = 0;
    while i < bytes.len() {
        let len = match bytes[i] {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 1,
        };
        if len > 1 && i + len <= bytes.len() && std::str::from_utf8(&bytes[i..i + len]).is_ok() {
            count += len;
            i += len;
        } else {
            i += 1;
        }
    }
    count
}

/// Refuses binary data; a handful of stray control characters in real text become spaces.
fn check_controls(text: &str) -> Result<String, String> {
    let stray = |c: char| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{0C}');
    let controls = text.chars().filter(|&c| stray(c)).count();
    if controls == 0 {
        return Ok(text.to_string());
    }
    if text.contains('\0') || controls * 200 > text.chars().count() {
        return Err(
            "the file does not look like text (it contains binary data); upload a text document saved as UTF-8"
                .to_string(),
        );
    }
    Ok(text
        .chars()
        .map(|c| if stray(c) { ' ' } else { c })
        .collect())
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(bytes: &[u8]) -> String {
        decode("f.txt", bytes).expect("decodes")
    }

    #[test]
    fn utf8_bom_is_dropped_and_newlines_unified() {
        assert_eq!(ok(b"\xEF\xBB\xBFa\r\nb\rc"), "a\nb\nc");
    }

    #[test]
    fn windows_1252_is_decoded() {
        assert_eq!(ok(b"Gr\xF6\xDFe 5 \x80, B\xFCcher"), "Größe 5 €, Bücher");
    }

    #[test]
    fn utf16_with_bom_is_decoded_and_without_bom_refused() {
        assert_eq!(ok(b"\xFF\xFEH\x00\xE4\x00"), "Hä");
        assert_eq!(ok(b"\xFE\xFF\x00H\x00\xE4"), "Hä");
        let err = decode("f.txt", b"H\x00a\x00l\x00l\x00o\x00").unwrap_err();
        assert!(err.to_string().contains("UTF-16"), "{err}");
    }

    #[test]
    fn utf8_with_a_stray_byte_names_the_line() {
        let mut bytes = "a;b\nGröße;Bücher\n".as_bytes().to_vec();
        bytes.extend_from_slice(b"x\xE9y\n");
        let err = decode("f.csv", &bytes).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("UTF-8"), "{err}");
    }

    #[test]
    fn binary_is_refused() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(2000).collect();
        assert!(decode("f.txt", &bytes).is_err());
        assert!(decode("f.txt", b"abc\0def").is_err());
    }

    #[test]
    fn output_is_nfc() {
        assert_eq!(ok("Gro\u{308}\u{df}e".as_bytes()), "Größe");
    }
}
