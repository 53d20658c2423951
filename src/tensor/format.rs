//! Printing tensors the way PyTorch does (`torch/_tensor_str.py`): 4 decimals, integer mode
//! (`1.`), scientific mode when the range is wide, 3 edge items around `...` for tensors of more
//! than 1000 elements, and rows wrapped at 80 columns.
//!
//! Differences, on purpose: the dtype suffix says `dtype=f64` (not `torch.float64`), and a
//! summarised tensor also shows its shape, since the values alone no longer tell it.

use candle_core::{DType, Tensor};

const PRECISION: usize = 4;
const THRESHOLD: usize = 1000;
const EDGE: usize = 3;
const LINEWIDTH: usize = 80;

/// A tensor's values as f64 with their shape; the printable form of any tensor.
struct Values {
    dims: Vec<usize>,
    data: Vec<f64>,
    floating: bool,
}

impl Values {
    fn of(t: &Tensor) -> candle_core::Result<Self> {
        let floating = t.dtype().is_float();
        let data = t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        Ok(Values {
            dims: t.dims().to_vec(),
            data,
            floating,
        })
    }

    fn strides(&self) -> Vec<usize> {
        let mut s = vec![1; self.dims.len()];
        for i in (0..self.dims.len().saturating_sub(1)).rev() {
            s[i] = s[i + 1] * self.dims[i + 1];
        }
        s
    }
}

/// Chooses one number format for every element, as PyTorch's `_Formatter` does.
struct Formatter {
    floating: bool,
    int_mode: bool,
    sci_mode: bool,
    width: usize,
}

impl Formatter {
    fn new(values: &[f64], floating: bool) -> Self {
        let mut f = Formatter {
            floating,
            int_mode: true,
            sci_mode: false,
            width: 1,
        };
        if !floating {
            f.width = values
                .iter()
                .map(|v| format!("{}", *v as i64).len())
                .max()
                .unwrap_or(1);
            return f;
        }
        let finite: Vec<f64> = values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v != 0.0)
            .collect();
        if finite.is_empty() {
            // Only zeros and non-finite values: integer mode, as PyTorch.
            f.width = values
                .iter()
                .map(|v| f.format_raw(*v).len())
                .max()
                .unwrap_or(1);
            return f;
        }
        let abs_min = finite.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
        let abs_max = finite.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        f.int_mode = finite.iter().all(|v| v.ceil() == *v);
        f.sci_mode = if f.int_mode {
            abs_max / abs_min > 1000.0 || abs_max > 1e8
        } else {
            abs_max / abs_min > 1000.0 || abs_max > 1e8 || abs_min < 1e-4
        };
        f.width = values
            .iter()
            .map(|v| f.format_raw(*v).len())
            .max()
            .unwrap_or(1);
        f
    }

    fn format_raw(&self, v: f64) -> String {
        if !self.floating {
            return format!("{}", v as i64);
        }
        if v.is_nan() {
            return "nan".into();
        }
        if v.is_infinite() {
            return if v > 0.0 { "inf".into() } else { "-inf".into() };
        }
        if self.sci_mode {
            python_sci(v, PRECISION)
        } else if self.int_mode {
            format!("{v:.0}.")
        } else {
            format!("{v:.PRECISION$}")
        }
    }

    fn format(&self, v: f64) -> String {
        let s = self.format_raw(v);
        format!("{s:>width$}", width = self.width)
    }
}

