//! Models against PyTorch: parameter counts, forward logits (f64, formula weights), f32 vs f64,
//! the real pretrained MobileNets, and weight files in both directions.

mod common;
use candle_core::{DType, Tensor};
use common::*;
use gaxsh::nn::formula::{formula_input, load_formula_weights};
use gaxsh::nn::{Arch, Model, ModelOptions};

/// A zoo architecture through the zoo's own table (`Arch::from_name`).
fn zoo(name: &str, o: ModelOptions) -> Arch {
    Arch::from_name(name, &o).unwrap()
}

fn sized(classes: usize, size: usize) -> ModelOptions {
    ModelOptions {
        classes: Some(classes),
        size: Some(size),
        ..Default::default()
    }
}

/// (fixture name, architecture, input shape) as in tools/reference/make_fixtures.py.
fn cases() -> Vec<(&'static str, Arch, Vec<usize>)> {
    vec![
        (
            "drybean_fpa",
            zoo("drybean_fpa", ModelOptions::default()),
            vec![5, 16],
        ),
        (
            "ccf_fpa",
            zoo("ccf_fpa", ModelOptions::default()),
            vec![5, 28],
        ),
        (
            "cxc_multi_spa",
            zoo("cxc_multi_spa", sized(4, 64)),
            vec![2, 1, 64, 64],
        ),
        (
            "resnet_small",
            zoo(
                "resnet",
                ModelOptions {
                    blocks: Some(vec![1, 1]),
                    widths: Some(vec![8, 16]),
                    ..sized(5, 32)
                },
            ),
            vec![3, 3, 32, 32],
        ),
        (
            "resnet34",
            zoo("resnet34", sized(1000, 64)),
            vec![2, 3, 64, 64],
        ),
        (
            "alexnet",
            zoo("alexnet", sized(1000, 256)),
            vec![1, 3, 256, 256],
        ),
    ]
}

fn formula_model(arch: &Arch, dtype: DType) -> Model {
    let m = arch.build(dtype).unwrap();
    load_formula_weights(&m).unwrap();
    m
}

fn f32_input(shape: &[usize]) -> Tensor {
    // The fixtures use inputs rounded to f32, so f32 and f64 runs see the same numbers.
    formula_input(shape, 0.5, DType::F32).unwrap()
}

#[test]
fn parameter_counts_match_the_paper() {
    assert_eq!(
        Arch::DrybeanFpa.build(DType::F32).unwrap().count_params(),
        2121
    );
    assert_eq!(Arch::CcfFpa.build(DType::F32).unwrap().count_params(), 506);
    assert_eq!(
        Arch::CxcMultiSpa {
            classes: 4,
            size: 256
        }
        .build(DType::F32)
        .unwrap()
        .count_params(),
        50565
    );
    // torchvision ResNet34 / AlexNet (ImageNet heads).
    assert_eq!(
        zoo("resnet34", ModelOptions::default())
            .build(DType::F32)
            .unwrap()
            .count_params(),
        21_797_672
    );
    assert_eq!(
        Arch::AlexNet {
            classes: 1000,
            size: 224,
            pneumonia: false
        }
        .build(DType::F32)
        .unwrap()
        .count_params(),
        61_100_840
    );
    // Keras MobileNetV1-0.25: 475,544 weights in the file, of which the BN moving statistics
    // (2 × 2,736) are buffers, not trainable parameters.
    let mb = Arch::MobileNetV1 {
        size: 224,
        activation: gaxsh::nn::act::ActKind::Relu6,
    }
    .build(DType::F32)
    .unwrap();
    assert_eq!(mb.count_params(), 470_072);
    let buffers: usize = mb
        .params
        .entries
        .iter()
        .filter(|e| e.kind == gaxsh::nn::params::ParamKind::Buffer)
        .map(|e| e.var.elem_count())
        .sum();
    assert_eq!(mb.count_params() + buffers, 475_544);
}

