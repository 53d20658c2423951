//! Script options: `gaxsh script.rhai --data PATH --quick` passes options to the script.
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
use rhai::{Array, Dynamic, EvalAltResult, ImmutableString, Map, Position};
use std::sync::{Arc, Mutex};

/// What `options(…)` stops a script with once it has printed the `--help` list: a stop that is
/// neither an error nor an interrupt, so the run ends with exit code 0.
#[derive(Clone, Copy, Debug)]
pub struct HelpShown;

/// The options given on the command line after the script path.
#[derive(Clone, Debug, Default)]
pub struct ScriptArgs {
    /// `(name, value)`; a bare flag has the value `None`.
    pub given: Vec<(String, Option<String>)>,
    pub help: bool,
    /// Names the script has read (via `arg` or `options`).
    pub used: Vec<String>,
    /// The script's path, for the usage line.
    pub script: String,
    /// The declared options and their final values, recorded for run records.
    pub resolved: Vec<(String, Dynamic)>,
}

impl ScriptArgs {
    /// Parse `--name value`, `--name=value` and bare `--flag` (followed by another option or
    /// nothing). Anything else is a usage error.
    pub fn parse(script: &str, raw: &[String]) -> Result<ScriptArgs, String> {
        let mut args = ScriptArgs {
            script: script.to_string(),
            ..Default::default()
        };
        let mut i = 0;
        while i < raw.len() {
            let a = &raw[i];
            let Some(name) = a.strip_prefix("--") else {
                return Err(format!(
                    "unexpected argument '{a}': script options are given as --name value"
                ));
            };
            if name == "help" || name == "h" {
                args.help = true;
                i += 1;
                continue;
            }
            if let Some((k, v)) = name.split_once('=') {
                args.given.push((k.to_string(), Some(v.to_string())));
                i += 1;
            } else if i + 1 < raw.len() && !raw[i + 1].starts_with("--") {
                args.given
                    .push((name.to_string(), Some(raw[i + 1].clone())));
                i += 2;
            } else {
                args.given.push((name.to_string(), None));
                i += 1;
            }
        }
        Ok(args)
    }

    /// The options as the script-visible `args` map (strings, `true` for bare flags).
    pub fn as_map(&self) -> Map {
        self.given
            .iter()
            .map(|(k, v)| {
                let d = match v {
                    Some(s) => Dynamic::from(s.clone()),
                    None => Dynamic::TRUE,
                };
                (k.as_str().into(), d)
            })
            .collect()
    }

