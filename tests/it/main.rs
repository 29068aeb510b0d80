//! One integration-test binary: documents, index, HTTP API, retrieval quality and the sentence
//! encoder, each through the library's public boundary with real files and a real index.

mod answers;
mod batching;
mod catalog;
mod documents;
mod embed;
mod generation;
mod hardening;
mod http;
mod index;
mod judge;
mod orders;
mod privacy;
mod qwen;
mod retrieval;
mod support;
mod tokenizer;
mod web;
mod whatsapp;
