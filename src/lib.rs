//! clerk answers a small business's customers from the business's own documents.
//!
//! The library holds every layer; the `clerk` binary only parses the command line and calls in.
//! See ARCHITECTURE.md for the code map and the invariants the layers keep.

pub mod answer;
pub mod app;
pub mod channels;
pub mod cli;
pub mod config;
pub mod documents;
pub mod embed;
pub mod engine;
pub mod eval;
pub mod http;
pub mod index;
pub mod llm;
pub mod store;