    fn lookup(&self, name: &str) -> Option<&Option<String>> {
        self.given
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Options given but never read by the script.
    pub fn unused(&self) -> Vec<String> {
        self.given
            .iter()
            .map(|(k, _)| k.clone())
            .filter(|k| !self.used.contains(k))
            .collect()
    }
}

/// Convert a command-line value to the type of the default.
fn typed(name: &str, given: &Option<String>, default: &Dynamic) -> RResult<Dynamic> {
    let text = match given {
        None if default.is_bool() => return Ok(Dynamic::TRUE),
        None => return err(format!("option --{name} needs a value")),
        Some(t) => t,
    };
    if default.is_bool() {
        return match text.as_str() {
            "true" | "1" | "yes" => Ok(Dynamic::TRUE),
            "false" | "0" | "no" => Ok(Dynamic::FALSE),
            _ => err(format!(
                "option --{name}: expected true or false, got '{text}'"
            )),
        };
    }
    if default.is_int() {
        return text.parse::<i64>().map(Dynamic::from_int).or_else(|_| {
            err(format!(
                "option --{name}: expected an integer, got '{text}'"
            ))
        });
    }
    if default.is_float() {
        return text
            .parse::<f64>()
            .map(Dynamic::from_float)
            .or_else(|_| err(format!("option --{name}: expected a number, got '{text}'")));
    }
    Ok(Dynamic::from(text.clone()))
}

fn usage(args: &ScriptArgs, about: &str, decls: &[(String, Dynamic, String)]) -> String {
    let mut s = format!(
        "{about}\n\nusage: gaxsh {} [options]\n\noptions:\n",
        args.script
    );
    let width = decls.iter().map(|(n, _, _)| n.len()).max().unwrap_or(4) + 2;
    for (name, default, doc) in decls {
        let dflt = if default.is_string() {
            format!("\"{default}\"")
        } else {
            default.to_string()
        };
        s.push_str(&format!("  --{name:<width$} {doc} (default: {dflt})\n"));
    }
    s.push_str(&format!("  --{:<width$} show this list\n", "help"));
    s
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
    r.engine.register_fn(
        "arg",
        move |name: &str, default: Dynamic| -> RResult<Dynamic> {
            let mut args = a.lock().unwrap_or_else(|p| p.into_inner());
            args.used.push(name.to_string());
            let v = match args.lookup(name).cloned() {
                Some(given) => typed(name, &given, &default)?,
                None => default,
            };
            args.resolved.push((name.to_string(), v.clone()));
            Ok(v)
        },
    );

    let a = args;
    r.engine
        .register_fn("options", move |about: &str, decl: Map| -> RResult<Map> {
            let mut decls: Vec<(String, Dynamic, String)> = Vec::new();
            for (name, spec) in &decl {
                let Some(pair) = spec.clone().try_cast::<Array>() else {
                    return err(format!("options: '{name}' must be [default, \"doc\"]"));
                };
                if pair.len() != 2 || !pair[1].is_string() {
                    return err(format!("options: '{name}' must be [default, \"doc\"]"));
                }
                decls.push((
                    name.to_string(),
                    pair[0].clone(),
                    pair[1].clone().cast::<ImmutableString>().to_string(),
                ));
            }
            let mut args = a.lock().unwrap_or_else(|p| p.into_inner());
            if args.help {
                output(&usage(&args, about, &decls));
                return Err(EvalAltResult::ErrorTerminated(
                    Dynamic::from(HelpShown),
                    Position::NONE,
                )
                .into());
            }
            let names: Vec<&str> = decls.iter().map(|(n, _, _)| n.as_str()).collect();
            for (given, _) in &args.given {
                if !names.contains(&given.as_str()) {
                    let close = crate::options::closest(given, &names)
                        .map(|n| format!(" (did you mean --{n}?)"))
                        .unwrap_or_default();
                    return err(format!(
                        "unknown option --{given}{close}; this script takes: {}",
                        names
                            .iter()
                            .map(|n| format!("--{n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            let mut out = Map::new();
            for (name, default, _) in &decls {
                let v = match args.lookup(name).cloned() {
                    Some(given) => typed(name, &given, default)?,
                    None => default.clone(),
                };
                args.used.push(name.clone());
                args.resolved.push((name.clone(), v.clone()));
                out.insert(name.as_str().into(), v);
            }
            Ok(out)
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values_flags_and_equals() {
        let raw: Vec<String> = ["--data", "x.csv", "--quick", "--steps=5"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = ScriptArgs::parse("s.rhai", &raw).unwrap();
        assert_eq!(a.given[0], ("data".into(), Some("x.csv".into())));
        assert_eq!(a.given[1], ("quick".into(), None));
        assert_eq!(a.given[2], ("steps".into(), Some("5".into())));
        assert!(ScriptArgs::parse("s.rhai", &["stray".to_string()]).is_err());
    }

    #[test]
    fn typed_values_follow_the_default() {
        assert_eq!(
            typed("n", &Some("3".into()), &Dynamic::from_int(1))
                .unwrap()
                .as_int()
                .unwrap(),
            3
        );
        assert!(typed("n", &Some("x".into()), &Dynamic::from_int(1)).is_err());
        assert!(
            typed("q", &None, &Dynamic::FALSE)
                .unwrap()
                .as_bool()
                .unwrap()
        );
        assert!(typed("d", &None, &Dynamic::from("s".to_string())).is_err());
    }
}
