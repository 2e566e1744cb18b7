//! Stage 1, load: the blueprint and overlays, parsed, typed and located.
//!
//! Owns the blueprint format (`model`, the root, naming every concept's
//! types), `app_defaults` (`defaults.apps` merged under each app), one module per concept with its types beside its checks (`apps`,
//! `charts`, `environments`, `gitops`, `image`, `ingress`, `namespaces`,
//! `network`, `probes`, `resources`, `scaling`, `scheduling`, `secrets`,
//! `volumes`, `waivers`, `mesh`, `routing`: the routing API and `gateways:`),
//! the lexical forms of values (`syntax`), the located failure
//! the checks share (`check`), typed decoding with error positions
//! (`decode`, `locator`), reading the project's files into a [`Project`]
//! (`load`), RFC 6902 `patches` (the blueprint's for every environment, an
//! overlay's for its own), the entry to the checks on a resolved blueprint (`validate`) and
//! what gitopsc knows of well-known charts (`catalog`). Knows nothing of
//! environments' merging (that is `resolve`) or of Kubernetes objects.

pub mod app_defaults;
pub mod apps;
pub mod catalog;
pub mod charts;
mod check;
pub mod credentials;
pub mod decode;
pub mod environments;
pub mod gitops;
pub mod image;
pub mod ingress;
pub mod layers;
pub mod load;
pub mod locator;
pub mod mesh;
pub mod model;
pub mod namespaces;
pub mod network;
pub mod overlay_files;
pub mod patches;
pub mod probes;
pub mod resources;
pub mod routing;
pub mod scaling;
pub mod scheduling;
pub mod secrets;
pub mod syntax;
pub mod validate;
pub mod volumes;
pub mod waivers;

pub use load::{Overlay, Project, load};
pub use locator::Locator;
pub use model::*;
pub use patches::{ObjectPatch, PatchTarget};
