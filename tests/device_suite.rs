//! The device-neutral test files as one binary, for carrying to a GPU machine
//! (`tools/gpu/build.sh`): one test binary holds all of gaxsh and candle's kernels, so six of
//! them would not fit the device tool's 64 MiB beside the repository. Not run by `cargo test`
//! (`test = false` in Cargo.toml): each file also runs on its own there.
//!
//!     GAXSH_DEVICE=cuda cargo test --release --features cuda --test device_suite

#[path = "attribution_parity.rs"]
mod attribution_parity;
#[path = "ax_gax.rs"]
mod ax_gax;
#[path = "model_parity.rs"]
mod model_parity;
#[path = "onnx_parity.rs"]
mod onnx_parity;
#[path = "regressions.rs"]
mod regressions;
#[path = "tensor_api.rs"]
mod tensor_api;