#[test]
fn pneumonia_variants_keep_the_authors_layout() {
    // METHOD.md §1.7: used params 21,284,672 + 1,024 (the unused 1000-way fc stays registered).
    let m = Arch::ResNet {
        blocks: vec![3, 4, 6, 3],
        widths: vec![64, 128, 256, 512],
        classes: 2,
        in_channels: 3,
        size: 256,
        pneumonia: true,
    }
    .build(DType::F32)
    .unwrap();
    let sd = m.state_dict();
    assert!(
        sd.contains_key("backbone.conv1.weight")
            && sd.contains_key("backbone.layer4.2.bn2.running_var")
    );
    assert_eq!(sd["fc.weight"].dims(), &[2, 512]);
    assert!(!sd.contains_key("fc.bias"));
    assert_eq!(m.count_params(), 21_284_672 + 1_024 + 513_000);
    let a = Arch::AlexNet {
        classes: 2,
        size: 256,
        pneumonia: true,
    }
    .build(DType::F32)
    .unwrap();
    assert_eq!(a.count_params(), 57_012_032 + 4_097_000);
    assert_eq!(a.state_dict()["fc.weight"].dims(), &[2, 4096]);
}

#[test]
fn forward_logits_match_pytorch_in_f64() {
    let fx = fixture("models.safetensors");
    for (name, arch, shape) in cases() {
        let m = formula_model(&arch, DType::F64);
        let logits = m
            .logits(&f32_input(&shape).to_dtype(DType::F64).unwrap(), 64)
            .unwrap();
        assert_tensor_close(
            &logits,
            &fx[&format!("{name}.logits")].to_dtype(DType::F64).unwrap(),
            1e-6,
            name,
        );
    }
}

#[test]
fn f32_forward_stays_within_f32_noise() {
    let fx = fixture("models.safetensors");
    for (name, arch, shape) in cases()
        .into_iter()
        .filter(|(n, ..)| !n.starts_with("alexnet"))
    {
        let m = formula_model(&arch, DType::F32);
        let logits = m.logits(&f32_input(&shape), 64).unwrap();
        assert_eq!(logits.dtype(), DType::F32);
        assert_tensor_close(
            &logits,
            &fx[&format!("{name}.logits")].to_dtype(DType::F32).unwrap(),
            1e-4,
            name,
        );
    }
}

#[test]
fn dtype_conversion_keeps_the_function() {
    let m = formula_model(&Arch::DrybeanFpa, DType::F32);
    let m64 = m.to_dtype(DType::F64).unwrap();
    assert_eq!(m64.dtype, DType::F64);
    let x = f32_input(&[3, 16]);
    let a = m.logits(&x, 8).unwrap();
    let b = m64.logits(&x.to_dtype(DType::F64).unwrap(), 8).unwrap();
    assert_tensor_close(&a, &b.to_dtype(DType::F32).unwrap(), 1e-5, "f32 vs f64");
}

#[test]
fn mobilenet_v1_reproduces_the_reference_logits() {
    let Some(dir) = shared_data("weights/mobilenet_v1_0.25_224") else {
        return;
    };
    let m = Arch::MobileNetV1 {
        size: 224,
        activation: gaxsh::nn::act::ActKind::Relu6,
    }
    .build(DType::F32)
    .unwrap();
    let w = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/weights/mobilenet_v1_0.25_224/mobilenet_v1_0.25_224.safetensors");
    gaxsh::nn::weights::load_into(&m, &w, &Default::default()).unwrap();
    let inputs = candle_core::safetensors::load(
        dir.join("reference_inputs_first8.safetensors"),
        &gaxsh::device::current(),
    )
    .unwrap();
    let x = inputs["input_nhwc"]
        .permute((0, 3, 1, 2))
        .unwrap()
        .contiguous()
        .unwrap();
    let logits = m.logits(&x, 8).unwrap();
    let refs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("reference_logits_first8.json")).unwrap(),
    )
    .unwrap();
    let r: Vec<f32> = refs["logits"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
        })
        .collect();
    let r = Tensor::from_vec(r, (8, 1000), &gaxsh::device::current()).unwrap();
    assert_tensor_close(&logits, &r, 1e-4, "mobilenet_v1 logits");
    // The predicted classes are the reference's.
    assert_eq!(
        logits.argmax(1).unwrap().to_vec1::<u32>().unwrap(),
        r.argmax(1).unwrap().to_vec1::<u32>().unwrap()
    );
}

