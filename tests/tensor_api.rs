//! The tensor language against values computed by hand or by PyTorch (noted per test).

mod common;
use common::*;

#[test]
fn arithmetic_broadcasts_with_scalars_on_either_side() {
    assert_eq!(values("(tensor([1, 2]) * 2 + 1)"), vec![3.0, 5.0]);
    assert_eq!(values("1 - tensor([1, 2])"), vec![0.0, -1.0]);
    assert_eq!(values("2.0 / tensor([4.0, 8.0])"), vec![0.5, 0.25]);
    assert_eq!(values("-tensor([1, -2])"), vec![-1.0, 2.0]);
    assert_eq!(
        values("tensor([[1], [2]]) + tensor([10, 20, 30])"),
        vec![11., 21., 31., 12., 22., 32.]
    );
    assert_eq!(values("tensor([2, 3]) ** 2"), vec![4.0, 9.0]);
}

#[test]
fn f64_is_kept_and_promoted() {
    assert_eq!(show("(tensor([1], \"f64\") + tensor([1])).dtype"), "f64");
    assert_eq!(show("zeros([2], \"f64\").dtype"), "f64");
    // 0.1 + 0.2 in f64 is not 0.3 exactly; in f32 the sum rounds differently.
    let v = values("tensor([0.1], \"f64\") + 0.2");
    assert_eq!(v[0], 0.1f64 + 0.2f64);
}

#[test]
fn comparisons_give_masks_usable_in_arithmetic_and_where() {
    assert_eq!(show("(tensor([1, 2, 3]) > 1).dtype"), "bool");
    assert_eq!(
        values("(tensor([1, 2, 3]) >= 2) * tensor([10, 10, 10])"),
        vec![0.0, 10.0, 10.0]
    );
    assert_eq!(
        values("where(tensor([-1, 2]) > 0, tensor([-1, 2]), 0)"),
        vec![0.0, 2.0]
    );
    assert_eq!(
        values("where(tensor([1, 0, 1]), 1.5, -1)"),
        vec![1.5, -1.0, 1.5]
    );
}

#[test]
fn math_matches_pytorch() {
    // torch.tensor([0., 1., 2.]).softmax(0) = [0.0900, 0.2447, 0.6652]
    assert_close(
        &values("tensor([0, 1, 2]).softmax(0)"),
        &[0.09003057, 0.24472847, 0.66524096],
        1e-6,
    );
    assert_close(
        &values("tensor([0, 1, 2]).log_softmax(-1)"),
        &[-2.40760596, -1.40760596, -0.40760596],
        1e-6,
    );
    assert_close(
        &values("tensor([-1, 0, 1]).sigmoid()"),
        &[0.26894142, 0.5, 0.73105858],
        1e-6,
    );
    assert_close(&values("tensor([0.5]).tanh()"), &[0.46211716], 1e-6);
    assert_eq!(values("tensor([4, 9]).sqrt()"), vec![2.0, 3.0]);
    assert_eq!(values("tensor([-3, 0, 2]).relu()"), vec![0.0, 0.0, 2.0]);
    assert_close(&values("tensor([1.0]).exp().log()"), &[1.0], 1e-6);
}

#[test]
fn reductions_with_dim_and_keepdim() {
    let m = "let m = tensor([[1, 5, 2], [4, 3, 6]]);";
    assert_eq!(values(&format!("{m} m.sum()")), vec![21.0]);
    assert_eq!(values(&format!("{m} m.sum(0)")), vec![5.0, 8.0, 8.0]);
    assert_eq!(show(&format!("{m} m.sum(1, true).shape")), "[2, 1]");
    assert_close(
        &values(&format!("{m} m.mean(-1)")),
        &[8.0 / 3.0, 13.0 / 3.0],
        1e-6,
    );
    assert_eq!(values(&format!("{m} m.max(1)")), vec![5.0, 6.0]);
    assert_eq!(values(&format!("{m} m.min()")), vec![1.0]);
    assert_eq!(values(&format!("{m} m.argmax(1)")), vec![1.0, 2.0]);
    assert_eq!(values(&format!("{m} m.argmin(0)")), vec![0.0, 1.0, 0.0]);
    // torch.tensor([[1.,5,2],[4,3,6]]).std(1) = [2.0817, 1.5275]; .var() = 3.5
    assert_close(
        &values(&format!("{m} m.std(1)")),
        &[2.081666, 1.527525],
        1e-5,
    );
    assert_close(&values(&format!("{m} m.var()")), &[3.5], 1e-6);
}

