//! gaxsh: a scripting kernel for heatmap-explainability research.
//!
//! The library implements the AX process, the CO score and GAX of Tjoa et al. over candle
//! tensors; [`script`] binds it for rhai scripts and [`front`] runs them for the command line,
//! the REPL and the Jupyter kernel.
//!
//! ```
//! use gaxsh::front::Session;
//! let mut s = Session::new();
//! let v = s.eval("let x = randn([2, 3]); (x * 2 + 1).shape", "<doc>").unwrap();
//! assert_eq!(s.display(&v).unwrap(), "[2, 3]");
//! ```

// Script errors carry the source line and notes; they are rare and shown once, so their size
// does not matter.
#![allow(clippy::result_large_err)]

pub mod allocator;
pub mod args;
pub mod attr;
pub mod ax;
pub mod classes;
pub mod cli_progress;
pub mod contain;
pub mod data;
pub mod device;
pub mod error;
pub mod evaluate;
pub mod front;
pub mod gap;
pub mod gax;
pub mod interrupt;
pub mod io;
#[cfg(feature = "kernel")]
pub mod kernel;
pub mod limits;
pub mod locate;
pub mod merge;
pub mod metrics;
pub mod nn;
pub mod onnx;
pub mod options;
pub mod plot;
pub mod progress;
pub mod repl;
pub mod report;
pub mod script;
pub mod shard;
pub mod stats;
pub mod tensor;
pub mod threads;
pub mod train;

pub use error::{Error, Result};
