//! The one error type of the documents layer. Each message is meant to be shown to the business
//! owner as is: it names the file, the line where one applies, and what to change before uploading
//! again.

use super::format::ACCEPTED_EXTENSIONS;

/// Why an uploaded file could not be turned into passages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("{}: invalid file name; use a plain file name such as catalog.csv (no folders, no control characters, at most 200 characters)", quoted(.file))]
    InvalidName { file: String },

    #[error("{file}: this file type is not supported; upload one of {}", ACCEPTED_EXTENSIONS.join(" "))]
    UnsupportedFormat { file: String },

    #[error("{file}: the file is {size} bytes, more than the limit of {limit} bytes; split it into smaller files")]
    TooLarge {
        file: String,
        size: usize,
        limit: usize,
    },

    #[error(
        "{file}: {rows} rows, more than the limit of {limit}; split the catalog into several files"
    )]
    TooManyRows {
        file: String,
        rows: usize,
        limit: usize,
    },

    /// `line` is the 1-based physical line of the file (for catalogs the header is line 1).
    #[error("{file}: {}{message}", line.map(|n| format!("line {n}: ")).unwrap_or_default())]
    Malformed {
        file: String,
        line: Option<usize>,
        message: String,
    },

    #[error("{file}: {message}")]
    Encoding { file: String, message: String },

    #[error("{file}: reading this file took longer than the limit of {} s, which no ordinary file of its size needs; check that it is the file you meant (a page saved from a browser, a spreadsheet export), or split it", *limit_ms as f64 / 1000.0)]
    TooSlow { file: String, limit_ms: u64 },

    #[error("{file}: the upload was abandoned (the client went away) before this file was read; nothing was stored")]
    Cancelled { file: String },

    #[error("{file}: no text found; the file is empty or holds only markup or blank entries. Check that this is the file you meant to upload")]
    Empty { file: String },
}

impl DocumentError {
    /// The file name the error is about, as uploaded.
    pub fn file(&self) -> &str {
        match self {
            DocumentError::InvalidName { file }
            | DocumentError::UnsupportedFormat { file }
            | DocumentError::TooLarge { file, .. }
            | DocumentError::TooManyRows { file, .. }
            | DocumentError::Malformed { file, .. }
            | DocumentError::Encoding { file, .. }
            | DocumentError::TooSlow { file, .. }
            | DocumentError::Cancelled { file }
            | DocumentError::Empty { file } => file,
        }
    }

    /// The line the error points at, where there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            DocumentError::Malformed { line, .. } => *line,
            _ => None,
        }
    }

    pub(crate) fn malformed(file: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        DocumentError::Malformed {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}

/// An invalid name may hold control characters or be very long: show it escaped and cut short.
fn quoted(name: &str) -> String {
    const SHOWN: usize = 60;
    let shown: String = name.chars().take(SHOWN).collect();
    let ellipsis = if name.chars().count() > SHOWN {
        "…"
    } else {
        ""
    };
    format!("{:?}{ellipsis}", shown)
}
