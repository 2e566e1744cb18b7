//! The integration suite: one binary, one module per concern.

mod support;

mod cli;
mod determinism;
mod errors;
mod examples;
mod hostile;
mod precommit;
mod publish;
mod wiring;
