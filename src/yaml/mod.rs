//! YAML in and out: the only module that parses or prints YAML.
//!
//! Reading turns a project file into a [`Document`]: a `serde_json::Value` (the
//! model that merge patches and serde work on) plus an index from JSON pointer to
//! line and column, so that any later stage can point at the source of a value.
//! Writing is the one canonical printer of rendered objects: sorted keys with
//! `apiVersion`, `kind`, `metadata` first, every YAML 1.1 ambiguity quoted.
//! Keeping both here means a swap of the YAML library touches one module.

mod diagnose;
mod nodes;
mod pieces;
mod plain;
mod read;
mod write;

pub use read::{Document, MAX_FILE_BYTES, is_blank, parse_document, parse_documents};
pub use write::{push_yaml, to_yaml};
