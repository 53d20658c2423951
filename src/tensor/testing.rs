//! Helpers for the unit tests of gaxsh's own ops: seeded inputs, and "these two implementations
//! give the same values and gradients".

use candle_core::{Device, Result, Tensor, Var};

/// A standard-normal f64 tensor on the CPU, reproducible by seed whatever other tests draw.
pub fn rand(shape: &[usize], seed: u64) -> Tensor {
    use crate::tensor::random::{isolated, normal_vec};
    let v = isolated(seed, || normal_vec(shape.iter().product()));
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// f32 values in [-1, 1) that differ from index to index (for kernels that take f32 slices).
pub fn values(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.5 - 1.0)
        .collect()
}

/// The largest absolute elementwise difference (shapes must match).
pub fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap()
}

/// Run `a` and `b` on the same inputs (fresh `Var`s each), then a backward pass with the same
/// random output gradient: values must agree within `tol.0` and every input gradient within
/// `tol.1`.
pub fn agree(
    inputs: &[Tensor],
    a: impl Fn(&[Tensor]) -> Result<Tensor>,
    b: impl Fn(&[Tensor]) -> Result<Tensor>,
    tol: (f64, f64),
    what: &str,
) {
    let run = |f: &dyn Fn(&[Tensor]) -> Result<Tensor>| {
        let vars: Vec<Var> = inputs
            .iter()
            .map(|t| Var::from_tensor(t).unwrap())
            .collect();
        let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let y = f(&ts).unwrap();
        let gy = rand(y.dims(), 99);
        let grads = (&y * &gy).unwrap().sum_all().unwrap().backward().unwrap();
        let dx: Vec<Tensor> = vars.iter().map(|v| grads.get(v).unwrap().clone()).collect();
        (y, dx)
    };
    let (ya, ga) = run(&a);
    let (yb, gb) = run(&b);
    let d = max_diff(&ya, &yb);
    assert!(d < tol.0, "{what}: values differ by {d}");
    for (i, (u, v)) in ga.iter().zip(&gb).enumerate() {
        let d = max_diff(u, v);
        assert!(d < tol.1, "{what}: gradient of input {i} differs by {d}");
    }
}
