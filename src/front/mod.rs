//! Running scripts for people, shared by the three front ends (`gaxsh script.rhai`, the REPL
//! and the Jupyter kernel): the engine with its limits and hooks, the session that keeps
//! variables across lines and cells, errors shown with the line and a caret, help and
//! completion, and the embedded stdlib modules. The functions scripts call are in `script`;
//! this layer hosts them and knows nothing of any one front end.

pub mod diagnostic;
pub mod help;
pub mod session;
pub mod source_text;
pub mod stdlib;

pub use diagnostic::ScriptError;
pub use help::Registry;
pub use session::{CompletionIndex, Session, SessionBuilder};

use crate::script::registry::Registrar;
use crate::script::{
    MAX_ARRAY_LEN, MAX_CALL_DEPTH, MAX_EXPR_DEPTH, MAX_MAP_LEN, MAX_STRING_BYTES, OutputSink,
    ScriptArgs,
};
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
    crate::script::register(
        &mut Registrar {
            engine: &mut engine,
            docs: &mut docs,
            log,
        },
        args,
        output.clone(),
    );
    let members = help::members_by_type(&engine);
    let registry = Arc::new(Registry { docs, members });
    functions_as_values(&mut engine, &registry);
    help::register_help(&mut engine, registry.clone(), output);
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