#[test]
fn mobilenet_v2_reproduces_the_reference_logits() {
    let Some(dir) = shared_data("weights/mobilenet_v2_1.0_224") else {
        return;
    };
    let m = Arch::MobileNetV2 {
        size: 224,
        graph: String::new(),
    }
    .build(DType::F32)
    .unwrap();
    gaxsh::nn::weights::load_into(
        &m,
        &dir.join("mobilenet_v2_1.0_224_dequant_f32.safetensors"),
        &Default::default(),
    )
    .unwrap();
    let inputs = candle_core::safetensors::load(
        dir.join("reference_inputs_first8.safetensors"),
        &gaxsh::device::current(),
    )
    .unwrap();
    let key = inputs.keys().next().unwrap().clone();
    let x = inputs[&key]
        .permute((0, 3, 1, 2))
        .unwrap()
        .contiguous()
        .unwrap();
    let logits = m.logits(&x, 8).unwrap();
    let refs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("mobilenet_v2_reference_logits_first8.json")).unwrap(),
    )
    .unwrap();
    let r: Vec<f32> = refs["logits_1001"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
        })
        .collect();
    let r = Tensor::from_vec(r, (8, 1001), &gaxsh::device::current()).unwrap();
    assert_tensor_close(&logits, &r, 1e-4, "mobilenet_v2 logits");
}

#[test]
fn torch_checkpoints_load_with_the_authors_wrappers() {
    let fx = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let reference = formula_model(&Arch::CcfFpa, DType::F32);
    let x = f32_input(&[4, 28]);
    let want = reference.logits(&x, 8).unwrap();
    for file in [
        "ccf_fpa_bare.pt",
        "ccf_fpa_net_wrapper.model",
        "ccf_fpa_v2_wrapper.pth",
    ] {
        let m = Arch::CcfFpa.build(DType::F32).unwrap();
        gaxsh::nn::weights::load_into(&m, &fx.join(file), &Default::default()).unwrap();
        assert_tensor_close(&m.logits(&x, 8).unwrap(), &want, 1e-6, file);
    }
}

#[test]
fn safetensors_round_trip_and_clear_errors() {
    let m = formula_model(&Arch::DrybeanFpa, DType::F32);
    let dir = std::env::temp_dir().join(format!("gaxsh-w-{}", std::process::id()));
    let p = dir.join("bean.safetensors");
    gaxsh::nn::weights::save(&m, &p).unwrap();
    let m2 = Arch::DrybeanFpa.build(DType::F64).unwrap();
    gaxsh::nn::weights::load_into(&m2, &p, &Default::default()).unwrap();
    let x = f32_input(&[2, 16]);
    assert_tensor_close(
        &m2.logits(&x.to_dtype(DType::F64).unwrap(), 4)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap(),
        &m.logits(&x, 4).unwrap(),
        1e-6,
        "round trip",
    );
    // Loading into the wrong architecture names what is missing, unexpected and mis-shaped.
    let wrong = Arch::CcfFpa.build(DType::F32).unwrap();
    let e = gaxsh::nn::weights::load_into(&wrong, &p, &Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("wrong shape fpa.fconvs.1.weight (file [28, 7, 3], model [14, 7, 3])"),
        "{e}"
    );
    let e =
        gaxsh::nn::weights::load_into(&wrong, &dir.join("none.safetensors"), &Default::default())
            .unwrap_err()
            .to_string();
    assert!(
        e.contains("none.safetensors") && e.contains("no such file"),
        "{e}"
    );
    std::fs::write(dir.join("junk.pt"), b"not a zip").unwrap();
    let e = gaxsh::nn::weights::load_into(&wrong, &dir.join("junk.pt"), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("junk.pt") && e.contains("not a readable PyTorch checkpoint"),
        "{e}"
    );
}

#[test]
fn layers_are_addressable_by_pytorch_names() {
    let m = Arch::CxcMultiSpa {
        classes: 4,
        size: 256,
    }
    .build(DType::F32)
    .unwrap();
    let names: Vec<String> = m.layers().into_iter().map(|(n, _)| n).collect();
    for want in [
        "spa1.convs.0",
        "spa1.bns.3",
        "spa1.act.2",
        "spa1.softmax",
        "decon.deconv1",
        "decon.act",
        "spa2.convs.3",
        "fc",
    ] {
        assert!(
            names.contains(&want.to_string()),
            "{want} missing from {names:?}"
        );
    }
    let e = m.check_layer("spa1.conv.0").unwrap_err().to_string();
    assert!(
        e.contains("unknown layer 'spa1.conv.0'") && e.contains("spa1.convs.0"),
        "{e}"
    );
}

