//! Helpers over candle: what candle lacks or does differently from PyTorch.

pub mod affine;
pub mod conv;
pub mod cpu;
pub mod format;
pub mod geometry;
pub mod grad_hook;
pub mod ops;
pub mod pool;
pub mod portable;
pub mod products;
pub mod random;
pub mod resize;
pub mod shape;
pub mod simd;
#[cfg(test)]
pub mod testing;
mod winograd;