#[test]
fn shape_operations() {
    assert_eq!(show("arange(6).reshape([2, -1]).shape"), "[2, 3]");
    assert_eq!(
        values("arange(6).reshape([2, 3]).transpose()"),
        vec![0., 3., 1., 4., 2., 5.]
    );
    assert_eq!(
        show("zeros([2, 3, 4]).permute([2, 0, 1]).shape"),
        "[4, 2, 3]"
    );
    assert_eq!(show("zeros([1, 3, 1]).squeeze().shape"), "[3]");
    assert_eq!(show("zeros([3]).unsqueeze(-1).shape"), "[3, 1]");
    assert_eq!(values("arange(5).narrow(0, 1, 3)"), vec![1., 2., 3.]);
    assert_eq!(
        values("cat([tensor([1, 2]), tensor([3])])"),
        vec![1., 2., 3.]
    );
    assert_eq!(show("stack([zeros([2]), ones([2])], 1).shape"), "[2, 2]");
    assert_eq!(show("zeros([2, 3, 4]).flatten(1).shape"), "[2, 12]");
    assert_eq!(show("zeros([2, 3, 4]).flatten().shape"), "[24]");
}

#[test]
fn indexing_and_slicing() {
    let m = "let m = tensor([[1, 2], [3, 4], [5, 6]]);";
    assert_eq!(values(&format!("{m} m[1]")), vec![3.0, 4.0]);
    assert_eq!(show(&format!("{m} m[1][0]")), "3.0");
    assert_eq!(show(&format!("{m} m[-1][-1]")), "6.0");
    assert_eq!(show(&format!("{m} m.get([2, 1])")), "6.0");
    assert_eq!(values(&format!("{m} m[1..3]")), vec![3., 4., 5., 6.]);
    assert_eq!(values(&format!("{m} m[0..=0]")), vec![1., 2.]);
    assert_eq!(
        values(&format!("{m} m.index_select([2, 0])")),
        vec![5., 6., 1., 2.]
    );
    assert_eq!(values(&format!("{m} m.select(1, 1)")), vec![2., 4., 6.]);
    assert!(error_of(&format!("{m} m[3]")).contains("Invalid index"));
}

#[test]
fn matmul_follows_pytorch_rules() {
    assert_eq!(
        values("tensor([[1, 2], [3, 4]]).matmul(tensor([[1, 0], [0, 1]]))"),
        vec![1., 2., 3., 4.]
    );
    assert_eq!(values("tensor([1, 2]).matmul(tensor([3, 4]))"), vec![11.0]);
    assert_eq!(
        show("zeros([5, 2, 3]).matmul(zeros([3, 4])).shape"),
        "[5, 2, 4]"
    );
    assert!(
        error_of("zeros([2, 3]).matmul(zeros([2, 3]))").contains("shape mismatch: [2, 3] @ [2, 3]")
    );
}

#[test]
fn constructors_and_conversions() {
    assert_eq!(values("arange(3)"), vec![0., 1., 2.]);
    assert_eq!(values("arange(1, 2, 0.25)"), vec![1.0, 1.25, 1.5, 1.75]);
    assert_eq!(values("linspace(-1, 1, 3)"), vec![-1., 0., 1.]);
    assert_eq!(values("eye(2)"), vec![1., 0., 0., 1.]);
    assert_eq!(values("full([2], 7)"), vec![7., 7.]);
    assert_eq!(
        show("tensor([[1, 2], [3, 4]]).to_array()"),
        "[[1.0, 2.0], [3.0, 4.0]]"
    );
    assert_eq!(show("tensor([2.5]).item()"), "2.5");
    assert_eq!(show("zeros([4, 2]).len()"), "4");
    assert_eq!(show("zeros([4, 2]).ndim"), "2");
    assert!(error_of("tensor([[1, 2], [3]])").contains("ragged"));
    assert!(error_of("zeros([2]).item()").contains("2 elements, not 1"));
    assert!(error_of("zeros([2], \"f16\")").contains("unknown dtype 'f16'; valid: f32, f64"));
}

#[test]
fn seeding_makes_random_draws_reproducible() {
    // A generator of its own: the tests on parallel threads share the process's one.
    let seeded = |code: &str| gaxsh::tensor::random::isolated(0, || values(code));
    let a = seeded("seed(42); randn([5])");
    let b = seeded("seed(42); randn([5])");
    let c = seeded("seed(43); randn([5])");
    assert_eq!(a, b);
    assert_ne!(a, c);
    let u = values("seed(1); rand([1000])");
    assert!(u.iter().all(|v| (0.0..1.0).contains(v)));
    let mean = u.iter().sum::<f64>() / 1000.0;
    assert!((mean - 0.5).abs() < 0.05, "uniform mean {mean}");
    let n = values("seed(2); randn([4000])");
    let m = n.iter().sum::<f64>() / n.len() as f64;
    let var = n.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n.len() as f64;
    assert!(
        m.abs() < 0.06 && (var - 1.0).abs() < 0.08,
        "normal mean {m} var {var}"
    );
}

