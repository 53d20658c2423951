//! Options as data. Each options struct of the core lists its keys once — name, kind, default
//! and one line of doc — and takes values by key ([`Options::set`]). A front end reads its own
//! representation into any of them the same way ([`read`]: unknown keys are refused with a
//! did-you-mean and the valid list), and help, completion and `docs/FUNCTIONS.md` print the
//! same list ([`Options::KEYS`]), so a key, its default and its doc cannot drift apart.

use crate::error::{Error, Result};
use candle_core::Tensor;
use std::fmt::Debug;

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
    /// A dataset (a script value, read by the binding itself).
    Dataset,
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
            Kind::Dataset => "Dataset",
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
#[derive(Clone, Debug)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    List(Vec<Value>),
    /// A tensor (baselines, per-sample targets, overlay images).
    Tensor(Tensor),
}

impl Value {
    fn kind_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "an int",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a bool",
            Value::Text(_) => "a string",
            Value::List(_) => "an array",
            Value::Tensor(_) => "a tensor",
        }
    }

    /// The error for a value of the wrong kind.
    pub fn wrong(&self, key: &str, expected: &'static str) -> Error {
        Error::OptionType {
            key: key.to_string(),
            expected,
            got: self.kind_name().to_string(),
        }
    }

    /// A count, size or index: a whole non-negative number (a float that is one is taken).
    pub fn usize(&self, key: &str) -> Result<usize> {
        match *self {
            Value::Int(i) if i >= 0 => Ok(i as usize),
            Value::Float(f) if f >= 0.0 && f.fract() == 0.0 && f < 9.0e15 => Ok(f as usize),
            Value::Int(_) | Value::Float(_) => Err(Error::OptionType {
                key: key.to_string(),
                expected: "a whole number ≥ 0",
                got: self.display(),
            }),
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

    /// A tensor; a number or a nested list of numbers becomes an f32 tensor on the current
    /// device.
    pub fn tensor(&self, key: &str) -> Result<Tensor> {
        match self {
            Value::Tensor(t) => Ok(t.clone()),
            Value::Int(_) | Value::Float(_) | Value::List(_) => {
                let mut values = Vec::new();
                let mut dims = Vec::new();
                self.flatten(key, 0, &mut dims, &mut values)?;
                let n = crate::limits::shape(key, &dims, 4)?;
                debug_assert_eq!(n, values.len());
                let t = Tensor::from_vec(values, dims, &crate::device::current())?;
                Ok(t.to_dtype(candle_core::DType::F32)?)
            }
            _ => Err(self.wrong(key, "a tensor or numbers")),
        }
    }

    fn flatten(
        &self,
        key: &str,
        depth: usize,
        dims: &mut Vec<usize>,
        out: &mut Vec<f64>,
    ) -> Result<()> {
        match self {
            Value::List(items) => {
                match dims.get(depth) {
                    None => dims.push(items.len()),
                    Some(&d) if d != items.len() => {
                        return Err(Error::invalid(format!(
                            "option '{key}': a ragged nested array"
                        )));
                    }
                    Some(_) => {}
                }
                items
                    .iter()
                    .try_for_each(|v| v.flatten(key, depth + 1, dims, out))
            }
            _ if dims.len() > depth => Err(Error::invalid(format!(
                "option '{key}': a ragged nested array"
            ))),
            other => {
                out.push(other.f64(key)?);
                Ok(())
            }
        }
    }

    /// Class indices: one, a list, or a tensor of them (checked whole and non-negative; the
    /// model's class count is checked where it is known).
    pub fn classes(&self, key: &str) -> Result<Vec<usize>> {
        let values = match self {
            Value::Tensor(t) => crate::tensor::ops::to_f64_vec(t)?,
            Value::List(items) => items.iter().map(|v| v.f64(key)).collect::<Result<_>>()?,
            Value::Int(_) | Value::Float(_) => vec![self.f64(key)?],
            _ => return Err(self.wrong(key, "a class index, an array or a tensor of them")),
        };
        values
            .into_iter()
            .map(|v| crate::classes::index(key, v, None))
            .collect()
    }

    /// The value a `Key::default` text stands for, when that text is a literal as a user would
    /// type it (`"sum"`, `50`, `0.1`, `true`, `[2, 2]`); `None` for a described default ("the
    /// prediction").
    pub fn literal(text: &str) -> Option<Value> {
        let t = text.trim();
        if let Some(s) = t.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            return (!s.contains('"')).then(|| Value::Text(s.to_string()));
        }
        if let Some(inner) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            if inner.trim().is_empty() {
                return Some(Value::List(vec![]));
            }
            return inner
                .split(',')
                .map(Value::literal)
                .collect::<Option<_>>()
                .map(Value::List);
        }
        match t {
            "true" => return Some(Value::Bool(true)),
            "false" => return Some(Value::Bool(false)),
            _ => {}
        }
        if let Ok(i) = t.parse::<i64>() {
            return Some(Value::Int(i));
        }
        t.parse::<f64>().ok().map(Value::Float)
    }

    fn display(&self) -> String {
        match self {
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Text(s) => format!("\"{s}\""),
            Value::List(v) => format!("[{} items]", v.len()),
            Value::Tensor(t) => format!("a tensor of shape {:?}", t.dims()),
        }
    }
}

