//! `gitopsc schema`: print the JSON Schema of blueprint or overlay files.

use super::EXIT_OK;
use crate::cli::SchemaKind;
use crate::error::Result;
use crate::schema;

pub fn run(kind: SchemaKind) -> Result<u8> {
    let value = match kind {
        SchemaKind::Blueprint => schema::blueprint(),
        SchemaKind::Overlay => schema::overlay(),
    };
    print!("{}", schema::to_text(&value));
    Ok(EXIT_OK)
}
