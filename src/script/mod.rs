//! The rhai binding layer: one file per area registers its functions, with their documentation,
//! into one engine. The library below knows nothing of rhai; this layer only converts values,
//! reads option maps and turns library errors into script errors.

pub mod attribution;
pub mod ax;
pub mod convert;
pub mod data;
pub mod evaluate;
pub mod models;
pub mod options;
pub mod output;
pub mod plots;
pub mod registry;
pub mod session_fns;
pub mod tensor;
pub mod tensor_math;
pub mod tensor_shape;

pub use convert::ScriptTensor;
pub use options::ScriptArgs;
pub use output::OutputSink;
pub use registry::{Category, FnDoc};

use registry::Registrar;
use std::sync::{Arc, Mutex};

/// Register every gaxsh function with `r.engine`, each with its documentation in `r.docs`
/// (`help` itself is registered by the host once the registry is complete).
pub fn register(r: &mut Registrar, args: Arc<Mutex<ScriptArgs>>, output: OutputSink) {
    tensor::register(r);
    tensor_math::register(r);
    tensor_shape::register(r);
    data::register(r);
    models::register(r);
    attribution::register(r);
    ax::register(r);
    evaluate::register(r);
    options::register(r, args.clone(), output.clone());
    plots::register(r, args, output);
    session_fns::register(r);
}

/// Sizes a script may build in rhai's own values (tensors are bounded by `limits`): a runaway
/// loop or a huge string ends in an error, not in the session's death by the OOM killer.
pub const MAX_STRING_BYTES: usize = 64 << 20;
pub const MAX_ARRAY_LEN: usize = 16 << 20;
pub const MAX_MAP_LEN: usize = 1 << 20;
pub const MAX_EXPR_DEPTH: usize = 256;
pub const MAX_CALL_DEPTH: usize = 256;
