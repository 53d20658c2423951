//! Conversions between rhai values and gaxsh values, and the error bridge.
//!
//! Native functions return [`RResult`]; a library [`Error`] becomes a one-line runtime error that
//! rhai positions at the calling script line. Option maps (`#{lr: 0.1, …}`) are read into the
//! core's options structs ([`read_options`]), which reject misspelt keys with the valid ones.

use crate::error::Error;
use candle_core::{DType, Tensor};
use rhai::{Array, Dynamic, EvalAltResult, ImmutableString, Map, Position};

pub type RResult<T> = Result<T, Box<EvalAltResult>>;

/// A library error as a rhai error (interrupts become rhai's "terminated").
pub fn to_rhai(e: Error) -> Box<EvalAltResult> {
    match e {
        Error::Interrupted => {
            EvalAltResult::ErrorTerminated("interrupted".into(), Position::NONE).into()
        }
        other => EvalAltResult::ErrorRuntime(other.to_string().into(), Position::NONE).into(),
    }
}

/// A plain message as a rhai runtime error.
pub fn err<T>(msg: impl Into<String>) -> RResult<T> {
    Err(to_rhai(Error::Invalid(msg.into())))
}

/// `?`-friendly conversion of library and candle results.
pub trait OrRhai<T> {
    fn rh(self) -> RResult<T>;
}

impl<T> OrRhai<T> for Result<T, Error> {
    fn rh(self) -> RResult<T> {
        self.map_err(to_rhai)
    }
}

impl<T> OrRhai<T> for candle_core::Result<T> {
    fn rh(self) -> RResult<T> {
        self.map_err(|e| to_rhai(e.into()))
    }
}

/// The tensor type scripts see as `Tensor`.
#[derive(Clone, Debug)]
pub struct ScriptTensor(pub Tensor);

impl From<Tensor> for ScriptTensor {
    fn from(t: Tensor) -> Self {
        ScriptTensor(t)
    }
}

/// A 1-D f64 tensor of `values` on the current device.
pub fn vector(values: Vec<f64>) -> RResult<ScriptTensor> {
    let n = values.len();
    Tensor::from_vec(values, n, &crate::device::current())
        .map(ScriptTensor)
        .rh()
}

/// A script value of type `V`, or `what` it should have been as the error.
pub fn cast<V: rhai::Variant + Clone>(d: &Dynamic, what: &str) -> RResult<V> {
    d.clone()
        .try_cast::<V>()
        .ok_or_else(|| to_rhai(Error::invalid(what)))
}

/// A number from a rhai value (int or float).
pub fn number(d: &Dynamic, what: &str) -> RResult<f64> {
    if let Ok(f) = d.as_float() {
        return Ok(f);
    }
    if let Ok(i) = d.as_int() {
        return Ok(i as f64);
    }
    if let Some(t) = d
        .clone()
        .try_cast::<ScriptTensor>()
        .filter(|t| t.0.elem_count() == 1)
    {
        return Ok(crate::tensor::ops::to_f64_vec(&t.0).rh()?[0]);
    }
    err(format!("{what}: expected a number, got {}", d.type_name()))
}

/// Numbers from a script value: a tensor, an array of numbers, or one number.
pub fn floats(d: &Dynamic, what: &str) -> RResult<Vec<f64>> {
    if let Some(t) = d.clone().try_cast::<ScriptTensor>() {
        return crate::tensor::ops::to_f64_vec(&t.0).rh();
    }
    match d.clone().try_cast::<Array>() {
        Some(a) => a.iter().map(|x| number(x, what)).collect(),
        None => Ok(vec![number(d, what)?]),
    }
}

/// A non-negative integer from a rhai value.
pub fn index(d: &Dynamic, what: &str) -> RResult<usize> {
    match d.as_int() {
        Ok(i) => count(i, what),
        Err(_) => err(format!(
            "{what}: expected an integer, got {}",
            d.type_name()
        )),
    }
}

/// A count or an index a script gave as an int: never negative.
pub fn count(i: i64, what: &str) -> RResult<usize> {
    usize::try_from(i).or_else(|_| err(format!("{what}: expected a non-negative integer, got {i}")))
}

/// Class indices from an array or a tensor.
pub fn indices(d: &Dynamic, what: &str) -> RResult<Vec<usize>> {
    option_value(what, d).and_then(|v| v.classes(what)).rh()
}

