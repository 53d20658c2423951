//! Script bindings: the model zoo, YAML and map-built models, weights, training and evaluation.

use super::convert::ScriptTensor as T;
use super::convert::*;
use super::registry::{Category, FnDoc, Registrar, func, options_fn, prop};
use crate::data::Dataset;
use crate::metrics::Metrics;
use crate::nn::formula::{formula_input, load_formula_weights};
use crate::nn::spec::ModelSpec;
use crate::nn::weights::{LoadOptions, load_into};
use crate::nn::{Arch, CHUNK, Model, ModelOptions};
use crate::options::{Key, Kind, Options, key};
use crate::train::{TrainOptions, TrainReport, evaluate_model, fit_keeping_history};
use candle_core::DType;
use rhai::serde::to_dynamic;
use rhai::{Dynamic, Map};
use std::path::Path;
use std::sync::Arc;

/// A model as scripts hold it: shared, since training updates its weights in place.
#[derive(Clone)]
pub struct Net(pub Arc<Model>);

/// A model the core made, as a script value.
fn net(m: crate::Result<Model>) -> RResult<Net> {
    m.map(|m| Net(Arc::new(m))).rh()
}

const M: Category = Category::Models;
const TR: Category = Category::Training;

/// A zoo model: the options read into the core's `ModelOptions`, the name resolved by
/// `Arch::from_name`, built and loaded by `nn::zoo::model`.
fn zoo(name: &str, m: Map) -> RResult<Net> {
    crate::nn::arch::check_zoo_name(name).rh()?;
    let o: ModelOptions = read_options_among(name, &ModelOptions::keys_for(name), &m)?;
    net(crate::nn::zoo::model(name, &o))
}

fn register_zoo(r: &mut Registrar) {
    r.printable("Model", |n: &Net| format!("{:?}", n.0));

    options_fn!(r, "model", fn(n: &str; m) -> RResult<Net> { zoo(n, m) });

    // A zoo name documented as a function (`resnet34(#{…})`) is one.
    for name in DOCS
        .iter()
        .map(|d| d.name)
        .filter(|n| crate::nn::arch::ZOO.contains(n))
    {
        options_fn!(r, name, fn(; m) -> RResult<Net> { zoo(name, m) });
    }

    options_fn!(r, "load_onnx", fn(path: &str; m) -> RResult<Net> {
        let opts: crate::onnx::LoadOptions = read_options("load_onnx", &m)?;
        net(crate::onnx::load_onnx(Path::new(path), &opts))
    });

    r.register_fn("model_from_yaml", |s: &str| -> RResult<Net> {
        net(Arch::Custom(ModelSpec::from_path_or_text(s).rh()?).build(DType::F32))
    });
    r.register_fn("build_model", |m: Map| -> RResult<Net> {
        let layers = crate::nn::spec::LAYER_KINDS.join(", ");
        let what = format!("build_model: #{{name, input, layers}} (supported layers: {layers})");
        let spec: ModelSpec = from_map(&Dynamic::from_map(m), &what)?;
        net(Arch::Custom(spec).build(DType::F32))
    });
}

