//! The integration suite: one binary, one module per concern.

mod support;

mod determinism;
mod errors;
mod examples;
mod wiring;
