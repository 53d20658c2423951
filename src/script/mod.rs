//! The rhai binding layer: one file per area registers its functions, with their documentation,
//! into one engine. The library below knows nothing of rhai; this layer only converts values,
//! reads option maps and turns library errors into script errors.

pub mod attribution;
pub mod ax;
pub mod convert;
pub mod data;
pub mod diagnostic;
pub mod evaluate;
pub mod models;
pub mod options;
pub mod output;
pub mod plots;
pub mod registry;
pub mod session;
pub mod session_fns;
pub mod source_text;
pub mod stdlib;
pub mod tensor;
pub mod tensor_math;
pub mod tensor_shape;

pub use convert::ScriptTensor;
pub use diagnostic::ScriptError;
pub use options::ScriptArgs;
pub use registry::{Category, FnDoc, Registry};
pub use session::{OutputSink, Session, SessionBuilder};

use registry::Registrar;
use rhai::{Dynamic, Engine};
use std::sync::{Arc, Mutex};

/// An engine with every gaxsh function registered, and the registry documenting them.
pub fn build_engine(
    output: OutputSink,
    args: Arc<Mutex<ScriptArgs>>,
    log: crate::report::log::SharedLog,
) -> (Engine, Arc<Registry>) {
    let mut engine = Engine::new();
    set_limits(&mut engine);
    engine.set_module_resolver(stdlib::StdlibResolver::new());
    allow_var_as_name(&mut engine);

    // Ctrl-C and kernel interrupts stop script loops between operations.
    engine.on_progress(|_| crate::interrupt::requested().then(|| Dynamic::from("interrupted")));
    let out = output.clone();
    engine.on_print(move |s| out(s));
    let out = output.clone();
    engine.on_debug(move |s, src, pos| match (src, pos.line()) {
        (Some(src), Some(l)) => out(&format!("[{src}:{l}] {s}")),
        _ => out(&format!("[debug] {s}")),
    });

    let mut docs = Vec::new();
    {
        let mut r = Registrar {
            engine: &mut engine,
            docs: &mut docs,
            log,
        };
        tensor::register(&mut r);
        tensor_math::register(&mut r);
        tensor_shape::register(&mut r);
        data::register(&mut r);
        models::register(&mut r);
        attribution::register(&mut r);
        ax::register(&mut r);
        evaluate::register(&mut r);
        options::register(&mut r, args.clone(), output.clone());
        plots::register(&mut r, args, output.clone());
        session_fns::register(&mut r);
        session_fns::document_help(&mut r);
    }
    let members = registry::members_by_type(&engine);
    let registry = Arc::new(Registry { docs, members });
    functions_as_values(&mut engine, &registry);
    session_fns::register_help(&mut engine, registry.clone(), output);
    (engine, registry)
}

/// `help(attribute)`, `let f = attribute`: a registered function's name where no variable of
/// that name exists is a pointer to the function, as in Python.
#[allow(deprecated)] // `on_var` is marked volatile, not deprecated
fn functions_as_values(engine: &mut Engine, registry: &Registry) {
    let names: std::collections::HashSet<String> =
        registry.docs.iter().map(|d| d.name.to_string()).collect();
    engine.on_var(move |name, index, ctx| {
        // A variable the compiler placed (index > 0) or one in scope is never shadowed.
        if index > 0 || !names.contains(name) || ctx.scope().contains(name) {
            return Ok(None);
        }
        Ok(Some(Dynamic::from(rhai::FnPtr::new(name)?)))
    });
}

/// Sizes a script may build in rhai's own values (tensors are bounded by `limits`): a runaway
/// loop or a huge string ends in an error, not in the session's death by the OOM killer.
pub const MAX_STRING_BYTES: usize = 64 << 20;
pub const MAX_ARRAY_LEN: usize = 16 << 20;
pub const MAX_MAP_LEN: usize = 1 << 20;
pub const MAX_EXPR_DEPTH: usize = 256;
pub const MAX_CALL_DEPTH: usize = 256;

fn set_limits(engine: &mut Engine) {
    engine.set_max_string_size(MAX_STRING_BYTES);
    engine.set_max_array_size(MAX_ARRAY_LEN);
    engine.set_max_map_size(MAX_MAP_LEN);
    engine.set_max_expr_depths(MAX_EXPR_DEPTH, MAX_EXPR_DEPTH);
    engine.set_max_call_levels(MAX_CALL_DEPTH);
    engine.set_max_modules(1024);
}

/// `var` is reserved in rhai, but `x.var()` is the name PyTorch users expect for the variance;
/// let the tokenizer treat it as an ordinary identifier.
#[allow(deprecated)] // `on_parse_token` is marked volatile, not deprecated
fn allow_var_as_name(engine: &mut Engine) {
    use rhai::Token;
    engine.on_parse_token(|token, _, _| match token {
        Token::Reserved(s) if s.as_str() == "var" => Token::Identifier(s),
        other => other,
    });
}
