//! ONNX models as ordinary gaxsh models: gaxsh → ONNX → gaxsh round trips give the same
//! logits and heatmaps, onnxruntime reads what gaxsh writes, imported models train, save and
//! load their weights under the initializer names, run batches their exporter fixed, and bad
//! files are refused with the reason.

mod common;
use candle_core::{DType, Device, Tensor};
use common::*;
use gaxsh::attr::{AttrOptions, Method, attribute};
use gaxsh::nn::spec::ModelSpec;
use gaxsh::nn::{Arch, Model};
use gaxsh::onnx::proto::{
    self, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    ValueInfoProto,
};
use gaxsh::onnx::{LoadOptions, load_onnx, save_onnx};
use prost::Message;
use std::path::{Path, PathBuf};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gaxsh-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn f64_load(p: &Path) -> Model {
    load_onnx(
        p,
        &LoadOptions {
            dtype: Some(DType::F64),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn randn(shape: &[usize], seed: u64) -> Tensor {
    gaxsh::tensor::random::isolated(seed, || {
        let n: usize = shape.iter().product();
        Tensor::from_vec(gaxsh::tensor::random::normal_vec(n), shape, &Device::Cpu).unwrap()
    })
}

fn zoo_models() -> Vec<(&'static str, Model)> {
    let build = |a: Arch| gaxsh::tensor::random::isolated(3, || a.build(DType::F64).unwrap());
    let yaml = "name: every_layer\ninput: [3, 20, 20]\nlayers:\n  - conv2d: {out: 6, kernel: 3, padding: 1}\n  - batchnorm: {}\n  - leaky_relu: {slope: 0.2}\n  - maxpool2d: {kernel: 3, stride: 2, padding: 1}\n  - conv2d: {out: 6, kernel: 3, groups: 3}\n  - tanh\n  - adaptive_avgpool: {size: 3}\n  - flatten\n  - dropout: {}\n  - linear: {out: 12}\n  - sigmoid\n  - linear: {out: 4}\n";
    vec![
        ("drybean_fpa", build(Arch::DrybeanFpa)),
        ("ccf_fpa", build(Arch::CcfFpa)),
        (
            "cxc_multi_spa",
            build(Arch::CxcMultiSpa {
                classes: 4,
                size: 48,
            }),
        ),
        (
            "resnet",
            build(Arch::ResNet {
                blocks: vec![1, 1],
                widths: vec![4, 8],
                classes: 3,
                in_channels: 3,
                size: 24,
                pneumonia: true,
            }),
        ),
        (
            "alexnet",
            build(Arch::AlexNet {
                classes: 5,
                size: 100,
                pneumonia: false,
            }),
        ),
        (
            "mobilenet_v1",
            build(Arch::MobileNetV1 {
                size: 64,
                activation: gaxsh::nn::act::ActKind::Relu6,
            }),
        ),
        (
            "yaml",
            build(Arch::Custom(ModelSpec::from_yaml(yaml, "<yaml>").unwrap())),
        ),
    ]
}

#[test]
fn gaxsh_to_onnx_to_gaxsh_gives_the_same_model() {
    for (name, m) in zoo_models() {
        let p = temp(&format!("{name}.onnx"));
        save_onnx(&m, &p).unwrap_or_else(|e| panic!("{name}: {e}"));
        let back = f64_load(&p);
        assert_eq!(back.classes, m.classes, "{name}");
        assert_eq!(back.input_shape, m.input_shape, "{name}");
        let mut shape = vec![3];
        shape.extend(&m.input_shape);
        let x = randn(&shape, 5).to_dtype(DType::F64).unwrap();
        assert_tensor_close(
            &back.logits(&x, 8).unwrap(),
            &m.logits(&x, 8).unwrap(),
            1e-9,
            &format!("{name} logits"),
        );
        for method in Method::PAPER {
            let a = attribute(&m, &x, method, &AttrOptions::default()).unwrap();
            let b = attribute(&back, &x, method, &AttrOptions::default()).unwrap();
            // Relative to each map's largest value; DeepLift's softmax rule subtracts means
            // of near-equal numbers, where summation order shows at 1e-7.
            assert_tensor_close(
                &b,
                &a,
                1e-6,
                &format!("{name} {method:?} after the round trip"),
            );
        }
        // Every parameter the forward pass reads keeps its state_dict name.
        let sd = back.state_dict();
        for k in sd.keys() {
            assert!(
                m.state_dict().contains_key(k),
                "{name}: {k} is not a name of the original"
            );
        }
    }
}

/// Run onnxruntime (Python) on a file gaxsh wrote; `None` when no Python with onnxruntime is
/// around (then the test says it skipped, and fails where GAXSH_REQUIRE_ONNXRUNTIME is set).
fn onnxruntime(model: &Path, x: &Tensor) -> Option<Vec<f32>> {
    let python = std::env::var_os("GAXSH_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-jupyter/bin/python");
            venv.exists().then_some(venv)
        })
        .unwrap_or_else(|| PathBuf::from("python3"));
    let input = model.with_extension("in.bin");
    let output = model.with_extension("out.bin");
    let data: Vec<u8> = x
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(&input, data).unwrap();
    let dims: Vec<String> = x.dims().iter().map(|d| d.to_string()).collect();
    let script = format!(
        "import numpy as np, onnxruntime as ort\n\
         s = ort.InferenceSession({m:?}, providers=['CPUExecutionProvider'])\n\
         x = np.fromfile({i:?}, dtype=np.float32).reshape([{d}])\n\
         s.run(None, {{s.get_inputs()[0].name: x}})[0].astype(np.float32).tofile({o:?})\n",
        m = model.display().to_string(),
        i = input.display().to_string(),
        o = output.display().to_string(),
        d = dims.join(", ")
    );
    let run = std::process::Command::new(&python)
        .arg("-c")
        .arg(&script)
        .output();
    match run {
        Ok(out) if out.status.success() => {
            let bytes = std::fs::read(&output).unwrap();
            Some(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
            )
        }
        other => {
            let why = match other {
                Ok(out) => String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
                    .to_string(),
                Err(e) => e.to_string(),
            };
            skip(
                "GAXSH_REQUIRE_ONNXRUNTIME",
                &format!("the onnxruntime check did not run ({why}); pip install onnxruntime"),
            );
            None
        }
    }
}

#[test]
fn onnxruntime_reads_what_gaxsh_writes() {
    for (name, m) in zoo_models() {
        let m = m.to_dtype(DType::F32).unwrap();
        let p = temp(&format!("{name}_f32.onnx"));
        save_onnx(&m, &p).unwrap();
        let mut shape = vec![2];
        shape.extend(&m.input_shape);
        let x = randn(&shape, 9).to_dtype(DType::F32).unwrap();
        let Some(ort) = onnxruntime(&p, &x) else {
            return;
        };
        let ort = Tensor::from_vec(ort, (2, m.classes), &Device::Cpu).unwrap();
        assert_tensor_close(
            &m.logits(&x, 8).unwrap(),
            &ort,
            1e-4,
            &format!("{name} vs onnxruntime"),
        );
    }
}

fn fixture_onnx(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name)
}

