//! ONNX tensors (`TensorProto`) to and from candle tensors and host integers: typed fields,
//! `raw_data`, and external data files beside the model (confined to the model's folder).

use super::proto::{StringStringEntryProto, TensorProto, data_type};
use crate::error::{Error, Result};
use crate::nn::graph::Ints;
use candle_core::{DType, Device, Tensor};
use std::path::Path;

/// A decoded initializer or constant.
pub enum Decoded {
    /// Float data in its stored precision (f16/bf16 widened to f32).
    Float(Tensor),
    Int(Ints),
}

/// The most elements one tensor of a model file may declare (2³¹, beyond any real weight).
const MAX_ELEMENTS: usize = 1 << 31;

fn dims_of(t: &TensorProto, what: &str) -> Result<Vec<usize>> {
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| {
                Error::invalid(format!("{what}: negative dimension {d} in {:?}", t.dims))
            })
        })
        .collect::<Result<_>>()?;
    dims.iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| {
            Error::invalid(format!(
                "{what}: shape {dims:?} has more than {MAX_ELEMENTS} elements"
            ))
        })?;
    Ok(dims)
}

fn elem_size(t: i32) -> Option<usize> {
    Some(match t {
        data_type::FLOAT | data_type::INT32 => 4,
        data_type::DOUBLE | data_type::INT64 => 8,
        data_type::FLOAT16 | data_type::BFLOAT16 => 2,
        data_type::UINT8 | data_type::INT8 | data_type::BOOL => 1,
        _ => return None,
    })
}

/// The bytes of an external-data tensor: `location` relative to the model's folder, never
/// outside it; `offset` and `length` checked against the file.
fn external_bytes(
    entries: &[StringStringEntryProto],
    dir: &Path,
    expected: usize,
    what: &str,
) -> Result<Vec<u8>> {
    let get = |k: &str| {
        entries
            .iter()
            .find(|e| e.key == k)
            .map(|e| e.value.as_str())
    };
    let location = get("location")
        .ok_or_else(|| Error::invalid(format!("{what}: external data without a location")))?;
    let rel = Path::new(location);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(Error::invalid(format!(
            "{what}: external data location '{location}' must be a file name inside the model's folder"
        )));
    }
    let path = dir.join(rel);
    crate::io::note_input(&path);
    let number = |k: &str| -> Result<Option<u64>> {
        get(k)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| Error::invalid(format!("{what}: external data {k} '{v}'")))
            })
            .transpose()
    };
    let offset = number("offset")?.unwrap_or(0);
    let len = number("length")?.unwrap_or(expected as u64);
    if len != expected as u64 {
        return Err(Error::invalid(format!(
            "{what}: external data holds {len} bytes, the shape needs {expected}"
        )));
    }
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let size = f.metadata().map_err(|e| Error::io(&path, e))?.len();
    if offset.checked_add(len).is_none_or(|end| end > size) {
        return Err(Error::bad_file(
            &path,
            format!(
                "{what}: bytes {offset}..{} lie past the end ({size} bytes)",
                offset + len
            ),
        ));
    }
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io(&path, e))?;
    let mut buf = vec![0u8; expected];
    f.read_exact(&mut buf).map_err(|e| Error::io(&path, e))?;
    Ok(buf)
}

