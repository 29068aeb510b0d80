//! One integration-test binary: documents, index, HTTP API and retrieval quality, each through
//! the library's public boundary with real files and a real index.

mod answers;
mod documents;
mod generation;
mod hardening;
mod http;
mod index;
mod retrieval;
mod support;
mod tokenizer;
mod whatsapp;
