//! Stage 1, load: the blueprint and overlays, parsed, typed and located.
//!
//! Owns the blueprint format (`model`), typed decoding with error positions
//! (`decode`, `locator`), reading the project's files into a [`Project`]
//! (`load`), the checks on a resolved blueprint (`validate`), the routing API and gateways (`routing`) and what gitopsc
//! knows of well-known charts (`catalog`). Knows nothing
//! of environments' merging (that is `resolve`) or of Kubernetes objects.

pub mod catalog;
pub mod credentials;
pub mod decode;
pub mod load;
pub mod locator;
pub mod model;
pub mod network;
mod overlay_files;
pub mod routing;
pub mod validate;

pub use load::{ObjectPatch, Overlay, PatchTarget, Project, load};
pub use locator::Locator;
pub use model::*;