#[test]
fn imported_models_train_and_keep_their_weight_names() {
    // DenseNet keeps real BatchNormalization nodes (after concatenations nothing folds them).
    let m = load_onnx(&fixture_onnx("densenet_ts.onnx"), &LoadOptions::default()).unwrap();
    assert!(m.layers().iter().any(|(_, k)| *k == "BatchNormalization"));
    let before: std::collections::HashMap<String, Tensor> = m
        .state_dict()
        .into_iter()
        .map(|(k, v)| (k, v.copy().unwrap()))
        .collect();
    let x = randn(&[8, 3, 24, 24], 1);
    let y: Vec<usize> = (0..8).map(|i| i % 3).collect();
    let ds = gaxsh::data::Dataset {
        storage: gaxsh::data::Storage::Memory(x.clone()),
        ids: (0..8).map(|i| i.to_string()).collect(),
        y,
        class_names: (0..10).map(|i| i.to_string()).collect(),
        feature_names: vec![],
        transform: None,
        provenance: Default::default(),
    };
    let opts = gaxsh::train::TrainOptions {
        epochs: 2,
        batch: 4,
        ..Default::default()
    };
    gaxsh::train::fit(&m, &ds, None, &opts).unwrap();
    let after = m.state_dict();
    let changed = |k: &str| {
        let d = (&before[k] - &after[k])
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        d.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap() > 0.0
    };
    assert!(changed("classifier.weight"), "the classifier trained");
    let stat = after
        .keys()
        .find(|k| k.ends_with("running_mean"))
        .expect("batch-norm statistics are buffers");
    assert!(
        changed(stat),
        "batch norm updated its running mean in training"
    );
    // Weights saved under the initializer names load into a fresh import.
    let p = temp("densenet.safetensors");
    gaxsh::nn::weights::save(&m, &p).unwrap();
    let fresh = load_onnx(&fixture_onnx("densenet_ts.onnx"), &LoadOptions::default()).unwrap();
    gaxsh::nn::weights::load_into(&fresh, &p, &Default::default()).unwrap();
    assert_tensor_close(
        &fresh.logits(&x, 8).unwrap(),
        &m.logits(&x, 8).unwrap(),
        1e-6,
        "reloaded weights",
    );
}

