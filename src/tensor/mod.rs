//! Helpers over candle: what candle lacks or does differently from PyTorch.

pub mod format;
pub mod ops;
pub mod random;