/// The rank of each bundled photo's labelled ImageNet class (data/images/labels.txt) under a
/// pretrained model (`offset`: 1 where output 0 is the background class).
fn photo_ranks(net: &str, offset: i64) -> Vec<i64> {
    let mut s = gaxsh::front::Session::new();
    let code = format!(
        r#"
        let net = {net};
        let photos = image_list("data/images/labels.txt", #{{ size: 224, channels: 3 }})
            .map(normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]));
        let p = softmax(net.logits(photos.x), 1);
        let y = photos.y;
        let ranks = [];
        for i in 0..photos.len() {{
            let row = p[i];
            let mine = row.get([y[i].to_int() + {offset}]);
            // How many classes score higher than the labelled one.
            ranks.push((row > mine).sum().item());
        }}
        ranks
        "#
    );
    let ranks = s.eval(&code, "<test>").unwrap_or_else(|e| panic!("{e}"));
    ranks
        .into_array()
        .unwrap()
        .into_iter()
        .map(|v| {
            v.as_float()
                .map(|f| f as i64)
                .or_else(|_| v.as_int())
                .unwrap()
        })
        .collect()
}

/// MobileNetV1-0.25 with its real (bundled) weights classifies the bundled photos sensibly.
#[test]
fn mobilenet_v1_classifies_the_bundled_photos_sensibly() {
    let ranks = photo_ranks("mobilenet_v1()", 0);
    assert_eq!(ranks.len(), 7, "seven labelled photos");
    let top5 = ranks.iter().filter(|&&r| r < 5).count();
    let top1 = ranks.iter().filter(|&&r| r == 0).count();
    assert!(
        top5 == 7 && top1 >= 5,
        "top-1 {top1}/7, top-5 {top5}/7: {ranks:?}"
    );
}

/// MobileNetV2 1.0 (weights from ../shared) likewise.
#[test]
fn mobilenet_v2_classifies_the_bundled_photos_sensibly() {
    if shared_data("weights/mobilenet_v2_1.0_224").is_none() {
        return;
    }
    let ranks = photo_ranks("mobilenet_v2()", 1);
    let top5 = ranks.iter().filter(|&&r| r < 5).count();
    let top1 = ranks.iter().filter(|&&r| r == 0).count();
    eprintln!("MobileNetV2 ranks: {ranks:?}");
    assert!(
        top5 == 7 && top1 >= 5,
        "top-1 {top1}/7, top-5 {top5}/7: {ranks:?}"
    );
}

/// Keras-style nets without the zoo's defaults: MobileNetV1 with plain ReLU, and YAML
/// convolutions with TensorFlow's SAME padding (odd sizes, stride 2, an even kernel), against
/// PyTorch (tools/reference/variants_fixtures.py).
#[test]
fn keras_style_variants_match_pytorch() {
    let fx = fixture("variants.safetensors");
    let relu = ModelOptions {
        size: Some(64),
        pretrained: false,
        activation: Some(gaxsh::nn::act::ActKind::Relu),
        dtype: DType::F64,
        ..Default::default()
    };
    let yaml = "name: same\ninput: [3, 15, 13]\nlayers:\n  - conv2d: {out: 4, kernel: 3, stride: 2, padding: same}\n  - relu\n  - conv2d: {out: 5, kernel: 4, padding: same}\n  - avgpool\n  - flatten\n  - linear: {out: 3}\n";
    let cases = [
        ("mobilenet_relu", zoo("mobilenet_v1", relu)),
        (
            "yaml_same",
            Arch::Custom(gaxsh::nn::spec::ModelSpec::from_yaml(yaml, "same.yaml").unwrap()),
        ),
    ];
    for (name, arch) in cases {
        let m = arch.build(DType::F64).unwrap();
        load_formula_weights(&m).unwrap();
        let x = fx[&format!("{name}.input")].clone();
        let logits = m.logits(&x, 8).unwrap();
        assert_tensor_close(&logits, &fx[&format!("{name}.logits")], 1e-9, name);
    }
    // ReLU and ReLU6 differ on the same weights (the option reaches every unit).
    let relu6 = zoo(
        "mobilenet_v1",
        ModelOptions {
            size: Some(64),
            pretrained: false,
            ..Default::default()
        },
    );
    assert!(matches!(
        relu6,
        Arch::MobileNetV1 {
            activation: gaxsh::nn::act::ActKind::Relu6,
            ..
        }
    ));
    let bad =
        "name: bad\ninput: [3, 8, 8]\nlayers:\n  - conv2d: {out: 4, kernel: 3, padding: valid}\n";
    let e = gaxsh::nn::spec::ModelSpec::from_yaml(bad, "bad.yaml")
        .and_then(|s| Arch::Custom(s).build(DType::F32))
        .unwrap_err()
        .to_string();
    assert!(e.contains("padding 'valid'") && e.contains("same"), "{e}");
}