#[test]
fn a_graph_exported_for_one_sample_runs_any_batch() {
    // The dynamo exporter fixes the batch at the example's size (1) and, for ConvNeXt, bakes it
    // into index arithmetic: gaxsh runs such a graph one sample at a time, sites batched.
    let m = f64_load(&fixture_onnx("convnext_dy.onnx"));
    let x = randn(&[5, 3, 24, 24], 2).to_dtype(DType::F64).unwrap();
    let batched = m.logits(&x, 5).unwrap();
    let single = m.logits(&x, 1).unwrap();
    assert_tensor_close(&batched, &single, 1e-12, "batch of 5 vs one by one");
    let reference = f64_load(&fixture_onnx("convnext_ts.onnx"));
    assert_tensor_close(
        &batched,
        &reference.logits(&x, 5).unwrap(),
        1e-9,
        "vs the dynamic export",
    );
    let a = attribute(&m, &x, Method::DeepLift, &AttrOptions::default()).unwrap();
    let b = attribute(&reference, &x, Method::DeepLift, &AttrOptions::default()).unwrap();
    assert_tensor_close(&a, &b, 1e-8, "DeepLift on the fixed-batch graph");
}

fn tensor_info(name: &str, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(proto::TypeProto {
            tensor_type: Some(proto::TypeProtoTensor {
                elem_type: proto::data_type::FLOAT,
                shape: Some(proto::TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| proto::Dimension {
                            dim_value: (d > 0).then_some(d),
                            dim_param: (d <= 0).then(|| "batch".to_string()),
                            ..Default::default()
                        })
                        .collect(),
                }),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A one-node model (input x of shape [batch, 4]) with the given node and initializers.
fn tiny(node: NodeProto, initializer: Vec<TensorProto>) -> ModelProto {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(GraphProto {
            node: vec![node],
            initializer,
            input: vec![tensor_info("x", &[0, 4])],
            output: vec![tensor_info("y", &[0, 4])],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn write(name: &str, m: &ModelProto) -> PathBuf {
    let p = temp(name);
    std::fs::write(&p, m.encode_to_vec()).unwrap();
    p
}

fn load_err(p: &Path) -> String {
    match load_onnx(p, &LoadOptions::default()) {
        Ok(_) => panic!("{} loaded", p.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_files_are_refused_with_the_reason() {
    // Not ONNX at all.
    let p = temp("garbage.onnx");
    std::fs::write(&p, b"\xff\xff\xff\xff not protobuf").unwrap();
    assert!(
        load_err(&p).contains("not an ONNX model"),
        "{}",
        load_err(&p)
    );
    // A missing file names the path.
    assert!(load_err(&temp("missing.onnx")).contains("missing.onnx"));
    // An operator gaxsh does not run: named with its node and the supported list.
    let node = NodeProto {
        name: "my_node".into(),
        op_type: "Einsum".into(),
        input: vec!["x".into()],
        output: vec!["y".into()],
        ..Default::default()
    };
    let e = load_err(&write("einsum.onnx", &tiny(node, vec![])));
    assert!(
        e.contains("my_node") && e.contains("Einsum") && e.contains("supported: Abs"),
        "{e}"
    );
    // A custom domain.
    let node = NodeProto {
        name: "custom".into(),
        op_type: "Relu".into(),
        domain: "com.example".into(),
        input: vec!["x".into()],
        output: vec!["y".into()],
        ..Default::default()
    };
    assert!(load_err(&write("domain.onnx", &tiny(node, vec![]))).contains("com.example"));
    // A node reading a value nothing provides.
    let node = NodeProto {
        name: "add".into(),
        op_type: "Add".into(),
        input: vec!["x".into(), "nowhere".into()],
        output: vec!["y".into()],
        ..Default::default()
    };
    let e = load_err(&write("dangling.onnx", &tiny(node, vec![])));
    assert!(e.contains("nowhere"), "{e}");
    // External data must stay inside the model's folder.
    let w = TensorProto {
        name: "w".into(),
        dims: vec![4],
        data_type: proto::data_type::FLOAT,
        data_location: 1,
        external_data: vec![proto::StringStringEntryProto {
            key: "location".into(),
            value: "../../etc/passwd".into(),
        }],
        ..Default::default()
    };
    let node = NodeProto {
        name: "mul".into(),
        op_type: "Mul".into(),
        input: vec!["x".into(), "w".into()],
        output: vec!["y".into()],
        ..Default::default()
    };
    let e = load_err(&write("escape.onnx", &tiny(node.clone(), vec![w])));
    assert!(e.contains("inside the model's folder"), "{e}");
    // Data shorter than its shape, and a shape too large to allocate, are refused.
    let short = TensorProto {
        name: "w".into(),
        dims: vec![4],
        data_type: proto::data_type::FLOAT,
        raw_data: vec![0; 7],
        ..Default::default()
    };
    assert!(load_err(&write("short.onnx", &tiny(node.clone(), vec![short]))).contains("7 bytes"));
    let huge = TensorProto {
        name: "w".into(),
        dims: vec![1 << 40, 1 << 40],
        data_type: proto::data_type::FLOAT,
        ..Default::default()
    };
    assert!(load_err(&write("huge.onnx", &tiny(node, vec![huge]))).contains("more than"));
    // An output that is not (batch, classes).
    let node = NodeProto {
        name: "unsq".into(),
        op_type: "Unsqueeze".into(),
        input: vec!["x".into()],
        output: vec!["y".into()],
        attribute: vec![AttributeProto {
            name: "axes".into(),
            r#type: proto::attribute_type::INTS,
            ints: vec![1],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut m = tiny(node, vec![]);
    m.opset_import[0].version = 11;
    let e = load_err(&write("rank3.onnx", &m));
    assert!(e.contains("(batch, classes)"), "{e}");
}

#[test]
fn load_onnx_and_save_onnx_from_a_script() {
    let p = fixture_onnx("resnet18_ts.onnx");
    let out = show(&format!(
        "let m = load_onnx({:?}, #{{dtype: \"f64\"}}); let p = temp_path(\"r.onnx\"); m.save_onnx(p); \
         let b = load_onnx(p); let x = randn([2, 3, 24, 24]).to_dtype(\"f64\"); \
         [m.classes, (m.logits(x) - b.logits(x)).abs().max().item() < 1e-12, m.layers().len() > 20]",
        p.display().to_string()
    ));
    assert_eq!(out, "[10, true, true]");
    // Grad-CAM takes a module path as well as a node name.
    let out = show(&format!(
        "let m = load_onnx({:?}); attribute(m, randn([1, 3, 24, 24]), \"LayerGradCam\", #{{layer: \"layer2.1\"}}).shape",
        p.display().to_string()
    ));
    assert_eq!(out, "[1, 3, 24, 24]");
    let e = error_of(&format!(
        "let m = load_onnx({:?}); attribute(m, randn([1, 3, 24, 24]), \"LayerGradCam\", #{{layer: \"layer9\"}})",
        p.display().to_string()
    ));
    assert!(e.contains("unknown layer 'layer9'"), "{e}");
}