/// A shape from `[2, 3]` (or a single integer for 1-D).
pub fn shape_of(d: &Dynamic) -> RResult<Vec<usize>> {
    if let Ok(n) = d.as_int() {
        return if n >= 0 {
            Ok(vec![n as usize])
        } else {
            err(format!("shape: negative size {n}"))
        };
    }
    match d.clone().try_cast::<Array>() {
        Some(a) => a.iter().map(|x| index(x, "shape")).collect(),
        None => err(format!(
            "shape: expected an array like [2, 3], got {}",
            d.type_name()
        )),
    }
}

/// An array of integers (may be negative: dims, reshape sizes).
pub fn ints(a: &Array, what: &str) -> RResult<Vec<i64>> {
    a.iter()
        .map(|x| {
            x.as_int()
                .or_else(|_| err(format!("{what}: expected integers, got {}", x.type_name())))
        })
        .collect()
}

pub fn dtype_of(name: &str) -> RResult<DType> {
    crate::nn::arch::dtype_from_name(name).map_err(to_rhai)
}

/// Flatten a nested rhai array of numbers into values and a shape (ragged input is an error).
pub fn nested_values(d: &Dynamic) -> RResult<(Vec<f64>, Vec<usize>)> {
    fn walk(d: &Dynamic, depth: usize, shape: &mut Vec<usize>, out: &mut Vec<f64>) -> RResult<()> {
        if let Some(a) = d.read_lock::<Array>() {
            if shape.len() == depth {
                shape.push(a.len());
            } else if shape.len() > depth && shape[depth] != a.len() {
                return err(format!(
                    "tensor: ragged nested array (length {} where {} was expected at depth {depth})",
                    a.len(),
                    shape[depth]
                ));
            }
            for x in a.iter() {
                walk(x, depth + 1, shape, out)?;
            }
            return Ok(());
        }
        if shape.len() > depth {
            return err("tensor: ragged nested array (a number where an array was expected)");
        }
        if let Ok(b) = d.as_bool() {
            out.push(if b { 1.0 } else { 0.0 });
            return Ok(());
        }
        out.push(number(d, "tensor")?);
        Ok(())
    }
    let mut shape = Vec::new();
    let mut out = Vec::new();
    walk(d, 0, &mut shape, &mut out)?;
    // A leaf at a depth shallower than the shape means mixed nesting.
    if out.len() != shape.iter().product::<usize>() {
        return err("tensor: ragged nested array");
    }
    Ok((out, shape))
}

/// A tensor's values as nested rhai arrays (floats, or ints for integer tensors).
pub fn nested_array(t: &Tensor) -> RResult<Dynamic> {
    let n = t.elem_count();
    if n > super::MAX_ARRAY_LEN {
        return Err(to_rhai(crate::Error::invalid(format!(
            "to_array: {n} elements is more than a script array holds ({}); take a slice first",
            super::MAX_ARRAY_LEN
        ))));
    }
    // Each element becomes a script value (16 bytes) beside its f64 copy.
    crate::limits::check("to_array", n, 24).rh()?;
    let vals = crate::tensor::ops::to_f64_vec(t).rh()?;
    let float = t.dtype().is_float();
    let leaf = |v: f64| -> Dynamic {
        if float {
            Dynamic::from_float(v)
        } else {
            Dynamic::from_int(v as i64)
        }
    };
    fn build(vals: &[f64], dims: &[usize], leaf: &dyn Fn(f64) -> Dynamic) -> Dynamic {
        if dims.is_empty() {
            return leaf(vals[0]);
        }
        let step = dims[1..].iter().product::<usize>();
        let arr: Array = (0..dims[0])
            .map(|i| build(&vals[i * step..(i + 1) * step], &dims[1..], leaf))
            .collect();
        Dynamic::from_array(arr)
    }
    Ok(build(&vals, t.dims(), &leaf))
}

/// Names as a script array of strings.
pub fn strings(names: &[String]) -> Array {
    names.iter().map(|n| Dynamic::from(n.clone())).collect()
}

pub fn shape_array(dims: &[usize]) -> Array {
    dims.iter().map(|&d| Dynamic::from_int(d as i64)).collect()
}

