//! ROAD, RemOve And Debias (Rong et al., ICML 2022; Quantus `ROAD`): remove a share of an
//! image's pixels in order of relevance and fill them by noisy linear imputation, so that the
//! removal itself leaves no trace for the model to react to; then ask whether the model still
//! predicts the explained class. Most relevant first (MoRF), a faithful heatmap makes the
//! prediction fail early; least relevant first (LeRF), late.

use crate::error::{Error, Result};
use crate::nn::Model;
use candle_core::Tensor;

/// The eight neighbours of a pixel and their weights: 1/6 sideways, 1/12 diagonally (they sum
/// to 1), as Quantus's `noisy_linear_imputation`.
const NEIGHBOURS: [((isize, isize), f64); 8] = [
    ((1, 1), 1.0 / 12.0),
    ((0, 1), 1.0 / 6.0),
    ((-1, 1), 1.0 / 12.0),
    ((1, -1), 1.0 / 12.0),
    ((0, -1), 1.0 / 6.0),
    ((-1, -1), 1.0 / 12.0),
    ((1, 0), 1.0 / 6.0),
    ((-1, 0), 1.0 / 6.0),
];

/// One image's `removed` pixels (indices into H×W, all channels) replaced by the solution of
/// "each removed pixel is the weighted mean of its neighbours inside the image", solved jointly
/// by conjugate gradients, plus `noise` (one draw per channel and removed pixel, already scaled;
/// none for the plain linear imputation). `x` is (C, H, W), row-major.
pub fn impute(
    x: &[f64],
    shape: [usize; 3],
    removed: &[usize],
    noise: Option<&[f64]>,
) -> Result<Vec<f64>> {
    let [c, h, w] = shape;
    let pixels = h * w;
    if removed.is_empty() {
        return Ok(x.to_vec());
    }
    if removed.len() >= pixels {
        return Err(Error::invalid(
            "ROAD: every pixel removed leaves nothing to impute from",
        ));
    }
    let mut unknown = vec![usize::MAX; pixels];
    for (k, &p) in removed.iter().enumerate() {
        unknown[p] = k;
    }
    // Per unknown: the weight of its neighbours inside the image, its unknown neighbours and its
    // known ones.
    let n = removed.len();
    let mut diag = vec![0.0; n];
    let mut coupled: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    let mut known: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for (k, &p) in removed.iter().enumerate() {
        let (i, j) = ((p / w) as isize, (p % w) as isize);
        for ((di, dj), weight) in NEIGHBOURS {
            let (a, b) = (i + di, j + dj);
            if a < 0 || b < 0 || a >= h as isize || b >= w as isize {
                continue;
            }
            let q = a as usize * w + b as usize;
            diag[k] += weight;
            if unknown[q] == usize::MAX {
                known[k].push((q, weight));
            } else {
                coupled[k].push((unknown[q], weight));
            }
        }
    }
    let mut out = x.to_vec();
    for ch in 0..c {
        let plane = &x[ch * pixels..(ch + 1) * pixels];
        let rhs: Vec<f64> = known
            .iter()
            .map(|nb| nb.iter().map(|&(q, wt)| wt * plane[q]).sum())
            .collect();
        let v = conjugate_gradients(&diag, &coupled, &rhs)?;
        for (k, &p) in removed.iter().enumerate() {
            let e = noise.map_or(0.0, |z| z[ch * n + k]);
            out[ch * pixels + p] = v[k] + e;
        }
    }
    Ok(out)
}

/// Solve (D − W) v = b, D diagonal, W the symmetric couplings between unknowns: symmetric and
/// positive definite whenever a known pixel remains.
fn conjugate_gradients(diag: &[f64], coupled: &[Vec<(usize, f64)>], b: &[f64]) -> Result<Vec<f64>> {
    let n = b.len();
    let apply = |v: &[f64], out: &mut [f64]| {
        for k in 0..n {
            out[k] = diag[k] * v[k] - coupled[k].iter().map(|&(q, wt)| wt * v[q]).sum::<f64>();
        }
    };
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut v = vec![0.0; n];
    let mut r = b.to_vec();
    let mut p = r.clone();
    let mut ap = vec![0.0; n];
    let mut rr = dot(&r, &r);
    let target = 1e-28 * dot(b, b).max(f64::MIN_POSITIVE);
    for it in 0..(10 * n).max(100) {
        if rr <= target {
            break;
        }
        if it % 256 == 255 {
            crate::interrupt::check()?;
        }
        apply(&p, &mut ap);
        let alpha = rr / dot(&p, &ap);
        for k in 0..n {
            v[k] += alpha * p[k];
            r[k] -= alpha * ap[k];
        }
        let next = dot(&r, &r);
        let beta = next / rr;
        rr = next;
        for k in 0..n {
            p[k] = r[k] + beta * p[k];
        }
    }
    Ok(v)
}

