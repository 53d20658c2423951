//! Resizing image planes, as PyTorch does it.
//!
//! `bilinear` is `F.interpolate(mode="bilinear", align_corners=False, antialias=False)` (and
//! torchvision's tensor `Resize` of the torch-2.0 era): half-pixel centres, source index clamped
//! at 0, no low-pass filter when shrinking. `nearest` is `mode="nearest"` (floor of dst·in/out).
//! Used for images (COVID 299 → 256) and for upsampling Grad-CAM maps to the input size.

use crate::error::{Error, Result};
use candle_core::{DType, Tensor};

/// Interpolation weights along one axis: for each output index, (i0, i1, λ0, λ1).
fn bilinear_axis(input: usize, output: usize) -> Vec<(usize, usize, f64, f64)> {
    let scale = input as f64 / output as f64;
    (0..output)
        .map(|d| {
            let src = (scale * (d as f64 + 0.5) - 0.5).max(0.0);
            let i0 = (src as usize).min(input - 1);
            let i1 = if i0 < input - 1 { i0 + 1 } else { i0 };
            let l1 = src - i0 as f64;
            (i0, i1, 1.0 - l1, l1)
        })
        .collect()
}

/// Resize one row-major `h × w` plane to `oh × ow` bilinearly.
pub fn bilinear_plane(src: &[f64], h: usize, w: usize, oh: usize, ow: usize) -> Vec<f64> {
    if (h, w) == (oh, ow) {
        return src.to_vec();
    }
    let ys = bilinear_axis(h, oh);
    let xs = bilinear_axis(w, ow);
    let mut out = Vec::with_capacity(oh * ow);
    for &(y0, y1, ly0, ly1) in &ys {
        for &(x0, x1, lx0, lx1) in &xs {
            // The same grouping as PyTorch's CPU kernel: h0λ·(w0λ·a + w1λ·b) + h1λ·(…).
            let top = lx0 * src[y0 * w + x0] + lx1 * src[y0 * w + x1];
            let bottom = lx0 * src[y1 * w + x0] + lx1 * src[y1 * w + x1];
            out.push(ly0 * top + ly1 * bottom);
        }
    }
    out
}

/// Resize one plane with nearest-neighbour sampling (PyTorch's legacy `nearest`).
pub fn nearest_plane(src: &[f64], h: usize, w: usize, oh: usize, ow: usize) -> Vec<f64> {
    let sy = h as f64 / oh as f64;
    let sx = w as f64 / ow as f64;
    let mut out = Vec::with_capacity(oh * ow);
    for y in 0..oh {
        let iy = ((y as f64 * sy).floor() as usize).min(h - 1);
        for x in 0..ow {
            let ix = ((x as f64 * sx).floor() as usize).min(w - 1);
            out.push(src[iy * w + ix]);
        }
    }
    out
}

/// Interpolation mode for [`resize`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Bilinear,
    Nearest,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode> {
        match s {
            "bilinear" => Ok(Mode::Bilinear),
            "nearest" => Ok(Mode::Nearest),
            other => Err(Error::unknown(
                "interpolation",
                other,
                &["bilinear", "nearest"],
            )),
        }
    }
}

/// Resize the last two dimensions of a tensor (…, H, W) to (oh, ow). No gradient.
pub fn resize(t: &Tensor, oh: usize, ow: usize, mode: Mode) -> Result<Tensor> {
    let dims = t.dims().to_vec();
    if dims.len() < 2 {
        return Err(Error::invalid(format!(
            "resize needs a tensor of at least 2 dimensions, got {dims:?}"
        )));
    }
    let (h, w) = (dims[dims.len() - 2], dims[dims.len() - 1]);
    if h == 0 || w == 0 || oh == 0 || ow == 0 {
        return Err(Error::invalid("resize of an empty image"));
    }
    let dtype = t.dtype();
    let v = t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    let planes = v.len() / (h * w);
    let mut out = Vec::with_capacity(planes * oh * ow);
    for p in 0..planes {
        let plane = &v[p * h * w..(p + 1) * h * w];
        out.extend(match mode {
            Mode::Bilinear => bilinear_plane(plane, h, w, oh, ow),
            Mode::Nearest => nearest_plane(plane, h, w, oh, ow),
        });
    }
    let mut od = dims;
    let n = od.len();
    od[n - 2] = oh;
    od[n - 1] = ow;
    Ok(Tensor::from_vec(out, od, t.device())?.to_dtype(dtype)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_upsampling_matches_torch() {
        // torch.nn.functional.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), size=(4, 4),
        //   mode="bilinear", align_corners=False)
        let out = bilinear_plane(&[1., 2., 3., 4.], 2, 2, 4, 4);
        let want = [
            1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0,
        ];
        for (a, b) in out.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{out:?}");
        }
    }

    #[test]
    fn bilinear_downsampling_has_no_antialias() {
        // 4 → 2 samples at source positions 0.5 and 2.5: means of pairs.
        let out = bilinear_plane(&[0., 1., 2., 3.], 1, 4, 1, 2);
        assert_eq!(out, vec![0.5, 2.5]);
    }

    #[test]
    fn nearest_picks_floor() {
        assert_eq!(nearest_plane(&[1., 2.], 1, 2, 1, 4), vec![1., 1., 2., 2.]);
    }
}