#[test]
fn printing_looks_like_pytorch() {
    assert_eq!(
        show("tensor([[1.5, 2], [3, 4]])"),
        "tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]])"
    );
    assert_eq!(
        show("tensor([1, 2], \"f64\")"),
        "tensor([1., 2.], dtype=f64)"
    );
    assert_eq!(show("tensor(3.25)"), "tensor(3.2500)");
    let big = show("zeros([100, 20])");
    assert!(
        big.contains("...") && big.ends_with("shape=[100, 20])"),
        "{big}"
    );
    assert_eq!(big.lines().count(), 7, "{big}");
}

#[test]
fn safetensors_round_trip() {
    let v = values(
        "let p = temp_path(\"rt.safetensors\"); \
         save_safetensors(#{a: tensor([[1, 2]]), b: tensor([3], \"f64\")}, p); \
         let m = load_safetensors(p); cat([m.a.flatten(), m.b.to_dtype(\"f32\")])",
    );
    assert_eq!(v, vec![1.0, 2.0, 3.0]);
    assert!(
        error_of("load_safetensors(\"/no/such.safetensors\")").contains("/no/such.safetensors")
    );
}

#[test]
fn errors_are_one_line_with_position() {
    let e = error_of("let x = zeros([2, 3]);\nlet y = x + zeros([4]);");
    assert!(
        e.starts_with("error: shape mismatch: [2, 3] + [4]\n --> <test>:2:11"),
        "{e}"
    );
    assert!(
        e.contains("2 | let y = x + zeros([4]);\n  |           ^"),
        "{e}"
    );
    assert!(!e.contains("backtrace"), "{e}");
    let e = error_of("randm([2])");
    assert!(e.contains("did you mean rand, randn"), "{e}");
    let e = error_of("randn(\"x\")");
    assert!(e.contains("expected an array like [2, 3]"), "{e}");
}

#[test]
fn functions_persist_across_evaluations() {
    let (mut s, out) = session();
    let _ = s.eval("fn double(t) { t * 2 }", "<1>").unwrap();
    let _ = s.eval("let x = tensor([1, 2]);", "<2>").unwrap();
    let v = s.eval("double(x).sum().item()", "<3>").unwrap();
    assert_eq!(v.as_float().unwrap(), 6.0);
    let _ = s.eval("print(double(x))", "<4>").unwrap();
    assert_eq!(out.lock().unwrap().as_str(), "tensor([2., 4.])\n");
}

#[test]
fn stdlib_modules_import_from_anywhere() {
    assert_eq!(
        show("import \"stats\" as st; st::mean([1, 2, 3, 6])"),
        "3.0"
    );
    assert_eq!(show("import \"stats\" as st; st::median([5, 1, 3])"), "3.0");
    let t = show("import \"table\" as t; t::format([#{m: \"a\", v: 0.5}], [\"m\", \"v\"])");
    assert_eq!(t, "m  v\na  0.5000\n");
    assert!(error_of("import \"nope\" as n;").contains("nope"));
}

#[test]
fn options_map_and_args() {
    use gaxsh::front::SessionBuilder;
    use gaxsh::script::ScriptArgs;
    let raw: Vec<String> = ["--steps", "5", "--quick"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let args = ScriptArgs::parse("t.rhai", &raw).unwrap();
    let mut s = SessionBuilder::default().args(args).build();
    let v = s
        .eval("let o = options(\"t\", #{steps: [10, \"n\"], quick: [false, \"q\"], lr: [0.1, \"lr\"]}); [o.steps, o.quick, o.lr]", "<t>")
        .unwrap();
    assert_eq!(s.display(&v).unwrap(), "[5, true, 0.1]");
    let raw: Vec<String> = ["--stesp", "5"].iter().map(|s| s.to_string()).collect();
    let mut s = SessionBuilder::default()
        .args(ScriptArgs::parse("t.rhai", &raw).unwrap())
        .build();
    let e = s
        .eval("options(\"t\", #{steps: [10, \"n\"]})", "<t>")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown option --stesp (did you mean --steps?)"),
        "{e}"
    );
}
