//! Where new tensors live: the CPU, or one CUDA GPU in a build with `--features cuda`.
//!
//! One process-wide choice, like PyTorch's `torch.set_default_device`: `--device`, then
//! `GAXSH_DEVICE`, then the CPU. Parameters, loaded data and tensors made in scripts go there;
//! a model moves its inputs to its own device, so a script never copies by hand. Results read
//! back for CSVs, plots and printing come to the host on their own (candle copies on `to_vec`).

use crate::error::{Error, Result};
use candle_core::Device;
use std::sync::RwLock;

static CURRENT: RwLock<Option<Device>> = RwLock::new(None);

/// The names `parse` accepts, for error messages and help.
pub const CHOICES: &str = "cpu, cuda, cuda:N";

/// `cpu`, `cuda` (GPU 0) or `cuda:N`.
pub fn parse(name: &str) -> Result<Device> {
    let name = name.trim();
    let ordinal = match name {
        "cpu" => return Ok(Device::Cpu),
        "cuda" | "gpu" => 0,
        _ => match name.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => n,
            _ => {
                return Err(Error::invalid(format!(
                    "unknown device '{name}': valid choices are {CHOICES}"
                )));
            }
        },
    };
    if !cfg!(feature = "cuda") {
        return Err(Error::invalid(format!(
            "device '{name}': this gaxsh was built without CUDA; build it with \
             `cargo build --release --features cuda` (docs/GPU.md)"
        )));
    }
    Device::new_cuda(ordinal)
        .map_err(|e| Error::invalid(format!("device '{name}' could not be opened: {e}")))
}

/// The device's name as `parse` reads it.
pub fn name(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

/// Choose the device from an explicit request, then `GAXSH_DEVICE`, then the CPU.
pub fn init(requested: Option<&str>) -> Result<Device> {
    let device = choose(requested)?;
    set(device.clone());
    Ok(device)
}

fn choose(requested: Option<&str>) -> Result<Device> {
    let from_env = std::env::var("GAXSH_DEVICE").ok();
    match requested.or(from_env.as_deref()) {
        Some(name) => parse(name),
        None => Ok(Device::Cpu),
    }
}

/// Make `device` the one new tensors go to.
pub fn set(device: Device) {
    *CURRENT.write().unwrap_or_else(|p| p.into_inner()) = Some(device);
}

/// The device new tensors go to. Library users who never call `init` get `GAXSH_DEVICE` or the
/// CPU (tests run on a GPU with `GAXSH_DEVICE=cuda`). An unusable `GAXSH_DEVICE` cannot be
/// returned as an error from here: it falls back to the CPU and says so on stderr, once
/// (`tools/gpu/check.sh` fails a GPU run that prints it).
pub fn current() -> Device {
    if let Some(d) = CURRENT.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
        return d.clone();
    }
    let mut slot = CURRENT.write().unwrap_or_else(|p| p.into_inner());
    slot.get_or_insert_with(|| {
        choose(None).unwrap_or_else(|e| {
            eprintln!("gaxsh: GAXSH_DEVICE: {e}; using the CPU instead");
            Device::Cpu
        })
    })
    .clone()
}

/// `t` on `device`, without a copy when it is there already.
pub fn to(t: &candle_core::Tensor, device: &Device) -> candle_core::Result<candle_core::Tensor> {
    if t.device().same_device(device) {
        Ok(t.clone())
    } else {
        t.to_device(device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_round_trip() {
        assert!(matches!(parse("cpu").unwrap(), Device::Cpu));
        assert_eq!(name(&Device::Cpu), "cpu");
        let e = parse("tpu").unwrap_err().to_string();
        assert!(
            e.contains("unknown device 'tpu'") && e.contains(CHOICES),
            "{e}"
        );
        let e = parse("cuda:x").unwrap_err().to_string();
        assert!(e.contains("unknown device"), "{e}");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_build_it() {
        let e = parse("cuda").unwrap_err().to_string();
        assert!(e.contains("--features cuda"), "{e}");
    }
}
