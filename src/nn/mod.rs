//! Models: layers with rule-aware nonlinearities, the paper's zoo, YAML models, weights.

pub mod act;
pub mod alexnet;
pub mod arch;
pub mod attention;
pub mod formula;
pub mod graph;
pub mod layers;
pub mod mobilenet;
pub mod model;
pub mod module;
pub mod optim;
pub mod params;
pub mod pass;
pub mod resnet;
pub mod spec;
pub mod weights;
pub mod zoo;

pub use act::{ActKind, Rule};
pub use arch::{Arch, ModelOptions};
pub use model::{CHUNK, Model};
pub use pass::{LayerRef, Pass};
