//! The geometry of convolution and pooling windows: plain values that the CPU kernels
//! (`conv`, `pool`) and their portable compositions (`portable`) share, kept apart so neither
//! side imports the other's module.

/// Geometry of a convolution (stride and padding per axis; no dilation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub stride: usize,
    /// (top, bottom, left, right) zero padding.
    pub pad: (usize, usize, usize, usize),
    pub groups: usize,
}

/// Window geometry of a 2-D pool, per axis (height, width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2d {
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    /// Padding before and after each axis (PyTorch's symmetric `padding`).
    pub padding: (usize, usize),
    /// Further padding after each axis only: ONNX's asymmetric pads and `ceil_mode`'s last,
    /// partial window.
    pub extra_end: (usize, usize),
}

impl Pool2d {
    pub fn square(kernel: usize, stride: usize, padding: usize) -> Self {
        Pool2d {
            kernel: (kernel, kernel),
            stride: (stride, stride),
            padding: (padding, padding),
            extra_end: (0, 0),
        }
    }

    /// The padding after each axis.
    pub fn padding_end(&self) -> (usize, usize) {
        (
            self.padding.0 + self.extra_end.0,
            self.padding.1 + self.extra_end.1,
        )
    }

    /// Output size along one axis (floor mode, as PyTorch's default `ceil_mode=False`).
    pub(crate) fn out(&self, size: usize, axis: usize) -> usize {
        let (k, s, p, e) = if axis == 0 {
            (
                self.kernel.0,
                self.stride.0,
                self.padding.0,
                self.extra_end.0,
            )
        } else {
            (
                self.kernel.1,
                self.stride.1,
                self.padding.1,
                self.extra_end.1,
            )
        };
        (size + 2 * p + e).saturating_sub(k) / s + 1
    }

    pub(crate) fn out_hw(&self, h: usize, w: usize) -> (usize, usize) {
        (self.out(h, 0), self.out(w, 1))
    }
}

/// The windows of adaptive average pooling along one axis: `[floor(i·n/m), ceil((i+1)·n/m))`.
pub(crate) fn adaptive_windows(n: usize, m: usize) -> Vec<(usize, usize)> {
    (0..m)
        .map(|i| ((i * n) / m, ((i + 1) * n).div_ceil(m)))
        .collect()
}
