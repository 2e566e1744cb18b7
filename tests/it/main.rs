//! The integration suite: one binary, one module per concern.

mod support;
#[path = "../../benches/synthetic.rs"]
mod synthetic;

mod affinity;
mod app_defaults;
mod atomic;
mod authorization;
mod chart_names;
mod chart_placement;
mod cli;
mod cli_options;
mod determinism;
mod diffs;
mod editor_schema;
mod engines;
mod env_cache;
mod errors;
mod examples;
mod filesystem;
mod gateways;
mod hostile;
mod hygiene;
mod incremental;
mod inputs;
mod layer_namespaces;
mod layouts;
mod linkerd;
mod mesh;
mod mesh_ambient;
mod mesh_tracing;
mod mesh_webhooks;
mod mutations;
mod ordering;
mod overlays;
mod precommit;
mod publish;
mod reach;
mod release;
mod scheduling;
mod secrets;
mod stat_record;
mod structure;
mod verify;
mod webhooks;
mod wiring;