fn register_model_methods(r: &mut Registrar) {
    r.register_get("params", |n: &mut Net| n.0.count_params() as i64);
    r.register_get("classes", |n: &mut Net| n.0.classes as i64);
    r.register_get("input_shape", |n: &mut Net| shape_array(&n.0.input_shape));
    r.register_get("arch", |n: &mut Net| n.0.arch.name());
    r.register_get("dtype", |n: &mut Net| {
        crate::tensor::format::dtype_str(n.0.dtype)
    });
    r.register_fn("layers", |n: &mut Net| {
        strings(&n.0.layers().into_iter().map(|(l, _)| l).collect::<Vec<_>>())
    });
    r.register_get("cam_layer", |n: &mut Net| {
        to_dynamic(n.0.cam_layer.as_ref().map(|l| l.to_string()))
    });
    r.register_fn("summary", |n: &mut Net| n.0.summary());
    fn logits(n: &mut Net, x: T) -> RResult<T> {
        n.0.logits(&x.0, CHUNK).map(T).rh()
    }
    r.register_fn("logits", logits);
    r.register_fn("forward", logits);
    r.register_fn("predict", |n: &mut Net, x: T| -> RResult<T> {
        Ok(T(n.0.logits(&x.0, CHUNK).rh()?.argmax(1).rh()?))
    });
    r.register_fn("save", |n: &mut Net, p: &str| {
        crate::nn::weights::save(&n.0, p.as_ref()).rh()
    });
    r.register_fn("save_onnx", |n: &mut Net, p: &str| {
        crate::onnx::save_onnx(&n.0, p.as_ref()).rh()
    });
    options_fn!(r, "load", fn(n: &mut Net, p: &str; m) -> RResult<()> {
        let opts: LoadOptions = read_options("load", &m)?;
        load_into(&n.0, Path::new(p), &opts).map(|_| ()).rh()
    });
    r.register_fn("to_dtype", |n: &mut Net, d: &str| -> RResult<Net> {
        net(n.0.to_dtype(dtype_of(d)?))
    });
    r.register_get("device", |n: &mut Net| crate::device::name(&n.0.device()));
    r.register_fn("to_device", |n: &mut Net, name: &str| -> RResult<Net> {
        let d = crate::device::parse(name).rh()?;
        net(n.0.to_device(&d))
    });
    r.register_fn("copy", |n: &mut Net| net(n.0.duplicate()));
}

/// `fit`'s one option of the binding's own: the validation set (a script value).
const VAL: Key = key(
    "val",
    Kind::Dataset,
    "none",
    "a validation Dataset: keeps the best-validation weights, stops at target_val_acc",
);

fn train_options(mut m: Map) -> RResult<(TrainOptions, Option<Dataset>)> {
    let val = m.remove("val").filter(|d| !d.is_unit());
    let val = val
        .map(|v| cast(&v, "fit: 'val' must be a Dataset"))
        .transpose()?;
    let keys: Vec<Key> = TrainOptions::keys().into_iter().chain([VAL]).collect();
    Ok((read_options_among("fit", &keys, &m)?, val))
}

fn metrics_type(r: &mut Registrar) {
    r.printable("Metrics", |m: &Metrics| m.to_string());
    r.register_get("accuracy", |m: &mut Metrics| m.accuracy);
    r.register_get("confusion", |m: &mut Metrics| to_dynamic(&m.confusion));
    r.register_get("per_class", |m: &mut Metrics| to_dynamic(&m.per_class));
}

/// What `fit` returns: a short table when printed, its history as properties.
fn fit_result_type(r: &mut Registrar) {
    r.printable("FitResult", |t: &TrainReport| t.to_string());
    r.register_get("history", |t: &mut TrainReport| to_dynamic(&t.epochs));
    r.register_get("best_val_acc", |t: &mut TrainReport| {
        to_dynamic(t.best_val_acc)
    });
    r.register_get("stopped", |t: &mut TrainReport| t.stopped.clone());
}

fn register_training(r: &mut Registrar) {
    metrics_type(r);
    let log = r.log.clone();
    options_fn!(r, "fit", fn(n: &mut Net, train: Dataset; m) -> RResult<TrainReport> {
        let (opts, val) = train_options(m)?;
        // An interrupted run still goes into the report, with the epochs it finished.
        let outcome = fit_keeping_history(&n.0, &train, val.as_ref(), &opts);
        let (Ok(report) | Err((_, report))) = &outcome;
        let model = n.0.arch.name();
        crate::report::log::lock(&log).add_training(&model, &train.provenance, report, &opts);
        outcome.map_err(|(e, _)| to_rhai(e))
    });
    fit_result_type(r);
    let log = r.log.clone();
    r.register_fn(
        "evaluate",
        move |n: &mut Net, ds: Dataset| -> RResult<Metrics> {
            let m = evaluate_model(&n.0, &ds, CHUNK).rh()?;
            crate::report::log::lock(&log).add_evaluation(&n.0.arch.name(), &ds, &m);
            Ok(m)
        },
    );
}