/// A tensor from a script value: a Tensor, a number, or a nested array.
pub fn tensor_arg(d: &Dynamic, what: &str) -> RResult<Tensor> {
    if let Some(t) = d.clone().try_cast::<ScriptTensor>() {
        return Ok(t.0);
    }
    if d.is::<Array>() || d.is_float() || d.is_int() {
        let (v, s) = nested_values(d)?;
        return crate::tensor::ops::from_f64(v, &s, DType::F32).rh();
    }
    err(format!("{what}: expected a Tensor, got {}", d.type_name()))
}

/// A rhai value as an option value (`crate::options`): numbers, bools, strings and arrays of
/// them. `()` is absent.
pub fn option_value(key: &str, d: &Dynamic) -> crate::error::Result<crate::options::Value> {
    use crate::options::Value;
    if let Ok(i) = d.as_int() {
        return Ok(Value::Int(i));
    }
    if let Ok(f) = d.as_float() {
        return Ok(Value::Float(f));
    }
    if let Ok(b) = d.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(s) = d.clone().try_cast::<ImmutableString>() {
        return Ok(Value::Text(s.to_string()));
    }
    if let Some(a) = d.read_lock::<Array>() {
        return a
            .iter()
            .map(|x| option_value(key, x))
            .collect::<crate::error::Result<Vec<_>>>()
            .map(Value::List);
    }
    if let Some(t) = d.clone().try_cast::<ScriptTensor>() {
        return Ok(Value::Tensor(t.0));
    }
    Err(Error::invalid(format!(
        "option '{key}': expected a number, bool, string, array or tensor, got {}",
        d.type_name()
    )))
}

/// Read a rhai options map into a core options struct: the one way every binding takes its
/// options (unknown keys refused with a did-you-mean; `crate::options::read`).
pub fn read_options<O: crate::options::Options>(what: &str, map: &Map) -> RResult<O> {
    read_options_among(what, O::KEYS, map)
}

/// [`read_options`] where only some of the struct's keys apply.
pub fn read_options_among<O: crate::options::Options>(
    what: &str,
    keys: &[crate::options::Key],
    map: &Map,
) -> RResult<O> {
    let mut pairs = Vec::with_capacity(map.len());
    for (k, d) in map {
        if d.is_unit() {
            continue;
        }
        let v = option_value(k, d).map_err(|e| to_rhai(Error::invalid(format!("{what}: {e}"))))?;
        pairs.push((k.to_string(), v));
    }
    crate::options::read_among(what, keys, &pairs).map_err(to_rhai)
}

/// The option `ax_sweep` and `evaluate_heatmaps` take beside their core struct's keys: whether
/// the session's report shows the result (a matter of the session, not of the computation).
pub const IN_REPORT: crate::options::Key = crate::options::key(
    "report",
    crate::options::Kind::Bool,
    "true",
    "show the result in the report (a sweep with a gallery of a few samples' heatmaps); false keeps it out",
);

/// A core struct's keys and [`IN_REPORT`].
pub fn with_report_key(keys: Vec<crate::options::Key>) -> Vec<crate::options::Key> {
    keys.into_iter().chain([IN_REPORT]).collect()
}

/// A map a script built (or got from another function) read back into a core struct; `what`
/// says what the map should be when it is not.
pub fn from_map<V: serde::de::DeserializeOwned>(d: &Dynamic, what: &str) -> RResult<V> {
    rhai::serde::from_dynamic(d).map_err(|e| {
        // rhai labels every deserialisation failure a "syntax error"; the script's map is not.
        let e = e.to_string().replace("Syntax error: ", "");
        to_rhai(Error::invalid(format!("{what} ({e})")))
    })
}

/// Strings from a script array (names, class names), each value as it prints.
pub fn texts(a: &Array) -> Vec<String> {
    a.iter().map(|d| d.to_string()).collect()
}

/// Take a bool option the binding reads itself (not a core struct's) out of `m`.
pub fn take_bool(m: &mut Map, key: &crate::options::Key) -> RResult<bool> {
    match m.remove(key.name).filter(|d| !d.is_unit()) {
        // The key's shown default is its default (`Value::literal`).
        None => crate::options::Value::literal(key.default)
            .ok_or_else(|| Error::invalid(format!("option '{}': no literal default", key.name)))
            .and_then(|v| v.bool(key.name))
            .rh(),
        Some(d) => option_value(key.name, &d)
            .and_then(|v| v.bool(key.name))
            .rh(),
    }
}
