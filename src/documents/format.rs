//! File names: which format an extension means, and which names are acceptable at all. The name
//! becomes the document's identity in the store, so it must be a bare name, never a path.

use super::{DocumentError, Format};

/// The extensions clerk reads, as listed in error messages.
#[rustfmt::skip]
pub const ACCEPTED_EXTENSIONS: &[&str] = &[
    ".md", ".markdown", ".txt", ".csv", ".tsv", ".json", ".jsonl", ".html", ".htm", ".pdf",
];

const MAX_NAME_CHARS: usize = 200;

impl Format {
    /// The format a file name's extension means (case-insensitive); `None` for anything else,
    /// including names that are only an extension (".md").
    pub fn from_name(name: &str) -> Option<Format> {
        let (stem, ext) = name.rsplit_once('.')?;
        if stem.is_empty() {
            return None;
        }
        Some(match ext.to_ascii_lowercase().as_str() {
            "md" | "markdown" => Format::Markdown,
            "txt" => Format::Text,
            "csv" => Format::Csv,
            "tsv" => Format::Tsv,
            "json" => Format::Json,
            "jsonl" => Format::Jsonl,
            "html" | "htm" => Format::Html,
            "pdf" => Format::Pdf,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Markdown => "markdown",
            Format::Text => "text",
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Html => "html",
            Format::Pdf => "pdf",
        }
    }

    /// The inverse of [`Format::as_str`].
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "markdown" => Format::Markdown,
            "text" => Format::Text,
            "csv" => Format::Csv,
            "tsv" => Format::Tsv,
            "json" => Format::Json,
            "jsonl" => Format::Jsonl,
            "html" => Format::Html,
            "pdf" => Format::Pdf,
            _ => return None,
        })
    }
}

/// Rejects anything that is not a bare file name: empty, too long, folders, `.`/`..`, control
/// characters.
pub(crate) fn validate_name(name: &str) -> Result<(), DocumentError> {
    let bad = name.trim().is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.contains(['/', '\\'])
        || name == "."
        || name == ".."
        || name.chars().any(char::is_control);
    if bad {
        return Err(DocumentError::InvalidName {
            file: name.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_case_insensitive() {
        assert_eq!(Format::from_name("Katalog.CSV"), Some(Format::Csv));
        assert_eq!(Format::from_name("faq.Markdown"), Some(Format::Markdown));
        assert_eq!(Format::from_name("a.b.htm"), Some(Format::Html));
        assert_eq!(Format::from_name(".md"), None);
        assert_eq!(Format::from_name("README"), None);
        assert_eq!(Format::from_name("brief.docx"), None);
    }

    #[test]
    fn as_str_round_trips() {
        for f in [
            Format::Markdown,
            Format::Text,
            Format::Csv,
            Format::Tsv,
            Format::Json,
            Format::Jsonl,
            Format::Html,
            Format::Pdf,
        ] {
            assert_eq!(Format::parse(f.as_str()), Some(f));
        }
    }

    #[test]
    fn names_must_be_bare() {
        for bad in [
            "",
            "  ",
            "a/b.md",
            "..\\x.md",
            "..",
            ".",
            "a\u{0}.md",
            "x\n.md",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_name(&"a".repeat(201)).is_err());
        assert!(validate_name("Preisliste 2024 (neu).csv").is_ok());
        assert!(validate_name("..hidden.md").is_ok());
    }
}
