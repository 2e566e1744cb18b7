//! Load, resolve and render arbitrary bytes as a blueprint and a dev overlay
//! (split at the first NUL). Any outcome but a panic is fine; errors must be
//! located.

#![no_main]

use std::sync::Arc;

use gitopsc::sources::{SourceFile, Sources};
use gitopsc::{EnvSelection, compile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (blueprint, overlay) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let mut sources = Sources::new();
    sources.insert("blueprints/system.yaml", SourceFile::Regular(Arc::from(blueprint)));
    if let Some(overlay) = overlay {
        sources.insert("overlays/dev.yaml", SourceFile::Regular(Arc::from(overlay)));
    }
    sources.insert_text("blueprints/config/app.conf", "listen = 8080\n");
    if let Err(err) = compile(Arc::new(sources), &EnvSelection::All) {
        assert!(err.origin.is_some() || err.kind == gitopsc::error::ErrorKind::Usage, "unlocated: {}", err.render());
    }
});
