//! Turning uploaded files into [`Document`]s and their [`Passage`]s.
//!
//! This module owns everything between the bytes a business uploads and the passages the index
//! stores: detecting the format from the file name, decoding text (UTF-8, or Windows-1252 for
//! spreadsheet exports), parsing Markdown, plain text, CSV/TSV catalogs, JSON/JSONL, HTML and PDF,
//! recognizing FAQ entries and product fields, and chunking prose. It knows nothing about tantivy,
//! the model or HTTP: its output is plain data, and every failure is a [`DocumentError`] that names
//! the file and, where it applies, the line or row.

mod budget;
mod catalog;
mod chunk;
mod clean;
mod encoding;
mod error;
mod faq;
mod format;
mod html;
mod json;
mod markdown;
mod outline;
mod pdf;
mod product;
mod text;

use serde::{Deserialize, Serialize};

pub use budget::{Budget, Cancel};
pub use error::DocumentError;
pub use format::ACCEPTED_EXTENSIONS;

/// What kind of content a passage holds; decides how the answer step may use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PassageKind {
    /// One question with its answer.
    Faq,
    /// One catalog entry with all its fields.
    Product,
    /// A chunk of prose (a page, a section of a text).
    Page,
}

impl PassageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PassageKind::Faq => "faq",
            PassageKind::Product => "product",
            PassageKind::Page => "page",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "faq" => Some(PassageKind::Faq),
            "product" => Some(PassageKind::Product),
            "page" => Some(PassageKind::Page),
            _ => None,
        }
    }
}

/// A catalog entry's recognized fields, kept exactly as uploaded (no reformatting of prices or
/// stock figures: the answer step quotes them verbatim). Absent fields were not in the upload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Author (books) or brand (other goods).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Every other column, in upload order, as (header, value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<(String, String)>,
}

impl ProductFields {
    /// Every value, as uploaded (what a reply quoting the product may hold).
    pub fn texts(&self) -> Vec<&str> {
        [
            &self.name,
            &self.author,
            &self.price,
            &self.currency,
            &self.stock,
            &self.sku,
            &self.category,
            &self.url,
            &self.description,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .chain(self.attributes.iter().map(|(_, v)| v.as_str()))
        .collect()
    }
}

/// The smallest unit retrieval returns and the answer step cites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    /// Position within its document, from 0; with the document name it identifies the passage.
    pub ordinal: u32,
    pub kind: PassageKind,
    /// The FAQ question, the product name, or the nearest heading of a prose chunk ("" if none).
    pub title: String,
    /// Headings from the document's top down to this passage (may be empty).
    pub heading_path: Vec<String>,
    /// The answer, the readable rendering of all product fields, or the prose chunk.
    pub text: String,
    /// Set for products only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<ProductFields>,
}

/// One uploaded file, parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The file name it was uploaded under; uploading the same name again replaces it.
    pub name: String,
    pub format: Format,
    pub passages: Vec<Passage>,
}

/// The formats clerk reads, detected from the file name's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Markdown,
    Text,
    Csv,
    Tsv,
    Json,
    Jsonl,
    Html,
    Pdf,
}

/// Upload limits, enforced before and while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest file accepted, in bytes.
    pub max_file_bytes: usize,
    /// Most catalog rows (CSV/TSV rows, JSON array items, JSONL lines) accepted in one file.
    pub max_rows: usize,
    /// Longest time the parsing of one upload may take, in milliseconds.
    pub max_parse_ms: u64,
}

impl Limits {
    /// A fresh budget for parsing one upload under these limits.
    pub fn budget(&self, cancel: Cancel) -> Budget {
        Budget::with_cancel(std::time::Duration::from_millis(self.max_parse_ms), cancel)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 20 * 1024 * 1024,
            max_rows: 200_000,
            // Parsing is linear: the largest file parses in a few seconds on a slow core.
            max_parse_ms: 15_000,
        }
    }
}

/// Parses one uploaded file into a [`Document`].
///
/// `name` must be a bare file name (it becomes the document's identity and appears in error
/// messages); its extension picks the format. The size limit is checked before anything is
/// decoded, and the row limit while catalogs are read. Never panics, whatever the bytes, and
/// never runs past `limits.max_parse_ms`.
pub fn parse(name: &str, bytes: &[u8], limits: &Limits) -> Result<Document, DocumentError> {
    parse_within(name, bytes, limits, &limits.budget(Cancel::new()))
}

/// [`parse`] against a budget shared by all files of one upload.
pub fn parse_within(
    name: &str,
    bytes: &[u8],
    limits: &Limits,
    budget: &Budget,
) -> Result<Document, DocumentError> {
    format::validate_name(name)?;
    if bytes.len() > limits.max_file_bytes {
        return Err(DocumentError::TooLarge {
            file: name.to_string(),
            size: bytes.len(),
            limit: limits.max_file_bytes,
        });
    }
    let format = Format::from_name(name).ok_or_else(|| DocumentError::UnsupportedFormat {
        file: name.to_string(),
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DocumentError::Empty {
            file: name.to_string(),
        });
    }

    budget.check(name)?;
    let decode = || encoding::decode(name, bytes);
    let mut passages = match format {
        Format::Pdf => pdf::passages(name, bytes, budget)?,
        Format::Markdown => outline::passages(markdown::blocks(name, &decode()?, budget)?, ""),
        Format::Text => outline::passages(text::blocks(name, &decode()?, budget)?, ""),
        Format::Html => {
            let page = html::blocks(name, &decode()?, budget)?;
            outline::passages(page.blocks, &page.title)
        }
        Format::Csv | Format::Tsv => catalog::passages(name, &decode()?, format, limits, budget)?,
        Format::Json => json::passages(name, &decode()?, limits, budget)?,
        Format::Jsonl => json::passages_jsonl(name, &decode()?, limits, budget)?,
    };
    // Outlining and chunking are linear too; a file that only just made it still stops here.
    budget.check(name)?;

    passages.retain(|p| !p.text.is_empty() || !p.title.is_empty());
    if passages.is_empty() {
        return Err(DocumentError::Empty {
            file: name.to_string(),
        });
    }
    for (ordinal, passage) in passages.iter_mut().enumerate() {
        passage.ordinal = u32::try_from(ordinal).unwrap_or(u32::MAX);
    }
    Ok(Document {
        name: name.to_string(),
        format,
        passages,
    })
}

impl Passage {
    /// A passage with its ordinal still unset; [`parse`] numbers them all at the end.
    fn new(kind: PassageKind, title: &str, heading_path: Vec<String>, text: &str) -> Passage {
        Passage {
            ordinal: 0,
            kind,
            title: clean::single_line(title),
            heading_path,
            text: clean::normalize(text),
            product: None,
        }
    }
}
