//! Messaging channels: where customers' questions arrive from outside the HTTP API and where the
//! replies go back. Each channel turns its platform's messages into calls on the [`Engine`]
//! (`crate::engine::Engine`) and keeps its own durable delivery state in the store; no
//! tantivy, candle or axum type crosses into or out of it.

pub mod whatsapp;