/// ROAD's settings: the shares of pixels imputed (in %), the σ of the noise added to the
/// imputed values, and the seed its draws come from (per sample and share, so independent of
/// the batch).
#[derive(Clone, Debug)]
pub struct Road<'a> {
    pub percentages: &'a [f64],
    pub noise: f64,
    pub seed: u64,
}

/// Per sample, whether the model still predicts its target after the first ⌊pixels·p/100⌋
/// pixels in order of `relevance` (most relevant first, or least with `least_first`) are
/// imputed, for each percentage p: 1.0 or 0.0 per percentage. `first` is the batch's first
/// sample in the dataset (it picks the noise draws).
pub fn road_curves(
    model: &Model,
    x: &Tensor,
    relevance: &[Vec<f64>],
    targets: &[usize],
    road: &Road,
    least_first: bool,
    first: usize,
) -> Result<Vec<Vec<f64>>> {
    let dims = x.dims().to_vec();
    let [_, c, h, w] = dims[..] else {
        return Err(Error::invalid(format!(
            "ROAD imputes pixels from their neighbours: it needs images (N, C, H, W), not samples of shape {:?}",
            &dims[1..]
        )));
    };
    let rows = super::rows_f64(x)?;
    let pixels = h * w;
    let orders: Vec<Vec<usize>> = relevance
        .iter()
        .map(|r| {
            let mut order: Vec<usize> = (0..pixels).collect();
            if least_first {
                order.sort_by(|&a, &b| r[a].total_cmp(&r[b]));
            } else {
                order.sort_by(|&a, &b| r[b].total_cmp(&r[a]));
            }
            order
        })
        .collect();
    let mut curves = vec![Vec::with_capacity(road.percentages.len()); rows.len()];
    for (pi, &p) in road.percentages.iter().enumerate() {
        crate::interrupt::check()?;
        let count = (pixels as f64 * p / 100.0) as usize;
        let mut v = Vec::with_capacity(rows.len() * c * pixels);
        for (i, row) in rows.iter().enumerate() {
            let draws = (road.noise > 0.0).then(|| {
                let seed = super::sample_seed(super::sample_seed(road.seed, first + i, 4), pi, 0);
                crate::tensor::random::isolated(seed, || {
                    crate::tensor::random::normal_vec(c * count)
                        .into_iter()
                        .map(|z| z * road.noise)
                        .collect::<Vec<f64>>()
                })
            });
            v.extend(impute(
                row,
                [c, h, w],
                &orders[i][..count],
                draws.as_deref(),
            )?);
        }
        let xs = Tensor::from_vec(v, dims.clone(), x.device())?.to_dtype(x.dtype())?;
        let preds = model.predict(&xs, crate::nn::CHUNK)?;
        for ((curve, p), &t) in curves.iter_mut().zip(preds).zip(targets) {
            curve.push(if p == t { 1.0 } else { 0.0 });
        }
    }
    Ok(curves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imputation_is_the_neighbour_mean_and_keeps_known_pixels() {
        // A linear ramp is its own neighbour mean: removed pixels come back exactly.
        let (h, w) = (6, 7);
        let x: Vec<f64> = (0..h * w)
            .map(|p| (p / w) as f64 * 0.5 + (p % w) as f64)
            .collect();
        let removed = [8, 9, 16, 17, 24, 33];
        let y = impute(&x, [1, h, w], &removed, None).unwrap();
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() < 1e-10, "{a} vs {b}");
        }
        // One removed pixel among constants 2 (inside) takes 2; noise is added on top.
        let flat = vec![2.0; 9];
        let y = impute(&flat, [1, 3, 3], &[4], Some(&[0.25])).unwrap();
        assert!((y[4] - 2.25).abs() < 1e-12 && y[0] == 2.0);
        assert!(impute(&flat, [1, 3, 3], &(0..9).collect::<Vec<_>>(), None).is_err());
    }
}