/// One given value and its key, as an [`options!`](crate::options!) reader sees it:
/// `v.text()?`, `v.usize()?`, … name the key in their errors.
pub struct Given<'a> {
    pub key: &'a str,
    pub value: &'a Value,
}

impl Given<'_> {
    pub fn usize(&self) -> Result<usize> {
        self.value.usize(self.key)
    }
    pub fn f64(&self) -> Result<f64> {
        self.value.f64(self.key)
    }
    pub fn bool(&self) -> Result<bool> {
        self.value.bool(self.key)
    }
    pub fn text(&self) -> Result<String> {
        self.value.text(self.key)
    }
    pub fn texts(&self) -> Result<Vec<String>> {
        self.value.texts(self.key)
    }
    pub fn usizes(&self) -> Result<Vec<usize>> {
        self.value.usizes(self.key)
    }
    pub fn f64s(&self) -> Result<Vec<f64>> {
        self.value.f64s(self.key)
    }
    pub fn tensor(&self) -> Result<Tensor> {
        self.value.tensor(self.key)
    }
    pub fn classes(&self) -> Result<Vec<usize>> {
        self.value.classes(self.key)
    }
}

/// An options struct from one table, a row per key: the key, its field and type, the default
/// (Rust), the default as help shows it, its kind, its doc and how a given value is read. The
/// struct, its `Default`, its [`Options::KEYS`] and [`Options::set`] all come from that row, so
/// nothing about a key is written twice (`shown_defaults_hold` checks the shown default).
///
/// ```
/// gaxsh::options! {
///     /// How to greet.
///     pub struct Greeting {
///         "name" => name: String = "world".into(); Text, "\"world\"", "who to greet", |v| v.text()?;
///         "times" => times: usize = 1; Int, "1", "how often", |v| v.usize()?;
///     }
/// }
/// let g: Greeting = gaxsh::options::read("greet", &[("times".into(), gaxsh::options::Value::Int(2))]).unwrap();
/// assert_eq!((g.name.as_str(), g.times), ("world", 2));
/// ```
#[macro_export]
macro_rules! options {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $key:literal => $field:ident : $ty:ty = $default:expr;
                $kind:ident, $shown:literal, $doc:literal, |$v:ident| $read:expr;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        pub struct $name {
            $( #[doc = $doc] pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $( $field: $default, )* }
            }
        }

        impl $crate::options::Options for $name {
            const KEYS: &'static [$crate::options::Key] = &[
                $( $crate::options::key($key, $crate::options::Kind::$kind, $shown, $doc), )*
            ];

            fn set(&mut self, key: &str, value: &$crate::options::Value) -> $crate::error::Result<()> {
                match key {
                    $( $key => {
                        let $v = $crate::options::Given { key, value };
                        self.$field = $read;
                    } )*
                    _ => return Err($crate::options::unknown_key(stringify!($name), key, Self::KEYS)),
                }
                Ok(())
            }
        }
    };
}

/// A struct of options with one `Default` and its keys listed once.
pub trait Options: Default {
    /// The struct's own keys, in the order help lists them.
    const KEYS: &'static [Key];
    /// Every key it takes: its own, and those of options it holds (a sweep takes some of
    /// `attribute`'s).
    fn keys() -> Vec<Key> {
        Self::KEYS.to_vec()
    }
    /// Take the value of one key (a key of [`Self::KEYS`]; `read` checks that first).
    fn set(&mut self, key: &str, value: &Value) -> Result<()>;
}

/// Options from `(key, value)` pairs over the defaults. `what` names the call in messages. An
/// unknown key is an error naming the close one, if any, and the valid keys.
pub fn read<O: Options>(what: &str, pairs: &[(String, Value)]) -> Result<O> {
    read_among(what, &O::keys(), pairs)
}

/// [`read`] where only some of the struct's keys apply (a zoo name takes the options of its
/// architecture): any other key is refused as unknown, with the applicable ones listed.
pub fn read_among<O: Options>(what: &str, keys: &[Key], pairs: &[(String, Value)]) -> Result<O> {
    let mut o = O::default();
    for (k, v) in pairs {
        if !keys.iter().any(|key| key.name == k) {
            return Err(unknown_key(what, k, keys));
        }
        o.set(k, v).map_err(|e| e.within(what))?;
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
    Error::UnknownOption {
        what: what.to_string(),
        key: key.to_string(),
        close: closest(key, &valid).map(str::to_string),
        valid: valid.iter().map(|s| s.to_string()).collect(),
    }
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

/// The keys of `keys` named in `names` (a call that takes only some of a struct's options).
pub fn only(keys: &[Key], names: &[&str]) -> Vec<Key> {
    keys.iter()
        .filter(|k| names.contains(&k.name))
        .copied()
        .collect()
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

/// Check that every literal default a key shows is the struct's `Default` (help cannot drift
/// from the code): each is set on a default value, which must not change. `Err` names the key.
pub fn shown_defaults_hold<O: Options + Debug>() -> std::result::Result<(), String> {
    let base = format!("{:?}", O::default());
    for k in O::KEYS {
        let Some(v) = Value::literal(k.default) else {
            continue;
        };
        let mut o = O::default();
        o.set(k.name, &v).map_err(|e| {
            format!(
                "{}: shown default {} does not parse: {e}",
                k.name, k.default
            )
        })?;
        if format!("{o:?}") != base {
            return Err(format!(
                "{}: shown default {} is not the struct's Default",
                k.name, k.default
            ));
        }
    }
    Ok(())
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