/// Python's `'{:.Ne}'.format(v)`: at least two exponent digits and an explicit sign.
fn python_sci(v: f64, precision: usize) -> String {
    let s = format!("{v:.precision$e}");
    let (mantissa, exp) = s.split_once('e').expect("rust always writes an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

/// The elements that are shown: all of them, or the edge items of every dimension.
fn shown_values(v: &Values, summarize: bool) -> Vec<f64> {
    if !summarize {
        return v.data.clone();
    }
    let strides = v.strides();
    let mut out = Vec::new();
    collect_edges(v, &strides, 0, 0, &mut out);
    out
}

fn edge_indices(n: usize, summarize: bool) -> Vec<usize> {
    if summarize && n > 2 * EDGE {
        (0..EDGE).chain(n - EDGE..n).collect()
    } else {
        (0..n).collect()
    }
}

fn collect_edges(v: &Values, strides: &[usize], dim: usize, offset: usize, out: &mut Vec<f64>) {
    if dim == v.dims.len() {
        out.push(v.data[offset]);
        return;
    }
    for i in edge_indices(v.dims[dim], true) {
        collect_edges(v, strides, dim + 1, offset + i * strides[dim], out);
    }
}

fn vector_str(
    v: &Values,
    offset: usize,
    n: usize,
    indent: usize,
    summarize: bool,
    f: &Formatter,
) -> String {
    let element_length = f.width + 2;
    let per_line = ((LINEWIDTH.saturating_sub(indent)) / element_length).max(1);
    let mut items: Vec<String> = Vec::new();
    if summarize && n > 2 * EDGE {
        items.extend((0..EDGE).map(|i| f.format(v.data[offset + i])));
        items.push(" ...".into());
        items.extend((n - EDGE..n).map(|i| f.format(v.data[offset + i])));
    } else {
        items.extend((0..n).map(|i| f.format(v.data[offset + i])));
    }
    let lines: Vec<String> = items.chunks(per_line).map(|c| c.join(", ")).collect();
    format!(
        "[{}]",
        lines.join(&format!(",\n{}", " ".repeat(indent + 1)))
    )
}

fn tensor_str(
    v: &Values,
    strides: &[usize],
    dim: usize,
    offset: usize,
    indent: usize,
    summarize: bool,
    f: &Formatter,
) -> String {
    let ndim = v.dims.len();
    if ndim - dim == 1 {
        return vector_str(v, offset, v.dims[dim], indent, summarize, f);
    }
    let n = v.dims[dim];
    let sub = |i: usize| {
        tensor_str(
            v,
            strides,
            dim + 1,
            offset + i * strides[dim],
            indent + 1,
            summarize,
            f,
        )
    };
    let mut slices: Vec<String> = Vec::new();
    if summarize && n > 2 * EDGE {
        slices.extend((0..EDGE).map(sub));
        slices.push("...".into());
        slices.extend((n - EDGE..n).map(sub));
    } else {
        slices.extend((0..n).map(sub));
    }
    let sep = format!(",{}{}", "\n".repeat(ndim - dim - 1), " ".repeat(indent + 1));
    format!("[{}]", slices.join(&sep))
}

fn dtype_name(d: DType) -> &'static str {
    match d {
        DType::U8 => "bool",
        DType::U32 => "u32",
        DType::I64 => "i64",
        DType::F16 => "f16",
        DType::BF16 => "bf16",
        DType::F32 => "f32",
        DType::F64 => "f64",
        _ => "other",
    }
}

/// The text `print(t)` shows.
pub fn format_tensor(t: &Tensor) -> String {
    match try_format(t) {
        Ok(s) => s,
        Err(e) => format!("tensor(<unprintable: {e}>)"),
    }
}

fn try_format(t: &Tensor) -> candle_core::Result<String> {
    let v = Values::of(t)?;
    let numel = v.data.len();
    let summarize = numel > THRESHOLD;
    let prefix = "tensor(";
    let mut suffixes: Vec<String> = Vec::new();
    let body = if v.dims.is_empty() {
        let f = Formatter::new(&v.data, v.floating);
        f.format_raw(v.data[0])
    } else if numel == 0 {
        suffixes.push(format!("size={:?}", v.dims));
        "[]".to_string()
    } else {
        let f = Formatter::new(&shown_values(&v, summarize), v.floating);
        tensor_str(&v, &v.strides(), 0, 0, prefix.len(), summarize, &f)
    };
    if summarize {
        suffixes.push(format!("shape={:?}", v.dims));
    }
    if !matches!(t.dtype(), DType::F32 | DType::I64) {
        suffixes.push(format!("dtype={}", dtype_name(t.dtype())));
    }
    let mut s = format!("{prefix}{body}");
    for suf in suffixes {
        s.push_str(", ");
        s.push_str(&suf);
    }
    s.push(')');
    Ok(s)
}

pub fn dtype_str(d: DType) -> &'static str {
    dtype_name(d)
}

/// `x` with `decimals` digits after the point (0 to 100: beyond 17 an f64 has no more digits).
pub fn fixed(x: f64, decimals: i64) -> crate::Result<String> {
    match usize::try_from(decimals) {
        Ok(d) if d <= 100 => Ok(format!("{x:.d$}")),
        _ => Err(crate::Error::OutOfRange {
            what: "format_float: decimals".into(),
            value: decimals.to_string(),
            valid: "0 to 100".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn fmt(data: &[f32], shape: &[usize]) -> String {
        format_tensor(&Tensor::from_slice(data, shape, &Device::Cpu).unwrap())
    }

    // Expected strings are what torch 2.x prints for the same values.
    #[test]
    fn matches_pytorch_layouts() {
        assert_eq!(fmt(&[1.0, 2.0, 3.0], &[3]), "tensor([1., 2., 3.])");
        assert_eq!(
            fmt(&[0.5, -1.25, 2.0, 3.0], &[2, 2]),
            "tensor([[ 0.5000, -1.2500],\n        [ 2.0000,  3.0000]])"
        );
        assert_eq!(fmt(&[3.5], &[]), "tensor(3.5000)");
        assert_eq!(fmt(&[1e-5, 1.0], &[2]), "tensor([1.0000e-05, 1.0000e+00])");
        assert_eq!(fmt(&[0.0, 0.0], &[2]), "tensor([0., 0.])");
    }

    #[test]
    fn summarises_large_tensors_with_shape() {
        let data: Vec<f32> = (1000..3000).map(|i| i as f32).collect();
        let s = fmt(&data, &[2000]);
        assert_eq!(
            s,
            "tensor([1000., 1001., 1002.,  ..., 2997., 2998., 2999.], shape=[2000])"
        );
        // A range over more than three decades switches to scientific notation, as torch does.
        let data: Vec<f32> = (0..2000).map(|i| i as f32).collect();
        assert!(fmt(&data, &[2000]).starts_with("tensor([0.0000e+00, 1.0000e+00,"));
    }
}
