//! The options a script run is given on its command line: `gaxsh script.rhai --data PATH
//! --quick --steps=5`. A script declares its options once (`options(about, #{name: [default,
//! doc]})` in the script layer); this module holds the rules: how the command line is read,
//! how a value takes the type of its default, which options a script did not declare (refused,
//! with did-you-mean), the `--help` list, and the values each option resolved to (the run
//! record keeps them).

use crate::error::{Error, Result};

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
    pub resolved: Vec<(String, serde_yaml::Value)>,
}

/// The type an option takes from its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    Bool,
    Int,
    Float,
    Text,
}

/// A command-line value read as its option's kind.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

/// One declared option: its name, its default as `--help` shows it, and what it is for.
pub struct Declared<'a> {
    pub name: &'a str,
    pub default: String,
    pub doc: &'a str,
}

impl ScriptArgs {
    /// Parse `--name value`, `--name=value` and bare `--flag` (followed by another option or
    /// nothing). Anything else is a usage error.
    pub fn parse(script: &str, raw: &[String]) -> std::result::Result<ScriptArgs, String> {
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

    /// The value given for `name` (the last one when given twice), read as `kind`; `None` when
    /// the option was not given. The script has now used the option.
    pub fn take(&mut self, name: &str, kind: ArgKind) -> Result<Option<ArgValue>> {
        self.used.push(name.to_string());
        let given = self.given.iter().rev().find(|(k, _)| k == name);
        given
            .map(|(_, v)| typed(name, v.as_deref(), kind))
            .transpose()
    }

    /// Record what an option resolved to, for the run record.
    pub fn resolve(&mut self, name: &str, value: serde_yaml::Value) {
        self.resolved.push((name.to_string(), value));
    }

    /// An error naming the first option given that the script does not declare.
    pub fn check_declared(&self, names: &[&str]) -> Result<()> {
        let Some((given, _)) = self
            .given
            .iter()
            .find(|(g, _)| !names.contains(&g.as_str()))
        else {
            return Ok(());
        };
        let close = crate::options::closest(given, names)
            .map(|n| format!(" (did you mean --{n}?)"))
            .unwrap_or_default();
        let valid: Vec<String> = names.iter().map(|n| format!("--{n}")).collect();
        Err(Error::invalid(format!(
            "unknown option --{given}{close}; this script takes: {}",
            valid.join(", ")
        )))
    }

    /// The `--help` list of a script's declared options.
    pub fn usage(&self, about: &str, declared: &[Declared]) -> String {
        let mut s = format!(
            "{about}\n\nusage: gaxsh {} [options]\n\noptions:\n",
            self.script
        );
        let width = declared.iter().map(|d| d.name.len()).max().unwrap_or(4) + 2;
        for d in declared {
            s.push_str(&format!(
                "  --{:<width$} {} (default: {})\n",
                d.name, d.doc, d.default
            ));
        }
        s.push_str(&format!("  --{:<width$} show this list\n", "help"));
        s
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

/// A command-line value read as `kind`: a bare flag is `true` for a bool option and an error
/// for any other.
fn typed(name: &str, given: Option<&str>, kind: ArgKind) -> Result<ArgValue> {
    let bad = |what: &str, text: &str| {
        Err(Error::invalid(format!(
            "option --{name}: expected {what}, got '{text}'"
        )))
    };
    let Some(text) = given else {
        return match kind {
            ArgKind::Bool => Ok(ArgValue::Bool(true)),
            _ => Err(Error::invalid(format!("option --{name} needs a value"))),
        };
    };
    match kind {
        ArgKind::Bool => match text {
            "true" | "1" | "yes" => Ok(ArgValue::Bool(true)),
            "false" | "0" | "no" => Ok(ArgValue::Bool(false)),
            _ => bad("true or false", text),
        },
        ArgKind::Int => text
            .parse()
            .map(ArgValue::Int)
            .or_else(|_| bad("an integer", text)),
        ArgKind::Float => text
            .parse()
            .map(ArgValue::Float)
            .or_else(|_| bad("a number", text)),
        ArgKind::Text => Ok(ArgValue::Text(text.to_string())),
    }
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
    fn values_take_the_kind_of_their_default() {
        assert_eq!(
            typed("n", Some("3"), ArgKind::Int).unwrap(),
            ArgValue::Int(3)
        );
        assert!(typed("n", Some("x"), ArgKind::Int).is_err());
        assert_eq!(
            typed("q", None, ArgKind::Bool).unwrap(),
            ArgValue::Bool(true)
        );
        assert!(typed("d", None, ArgKind::Text).is_err());
    }

    #[test]
    fn undeclared_options_are_named_with_the_closest() {
        let a = ScriptArgs::parse("s.rhai", &["--step".into(), "3".into()]).unwrap();
        let e = a
            .check_declared(&["steps", "data"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--step") && e.contains("did you mean --steps"),
            "{e}"
        );
        assert!(a.check_declared(&["step"]).is_ok());
    }
}
