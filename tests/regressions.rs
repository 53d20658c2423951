//! Regression tests named after the bug they pin (several are candle 0.11.1 bugs gaxsh works
//! around; see ../shared/STACK.md for the measured list).

use candle_core::{DType, Tensor, Var};
use gaxsh::nn::{Arch, Pass};

/// The gradient of each sample alone and the gradient of the batch, row by row.
fn batched_vs_single(f: &dyn Fn(&Tensor) -> Tensor, x: &Tensor) -> f64 {
    let xv = Var::from_tensor(x).unwrap();
    let y = f(xv.as_tensor());
    let w = Tensor::randn(0f64, 1., y.shape(), &gaxsh::device::current()).unwrap();
    let whole = (y * &w)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap()
        .get(&xv)
        .unwrap()
        .clone();
    let mut worst = 0f64;
    for i in 0..x.dim(0).unwrap() {
        let xi = Var::from_tensor(&x.narrow(0, i, 1).unwrap()).unwrap();
        let g = (f(xi.as_tensor()) * w.narrow(0, i, 1).unwrap())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let a = g
            .get(&xi)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let b = whole
            .get(i)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        worst = a
            .iter()
            .zip(&b)
            .fold(worst, |m, (p, q)| m.max((p - q).abs()));
    }
    worst
}

#[test]
fn conv1d_backward_does_not_mix_batch_samples() {
    // candle 0.11.1's own conv1d backward gives wrong input gradients for batch > 1; gaxsh's
    // Conv1d layer (used by FPA) runs as a height-1 conv2d instead.
    let x = Tensor::randn(0f64, 1., (4, 16), &gaxsh::device::current()).unwrap();
    let m = Arch::DrybeanFpa.build(DType::F64).unwrap();
    let f = |x: &Tensor| m.forward(x, &mut Pass::default()).unwrap();
    assert!(batched_vs_single(&f, &x) < 1e-12);
}

#[test]
fn max_pool_gradient_is_not_scaled_by_the_window() {
    // candle's max_pool2d backward divides the gradient by k·k; gaxsh's pool routes it whole.
    let x = Var::from_tensor(
        &Tensor::from_vec(
            vec![1f64, 2., 3., 4.],
            (1, 1, 2, 2),
            &gaxsh::device::current(),
        )
        .unwrap(),
    )
    .unwrap();
    let y =
        gaxsh::tensor::pool::max_pool2d(&x, gaxsh::tensor::pool::Pool2d::square(2, 2, 0)).unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    assert_eq!(
        g.get(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap(),
        vec![0., 0., 0., 1.]
    );
}

#[test]
fn softmax_site_has_a_gradient() {
    // candle's softmax_last_dim silently has no backward; the FPA softmax site must.
    let x = Var::from_tensor(&Tensor::randn(0f64, 1., (2, 3), &gaxsh::device::current()).unwrap())
        .unwrap();
    let y = gaxsh::nn::act::activation(&x, gaxsh::nn::ActKind::Softmax, gaxsh::nn::Rule::Plain, 0)
        .unwrap();
    let w = Tensor::from_vec(
        vec![1f64, 0., 0., 0., 1., 0.],
        (2, 3),
        &gaxsh::device::current(),
    )
    .unwrap();
    let g = (y * w).unwrap().sum_all().unwrap().backward().unwrap();
    let gx = g
        .get(&x)
        .unwrap()
        .abs()
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!(gx > 1e-3, "no gradient through softmax");
}

#[test]
fn relu_gradient_at_zero_is_zero() {
    // PyTorch's ReLU'(0) = 0; candle's relu uses 1.
    let x = Var::from_tensor(&Tensor::zeros(3, DType::F64, &gaxsh::device::current()).unwrap())
        .unwrap();
    let y = gaxsh::nn::act::activation(&x, gaxsh::nn::ActKind::Relu, gaxsh::nn::Rule::Plain, 0)
        .unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    assert_eq!(
        g.get(&x).unwrap().to_vec1::<f64>().unwrap(),
        vec![0., 0., 0.]
    );
}
