//! Options as data. Each options struct of the core lists its keys once — name, kind, default
//! and one line of doc — and takes values by key ([`Options::set`]). A front end reads its own
//! representation into any of them the same way ([`read`]: unknown keys are refused with a
//! did-you-mean and the valid list), and help, completion and `docs/FUNCTIONS.md` print the
//! same list ([`Options::KEYS`]), so a key, its default and its doc cannot drift apart.

use crate::error::{Error, Result};

/// The type of value a key takes, for messages and for help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Float,
    Bool,
    Text,
    /// A list of integers (shapes, block counts).
    Ints,
    /// A list of numbers.
    Floats,
    /// A string or a list of strings.
    Texts,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Int => "int",
            Kind::Float => "float",
            Kind::Bool => "bool",
            Kind::Text => "string",
            Kind::Ints => "array of ints",
            Kind::Floats => "array of numbers",
            Kind::Texts => "string or array of strings",
        }
    }
}

/// One key of an options struct.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    /// The default as a user would write it (`"224"`, `"f32"`, `"the architecture's"`).
    pub default: &'static str,
    pub doc: &'static str,
}

/// A key, for the `KEYS` tables (a `const fn`, so they stay `const`).
pub const fn key(name: &'static str, kind: Kind, default: &'static str, doc: &'static str) -> Key {
    Key {
        name,
        kind,
        default,
        doc,
    }
}

/// A value given for a key, as front ends hand it over.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    List(Vec<Value>),
}

impl Value {
    fn kind_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "an int",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a bool",
            Value::Text(_) => "a string",
            Value::List(_) => "an array",
        }
    }

    fn wrong(&self, key: &str, expected: &str) -> Error {
        Error::invalid(format!(
            "option '{key}': expected {expected}, got {}",
            self.kind_name()
        ))
    }

    /// A count, size or index: a whole non-negative number (a float that is one is taken).
    pub fn usize(&self, key: &str) -> Result<usize> {
        match *self {
            Value::Int(i) if i >= 0 => Ok(i as usize),
            Value::Float(f) if f >= 0.0 && f.fract() == 0.0 && f < 9.0e15 => Ok(f as usize),
            Value::Int(_) | Value::Float(_) => Err(Error::invalid(format!(
                "option '{key}': expected a whole number ≥ 0, got {}",
                self.display()
            ))),
            _ => Err(self.wrong(key, "a whole number ≥ 0")),
        }
    }

    pub fn f64(&self, key: &str) -> Result<f64> {
        match *self {
            Value::Int(i) => Ok(i as f64),
            Value::Float(f) => Ok(f),
            _ => Err(self.wrong(key, "a number")),
        }
    }

    pub fn bool(&self, key: &str) -> Result<bool> {
        match *self {
            Value::Bool(b) => Ok(b),
            _ => Err(self.wrong(key, "true or false")),
        }
    }

    pub fn text(&self, key: &str) -> Result<String> {
        match self {
            Value::Text(s) => Ok(s.clone()),
            _ => Err(self.wrong(key, "a string")),
        }
    }

    pub fn usizes(&self, key: &str) -> Result<Vec<usize>> {
        match self {
            Value::List(items) => items.iter().map(|v| v.usize(key)).collect(),
            _ => Err(self.wrong(key, "an array of whole numbers")),
        }
    }

    pub fn f64s(&self, key: &str) -> Result<Vec<f64>> {
        match self {
            Value::List(items) => items.iter().map(|v| v.f64(key)).collect(),
            _ => Err(self.wrong(key, "an array of numbers")),
        }
    }

    /// A string, or a list of strings.
    pub fn texts(&self, key: &str) -> Result<Vec<String>> {
        match self {
            Value::Text(s) => Ok(vec![s.clone()]),
            Value::List(items) => items.iter().map(|v| v.text(key)).collect(),
            _ => Err(self.wrong(key, "a string or an array of strings")),
        }
    }

    fn display(&self) -> String {
        match self {
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Text(s) => format!("\"{s}\""),
            Value::List(v) => format!("[{} items]", v.len()),
        }
    }
}

