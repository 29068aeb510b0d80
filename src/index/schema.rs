//! The one schema every business index uses, and its fields by name.

use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};

use super::analysis::ANALYZER;

/// Field handles, resolved once per index.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// The document (file) name: the key for replacing and deleting.
    pub document: Field,
    /// faq, product, page — or `manifest` for the one record per document that lists it.
    pub kind: Field,
    pub ordinal: Field,
    pub title: Field,
    pub headings: Field,
    pub body: Field,
    /// ProductFields as JSON, stored only.
    pub product: Field,
    /// For manifest records: the document's metadata as JSON, stored only.
    pub manifest: Field,
    /// Hash of (document, title, heading path): passages answering the same question or
    /// sharing a section have the same group.
    pub group: Field,
}

/// The fast-field name of [`Fields::group`].
pub const GROUP: &str = "group";

pub fn build() -> Schema {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    builder.add_text_field("document", STRING | STORED);
    builder.add_text_field("kind", STRING | STORED);
    builder.add_u64_field("ordinal", INDEXED | STORED | FAST);
    builder.add_text_field("title", text.clone() | STORED);
    builder.add_text_field("headings", text.clone() | STORED);
    builder.add_text_field("body", text | STORED);
    builder.add_text_field("product", STORED);
    builder.add_text_field("manifest", STORED);
    builder.add_u64_field(GROUP, FAST);
    builder.build()
}

impl Fields {
    pub fn resolve(schema: &Schema) -> tantivy::Result<Fields> {
        Ok(Fields {
            document: schema.get_field("document")?,
            kind: schema.get_field("kind")?,
            ordinal: schema.get_field("ordinal")?,
            title: schema.get_field("title")?,
            headings: schema.get_field("headings")?,
            body: schema.get_field("body")?,
            product: schema.get_field("product")?,
            manifest: schema.get_field("manifest")?,
            group: schema.get_field(GROUP)?,
        })
    }

    pub fn text(&self) -> [Field; 3] {
        [self.title, self.headings, self.body]
    }
}