/// Decode a tensor; `dir` is the model file's folder (for external data).
pub fn decode(t: &TensorProto, dir: &Path) -> Result<Decoded> {
    let what = if t.name.is_empty() {
        "tensor".to_string()
    } else {
        format!("tensor '{}'", t.name)
    };
    let dims = dims_of(t, &what)?;
    let n: usize = dims.iter().product();
    let size = elem_size(t.data_type).ok_or_else(|| {
        Error::Unsupported(format!(
            "{what}: element type {} (float, double, float16, bfloat16, int8–64, uint8 and bool are supported)",
            data_type::name(t.data_type)
        ))
    })?;
    let raw = if t.data_location == 1 {
        Some(external_bytes(&t.external_data, dir, n * size, &what)?)
    } else if !t.raw_data.is_empty() || n == 0 {
        if t.raw_data.len() != n * size {
            return Err(Error::invalid(format!(
                "{what}: {} bytes of data for shape {dims:?} of {}",
                t.raw_data.len(),
                data_type::name(t.data_type)
            )));
        }
        Some(t.raw_data.clone())
    } else {
        None
    };
    let typed_len = |len: usize| -> Result<()> {
        if len != n {
            return Err(Error::invalid(format!(
                "{what}: {len} values for shape {dims:?}"
            )));
        }
        Ok(())
    };
    let cpu = Device::Cpu;
    let float = |dtype: DType, bytes: &[u8]| -> Result<Decoded> {
        let t = Tensor::from_raw_buffer(bytes, dtype, &dims, &cpu)?;
        let t = if matches!(dtype, DType::F16 | DType::BF16) {
            t.to_dtype(DType::F32)?
        } else {
            t
        };
        Ok(Decoded::Float(t))
    };
    match (t.data_type, raw) {
        (data_type::FLOAT, Some(b)) => float(DType::F32, &b),
        (data_type::DOUBLE, Some(b)) => float(DType::F64, &b),
        (data_type::FLOAT16, Some(b)) => float(DType::F16, &b),
        (data_type::BFLOAT16, Some(b)) => float(DType::BF16, &b),
        (data_type::FLOAT, None) => {
            typed_len(t.float_data.len())?;
            Ok(Decoded::Float(Tensor::from_slice(
                &t.float_data,
                dims,
                &cpu,
            )?))
        }
        (data_type::DOUBLE, None) => {
            typed_len(t.double_data.len())?;
            Ok(Decoded::Float(Tensor::from_slice(
                &t.double_data,
                dims,
                &cpu,
            )?))
        }
        (data_type::FLOAT16 | data_type::BFLOAT16, None) => {
            typed_len(t.int32_data.len())?;
            let bytes: Vec<u8> = t
                .int32_data
                .iter()
                .flat_map(|&v| (v as u16).to_le_bytes())
                .collect();
            let dtype = if t.data_type == data_type::FLOAT16 {
                DType::F16
            } else {
                DType::BF16
            };
            float(dtype, &bytes)
        }
        (ty, Some(b)) => {
            let data: Vec<i64> = match ty {
                data_type::INT64 => b
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect(),
                data_type::INT32 => b
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as i64)
                    .collect(),
                data_type::INT8 => b.iter().map(|&v| v as i8 as i64).collect(),
                _ => b.iter().map(|&v| v as i64).collect(),
            };
            Ok(Decoded::Int(Ints::new(dims, data)?))
        }
        (ty, None) => {
            let data: Vec<i64> = if ty == data_type::INT64 {
                t.int64_data.clone()
            } else {
                t.int32_data.iter().map(|&v| v as i64).collect()
            };
            typed_len(data.len())?;
            Ok(Decoded::Int(Ints::new(dims, data)?))
        }
    }
}

/// A float tensor as a `TensorProto` (raw little-endian data).
pub fn encode_float(name: &str, t: &Tensor) -> Result<TensorProto> {
    let t = t.to_device(&Device::Cpu)?.contiguous()?;
    let (data_type, raw_data) = match t.dtype() {
        DType::F64 => (
            data_type::DOUBLE,
            t.flatten_all()?
                .to_vec1::<f64>()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        _ => (
            data_type::FLOAT,
            t.to_dtype(DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
    };
    Ok(TensorProto {
        name: name.to_string(),
        dims: t.dims().iter().map(|&d| d as i64).collect(),
        data_type,
        raw_data,
        ..Default::default()
    })
}

/// Host integers as an INT64 `TensorProto`.
pub fn encode_ints(name: &str, v: &Ints) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims: v.dims.iter().map(|&d| d as i64).collect(),
        data_type: data_type::INT64,
        raw_data: v.data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}