/// A struct of options with one `Default` and its keys listed once.
pub trait Options: Default {
    /// Every key, in the order help lists them.
    const KEYS: &'static [Key];
    /// Take the value of one key (a key of [`Self::KEYS`]; `read` checks that first).
    fn set(&mut self, key: &str, value: &Value) -> Result<()>;
}

/// Options from `(key, value)` pairs over the defaults. `what` names the call in messages. An
/// unknown key is an error naming the close one, if any, and the valid keys.
pub fn read<O: Options>(what: &str, pairs: &[(String, Value)]) -> Result<O> {
    read_among(what, O::KEYS, pairs)
}

/// [`read`] where only some of the struct's keys apply (a zoo name takes the options of its
/// architecture): any other key is refused as unknown, with the applicable ones listed.
pub fn read_among<O: Options>(what: &str, keys: &[Key], pairs: &[(String, Value)]) -> Result<O> {
    let mut o = O::default();
    for (k, v) in pairs {
        if !keys.iter().any(|key| key.name == k) {
            return Err(unknown_key(what, k, keys));
        }
        o.set(k, v)
            .map_err(|e| Error::invalid(format!("{what}: {e}")))?;
    }
    Ok(o)
}

/// "unknown option 'sizee' (did you mean 'size'?); valid: …".
pub fn unknown_key(what: &str, key: &str, keys: &[Key]) -> Error {
    let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
    unknown_name(what, key, &names)
}

/// [`unknown_key`] for a list of names.
pub fn unknown_name(what: &str, key: &str, names: &[&str]) -> Error {
    let mut valid = names.to_vec();
    valid.sort_unstable();
    valid.dedup();
    let close = closest(key, &valid)
        .map(|v| format!(" (did you mean '{v}'?)"))
        .unwrap_or_default();
    Error::invalid(format!(
        "{what}: unknown option '{key}'{close}; valid: {}",
        valid.join(", ")
    ))
}

/// The candidate closest to a misspelt name, if any is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The keys as help prints them: one line each, `name (kind, default …): doc`.
pub fn describe(keys: &[Key]) -> Vec<String> {
    keys.iter()
        .map(|k| {
            format!(
                "{} ({}, default {}): {}",
                k.name,
                k.kind.name(),
                k.default,
                k.doc
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug)]
    struct Demo {
        size: usize,
        name: String,
    }

    impl Options for Demo {
        const KEYS: &'static [Key] = &[
            Key {
                name: "size",
                kind: Kind::Int,
                default: "0",
                doc: "a size",
            },
            Key {
                name: "name",
                kind: Kind::Text,
                default: "\"\"",
                doc: "a name",
            },
        ];
        fn set(&mut self, key: &str, v: &Value) -> Result<()> {
            match key {
                "size" => self.size = v.usize(key)?,
                "name" => self.name = v.text(key)?,
                _ => unreachable!("read checks keys"),
            }
            Ok(())
        }
    }

    #[test]
    fn keys_are_read_checked_and_suggested() {
        let d: Demo = read(
            "demo",
            &[
                ("size".into(), Value::Float(3.0)),
                ("name".into(), Value::Text("x".into())),
            ],
        )
        .unwrap();
        assert_eq!((d.size, d.name.as_str()), (3, "x"));
        let e = read::<Demo>("demo", &[("sise".into(), Value::Int(1))])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("did you mean 'size'") && e.contains("valid: name, size"),
            "{e}"
        );
        let e = read_among::<Demo>(
            "demo",
            &[
                Key {
                    name: "max_frames",
                    ..Demo::KEYS[0]
                },
                Key {
                    name: "max_steps",
                    ..Demo::KEYS[0]
                },
            ],
            &[("max_step".into(), Value::Int(1))],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("did you mean 'max_steps'"),
            "the closest, not the first: {e}"
        );
        let e = read::<Demo>("demo", &[("size".into(), Value::Float(2.5))])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("demo: option 'size'") && e.contains("2.5"),
            "{e}"
        );
        let e = read::<Demo>("demo", &[("size".into(), Value::Int(-1))])
            .unwrap_err()
            .to_string();
        assert!(e.contains("whole number"), "{e}");
    }
}
