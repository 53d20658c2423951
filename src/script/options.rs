//! Script options (the rules are `crate::args`): `gaxsh script.rhai --data PATH --quick` passes options to the script.
//!
//! A script declares its options once, at the top:
//!
//! ```rhai
//! let opt = options("What this script does.", #{
//!     data:  ["data/drybean/Dry_Bean_Dataset.csv", "the dry-bean CSV"],
//!     quick: [false, "run on a tiny slice in seconds"],
//! });
//! ```
//!
//! `options` returns the values (typed like the defaults), prints the list for `--help`, and
//! rejects an option the script does not declare, so a typo never silently runs the defaults.
//! `arg("name", default)` reads one option without declaring the rest.

use super::convert::*;
use super::registry::{Category, FnDoc, Registrar, func};
pub use crate::args::ScriptArgs;
use crate::args::{ArgKind, ArgValue, Declared};
use rhai::{Array, Dynamic, EvalAltResult, ImmutableString, Map, Position};
use std::sync::{Arc, Mutex};

/// What `options(…)` stops a script with once it has printed the `--help` list: a stop that is
/// neither an error nor an interrupt, so the run ends with exit code 0.
#[derive(Clone, Copy, Debug)]
pub struct HelpShown;

/// The options as the script-visible `args` map (strings, `true` for bare flags).
pub fn args_map(args: &ScriptArgs) -> Map {
    let value = |v: &Option<String>| v.clone().map_or(Dynamic::TRUE, Dynamic::from);
    args.given
        .iter()
        .map(|(k, v)| (k.as_str().into(), value(v)))
        .collect()
}

/// `name`'s value: the command line's, typed like the default, or the default; recorded for
/// the run record.
fn resolve(args: &mut ScriptArgs, name: &str, default: &Dynamic) -> RResult<Dynamic> {
    let kind = match default {
        d if d.is_bool() => ArgKind::Bool,
        d if d.is_int() => ArgKind::Int,
        d if d.is_float() => ArgKind::Float,
        _ => ArgKind::Text,
    };
    let value = match args.take(name, kind).rh()? {
        None => default.clone(),
        Some(ArgValue::Bool(b)) => b.into(),
        Some(ArgValue::Int(i)) => i.into(),
        Some(ArgValue::Float(f)) => f.into(),
        Some(ArgValue::Text(t)) => t.into(),
    };
    args.resolve(name, rhai::serde::from_dynamic(&value).unwrap_or_default());
    Ok(value)
}

/// What the functions of this file do, as `help` and docs/FUNCTIONS.md show them.
#[rustfmt::skip]
const DOCS: &[FnDoc] = &[
    func(Category::Session, "arg", "arg(name, default) -> value", "The command-line option --name, typed like the default, or the default when absent.")
        .example_is("arg(\"steps\", 10)", "10"),
    func(Category::Session, "options", "options(about, #{name: [default, doc], …}) -> map", "Declare the script's options: returns their values, lists them for --help, rejects unknown ones.")
        .example_is("options(\"demo\", #{steps: [10, \"how many\"]}).steps", "10"),
];

pub fn register(
    r: &mut Registrar,
    args: Arc<Mutex<ScriptArgs>>,
    output: super::output::OutputSink,
) {
    r.document(DOCS);
    let a = args.clone();
    r.register_fn("arg", move |name: &str, default: Dynamic| {
        resolve(
            &mut a.lock().unwrap_or_else(|p| p.into_inner()),
            name,
            &default,
        )
    });

    r.register_fn("options", move |about: &str, decl: Map| -> RResult<Map> {
        let mut declared = Vec::new();
        for (name, spec) in &decl {
            match spec.clone().try_cast::<Array>().as_deref() {
                Some([default, doc]) if doc.is_string() => declared.push((
                    name.as_str(),
                    default.clone(),
                    doc.clone().cast::<ImmutableString>(),
                )),
                _ => return err(format!("options: '{name}' must be [default, \"doc\"]")),
            }
        }
        let mut args = args.lock().unwrap_or_else(|p| p.into_inner());
        if args.help {
            let list: Vec<Declared> = declared
                .iter()
                .map(|(name, default, doc)| Declared {
                    name,
                    default: if default.is_string() {
                        format!("\"{default}\"")
                    } else {
                        default.to_string()
                    },
                    doc,
                })
                .collect();
            output(&args.usage(about, &list));
            let stop = EvalAltResult::ErrorTerminated(Dynamic::from(HelpShown), Position::NONE);
            return Err(stop.into());
        }
        let names: Vec<&str> = declared.iter().map(|(n, _, _)| *n).collect();
        args.check_declared(&names).rh()?;
        declared
            .iter()
            .map(|(name, default, _)| Ok(((*name).into(), resolve(&mut args, name, default)?)))
            .collect()
    });
}