fn register_formula(r: &mut Registrar) {
    r.register_fn("init_formula", |n: &mut Net| {
        load_formula_weights(&n.0).rh()
    });
    r.register_fn("formula_input", |s: Dynamic, phase: f64| -> RResult<T> {
        formula_input(&shape_of(&s)?, phase, DType::F32).map(T).rh()
    });
}

fn register_selection(r: &mut Registrar) {
    r.register_fn("first_n_correct", |d: &mut Dataset, n: Net, k: i64| {
        n.0.first_n_correct(d, count(k, "first_n_correct: n")?, CHUNK)
            .rh()
    });
}

/// What the functions of this file do, as `help` and docs/FUNCTIONS.md show them.
#[rustfmt::skip]
const DOCS: &[FnDoc] = &[
    func(M, "model", "model(name, #{dtype, weights, classes, size, …}) -> Model", "A zoo model by name: drybean_fpa, ccf_fpa, cxc_multi_spa, resnet34(_pneumonia), alexnet(_pneumonia), mobilenet_v1, mobilenet_v2, fpa, resnet. Each name takes the options that apply to it (an option it does not take is an error naming those it does).")
        .options(|| ModelOptions::KEYS.to_vec()).example_is("model(\"ccf_fpa\").params", "506"),
    func(M, "drybean_fpa", "drybean_fpa(#{dtype, weights}) -> Model", "The paper's dry-bean model: FPA(c = 14) on 16 features, 7 classes, 2,121 parameters.")
        .options(|| ModelOptions::keys_for("drybean_fpa")).example_is("drybean_fpa().params", "2121"),
    func(M, "ccf_fpa", "ccf_fpa(#{dtype, weights}) -> Model", "The paper's credit-card model: FPA(c = 7) on 28 features, 2 classes, 506 parameters.")
        .options(|| ModelOptions::keys_for("ccf_fpa")).example_is("ccf_fpa().classes", "2"),
    func(M, "cxc_multi_spa", "cxc_multi_spa(#{classes, size, dtype, weights}) -> Model", "The paper's COVID-19 model CXCMultiSPA: 1×size×size input (256), 4 classes, 50,565 parameters.")
        .options(|| ModelOptions::keys_for("cxc_multi_spa")).example_is("cxc_multi_spa().params", "50565"),
    func(M, "resnet34", "resnet34(#{classes, size, pneumonia, weights, strip_prefix}) -> Model", "torchvision ResNet34 (torchvision names; pneumonia: true gives the authors' backbone.* layout with a 2-way head).")
        .options(|| ModelOptions::keys_for("resnet34")).example_is("resnet34(#{size: 64}).params", "21797672"),
    func(M, "alexnet", "alexnet(#{classes, size, pneumonia, weights}) -> Model", "torchvision AlexNet (pneumonia: true gives the authors' layout).")
        .options(|| ModelOptions::keys_for("alexnet")).example_is("alexnet(#{size: 224}).classes", "1000"),
    func(M, "mobilenet_v1", "mobilenet_v1(#{size, weights, pretrained}) -> Model", "Keras MobileNetV1 α=0.25 with the bundled pretrained ImageNet weights (1000 classes).")
        .options(|| ModelOptions::keys_for("mobilenet_v1")).example_is("mobilenet_v1().params", "470072"),
    func(M, "mobilenet_v2", "mobilenet_v2(#{size, weights, pretrained}) -> Model", "MobileNetV2 1.0/224 from its TFLite graph (1001 outputs, 0 = background); weights from data/weights or ../shared, or the path given.")
        .options(|| ModelOptions::keys_for("mobilenet_v2")).example_is("mobilenet_v2(#{pretrained: false}).classes", "1001"),
    func(M, "resnet", "resnet(#{blocks, widths, classes, in_channels, size}) -> Model", "A ResNet of BasicBlocks of any depth and width (resnet34 = blocks [3, 4, 6, 3]).")
        .options(|| ModelOptions::keys_for("resnet")).example_is("resnet(#{blocks: [1, 1], widths: [8, 16], classes: 3, size: 32}).params > 0", "true"),
    func(M, "load_onnx", "load_onnx(path, #{input_shape, output, classes, class_names, dtype}) -> Model", "A model from an ONNX file (torch.onnx.export, both exporters; other exporters' graphs when they use the supported operators): every method, AX, CO, GAX and fit work on it. Each Relu/Sigmoid/Tanh/Softmax/MaxPool node is a rule site as the nn module is in Captum; layers() lists the nodes, and layer: also takes the PyTorch module path.")
        .options(|| crate::onnx::LoadOptions::KEYS.to_vec()).example("let p = temp_path(\"m.onnx\"); ccf_fpa().save_onnx(p); load_onnx(p).classes"),
    func(M, "model_from_yaml", "model_from_yaml(path_or_text) -> Model", "A custom model from a YAML description (name, input, layers: linear, conv2d, batchnorm, relu, maxpool2d, avgpool, flatten, fpa, …).")
        .example_is("model_from_yaml(\"name: mlp\\ninput: [4]\\nlayers:\\n  - linear: {out: 8}\\n  - relu\\n  - linear: {out: 3}\").params", "67"),
    func(M, "build_model", "build_model(#{name, input, layers}) -> Model", "A custom model from a map with the same fields as the YAML form, built in a script.")
        .example_is("build_model(#{name: \"mlp\", input: [4], layers: [#{linear: #{out: 8}}, \"relu\", #{linear: #{out: 3}}]}).params", "67"),
    prop(M, "params", "net.params -> int", "The number of trainable parameters.")
        .example_is("drybean_fpa().params", "2121"),
    prop(M, "classes", "net.classes -> int / ds.classes -> array", "A model's number of outputs; a dataset's class names.")
        .example_is("drybean_fpa().classes", "7"),
    prop(M, "input_shape", "net.input_shape -> array", "The shape of one input sample.")
        .example_is("cxc_multi_spa().input_shape", "[1, 256, 256]"),
    prop(M, "arch", "net.arch -> string", "The architecture's name.")
        .example_is("ccf_fpa().arch", "ccf_fpa"),
    func(M, "layers", "net.layers() -> array", "Every named layer (PyTorch names such as spa1.convs.0), in forward order.")
        .example_is("ccf_fpa().layers()[0]", "fpa"),
    prop(M, "cam_layer", "net.cam_layer -> string", "The layer LayerGradCam uses when no layer: is given (the paper's for the zoo; for imported models the last convolution whose output is a map), with \" (input)\" when it captures the layer's input; () when there is none.")
        .example_is("drybean_fpa().cam_layer", "fpa.fconvs.0 (input)"),
    func(M, "logits", "net.logits(x) -> Tensor", "Raw outputs for a batch (eval mode, no gradients).")
        .example_is("ccf_fpa().logits(zeros([3, 28])).shape", "[3, 2]"),
    func(M, "forward", "net.forward(x) -> Tensor", "Same as logits: the model applied to a batch in eval mode.")
        .example_is("ccf_fpa().forward(zeros([1, 28])).shape", "[1, 2]"),
    func(M, "predict", "net.predict(x) -> Tensor", "Predicted classes (argmax of the logits), u32.")
        .example_is("ccf_fpa().predict(zeros([2, 28])).shape", "[2]"),
    func(M, "save_onnx", "net.save_onnx(path)", "Write the model as an ONNX file (opset 20, weights inside, a dynamic batch axis): onnxruntime and PyTorch read it, load_onnx gives back the same logits.")
        .example("let p = temp_path(\"m.onnx\"); drybean_fpa().save_onnx(p)"),
    func(M, "load", "net.load(path, #{lenient, strip_prefix, add_prefix})", "Load weights from safetensors or a PyTorch checkpoint (.pt/.pth/.model, {'net': …} and {'model_state_dict': …} wrappers); errors name missing, unexpected and mis-shaped tensors.")
        .options(|| LoadOptions::KEYS.to_vec()).example("let p = temp_path(\"b.safetensors\"); drybean_fpa().save(p); drybean_fpa().load(p)"),
    func(M, "copy", "net.copy() -> Model", "An independent copy of the model and its weights.")
        .example_is("drybean_fpa().copy().params", "2121"),
    prop(TR, "accuracy", "metrics.accuracy -> float", "The fraction classified correctly.")
        .example("drybean_fpa().evaluate(load_drybean().head(20)).accuracy"),
    prop(TR, "confusion", "metrics.confusion -> array", "Counts, rows = true class, columns = predicted.")
        .example("drybean_fpa().evaluate(load_drybean().head(20)).confusion"),
    prop(TR, "per_class", "metrics.per_class -> array", "Per class: #{class, precision, recall, f1, support}.")
        .example("drybean_fpa().evaluate(load_drybean().head(20)).per_class[0].recall"),
    prop(TR, "history", "fit_result.history -> array", "Per epoch: #{epoch, loss, train_acc, val_acc}.")
        .example("let b = load_drybean(); drybean_fpa().fit(b.head(32).map(b.standardize()), #{epochs: 2}).history[1].loss"),
    prop(TR, "best_val_acc", "fit_result.best_val_acc -> float or ()", "The best validation accuracy (its weights are the model's), or () without a validation set.")
        .example("let s = load_drybean().split_mod3(); drybean_fpa().fit(s.train.head(32), #{epochs: 2, val: s.val.head(16)}).best_val_acc"),
    prop(TR, "stopped", "fit_result.stopped -> string", "Why training ended: \"target reached\" or \"epochs done\".")
        .example_is("let b = load_drybean(); drybean_fpa().fit(b.head(16), #{epochs: 1}).stopped", "epochs done"),
    func(TR, "fit", "net.fit(train, #{val, lr, betas, eps, weight_decay, epochs, batch, target_val_acc, shuffle}) -> FitResult", "Train with Adam (paper: lr 1e-3, betas [0.5, 0.999], batch 16) and cross-entropy; keeps the best-validation weights, stops when val accuracy exceeds target_val_acc; Ctrl-C keeps the best so far.")
        .options(|| TrainOptions::keys().into_iter().chain([VAL]).collect()).example("let b = load_drybean(); let n = b.standardize(); drybean_fpa().fit(b.head(64).map(n), #{epochs: 1})"),
    func(TR, "evaluate", "net.evaluate(ds) -> Metrics", "Accuracy, per-class precision/recall/F1 and the confusion matrix on a dataset.")
        .example("let b = load_drybean(); print(drybean_fpa().evaluate(b.head(50).map(b.standardize())))"),
    func(M, "init_formula", "net.init_formula()", "Set every weight from the deterministic formula the Python reference scripts share (nn/formula.rs), for parity tests and benchmarks.")
        .example_is("let n = ccf_fpa(); n.init_formula(); n.logits(zeros([1, 28])).shape", "[1, 2]"),
    func(Category::Tensor, "formula_input", "formula_input(shape, phase) -> Tensor", "sin(0.917·i + phase) over all elements (f32), the deterministic inputs of the reference scripts.")
        .example_is("formula_input([2], 0.0).shape", "[2]"),
    func(Category::Data, "first_n_correct", "ds.first_n_correct(net, n) -> Dataset", "The first n samples, in dataset order, that the model classifies correctly (GAX's sample choice); fewer is an error.")
        .example("let b = load_drybean(); b.head(20).first_n_correct(drybean_fpa(), 0).len()"),
];

pub fn register(r: &mut Registrar) {
    r.document(DOCS);
    register_formula(r);
    register_selection(r);
    register_zoo(r);
    register_model_methods(r);
    register_training(r);
}
