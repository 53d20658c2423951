//! Script bindings: datasets, splits and transforms.

use super::convert::ScriptTensor as T;
use super::convert::*;
use super::registry::{Category::Data as Cat, FnDoc, Registrar, func, options_fn, prop};
use crate::data::csv::{CsvOptions, creditcard_options, load_csv, load_drybean};
use crate::data::images::{ImageOptions, image_folder, image_list, load_image, synset_names};
use crate::data::npz::NpzOptions;
use crate::data::split::SplitOptions;
use crate::data::transform::{StandardizeOptions, Transform};
use crate::data::{Dataset, creditcard, npz, split};
use crate::options::{Key, Options, only};
use rhai::serde::to_dynamic;
use rhai::{Array, Dynamic, Map};
use std::path::Path;

/// The image options each loader takes.
const IMAGE_KEYS: &[&str] = &["size", "channels", "gray"];
const FOLDER_KEYS: &[&str] = &["size", "channels", "gray", "classes", "workers"];
const LIST_KEYS: &[&str] = &["size", "channels", "gray", "synsets", "workers"];

fn image_keys(names: &[&str]) -> Vec<Key> {
    only(ImageOptions::KEYS, names)
}

fn splits_map(s: split::Splits) -> Map {
    let mut m = Map::new();
    m.insert("train".into(), Dynamic::from(s.train));
    m.insert("val".into(), Dynamic::from(s.val));
    m.insert("test".into(), Dynamic::from(s.test));
    m
}

fn dataset_getters(r: &mut Registrar) {
    r.printable("Dataset", |d: &Dataset| format!("{d:?}"));
    r.register_fn("len", |d: &mut Dataset| d.len() as i64);
    r.register_get("x", |d: &mut Dataset| d.x().map(T).rh());
    r.register_get("y", |d: &mut Dataset| d.labels().map(T).rh());
    r.register_get("classes", |d: &mut Dataset| strings(&d.class_names));
    r.register_get("features", |d: &mut Dataset| strings(&d.feature_names));
    r.register_get("ids", |d: &mut Dataset| strings(&d.ids));
    r.register_get("provenance", |d: &mut Dataset| to_dynamic(&d.provenance));
    r.register_fn("class_counts", |d: &mut Dataset| {
        to_dynamic(d.class_counts())
    });
    r.register_fn("batch", |d: &mut Dataset, s: i64, l: i64| {
        let (s, l) = (count(s, "batch: start")?, count(l, "batch: len")?);
        d.batch(s, l).map(T).rh()
    });
}

fn dataset_ops(r: &mut Registrar) {
    options_fn!(r, "split_mod3", fn(d: &mut Dataset; m) -> RResult<Map> {
        let o: SplitOptions = read_options("split_mod3", &m)?;
        split::split_mod3(d, o.within_class).map(splits_map).rh()
    });
    options_fn!(r, "standardize", fn(d: &mut Dataset; m) -> RResult<Transform> {
            let o: StandardizeOptions = read_options("standardize", &m)?;
            Transform::standardize_from(&d.raw_x().rh()?, &d.feature_names, o.offset).rh()
        }
    );
    r.register_fn("map", |d: &mut Dataset, t: Transform| d.with_transform(t));
    // A negative count is refused, not read as zero.
    r.register_fn("head", |d: &mut Dataset, n: i64| -> RResult<Dataset> {
        d.head(count(n, "head: n")?).rh()
    });
    r.register_fn("skip", |d: &mut Dataset, n: i64| -> RResult<Dataset> {
        d.skip(count(n, "skip: n")?).rh()
    });
    r.register_fn(
        "subset",
        |d: &mut Dataset, idx: Array| -> RResult<Dataset> {
            let i: Vec<usize> = idx
                .iter()
                .map(|x| index(x, "subset"))
                .collect::<RResult<_>>()?;
            d.subset(&i, &format!("subset of {} samples", i.len())).rh()
        },
    );
    r.register_fn("shuffle", |d: &mut Dataset| split::shuffle(d).rh());
    r.register_fn("dataset", |x: T, labels: Dynamic, classes: Dynamic| {
        let y = indices(&labels, "dataset: labels")?;
        let names = match classes.clone().try_cast::<Array>() {
            Some(a) => texts(&a),
            None => crate::data::numbered_classes(index(&classes, "dataset: classes")?).rh()?,
        };
        Dataset::in_memory(x.0, y, names, "tensors from a script").rh()
    });
    r.register_fn("concat", |a: Array| -> RResult<Dataset> {
        let ds: Vec<Dataset> = a
            .iter()
            .map(|d| cast(d, "concat: expected datasets"))
            .collect::<RResult<_>>()?;
        Dataset::concat(&ds.iter().collect::<Vec<_>>(), "concatenated").rh()
    });
}

fn transforms(r: &mut Registrar) {
    r.printable("Transform", |t: &Transform| {
        format!("Transform({})", t.describe())
    });
    r.register_fn(
        "clip_scale",
        |lo: Dynamic, hi: Dynamic, s: Dynamic, off: Dynamic| {
            let n = |d: &Dynamic| number(d, "clip_scale");
            Transform::clip_scale(n(&lo)?, n(&hi)?, n(&s)?, n(&off)?).rh()
        },
    );
    r.register_fn(
        "normalize",
        |m: Dynamic, s: Dynamic| -> RResult<Transform> {
            Transform::normalize(floats(&m, "normalize")?, floats(&s, "normalize")?).rh()
        },
    );
    r.register_fn("apply", |t: &mut Transform, x: T| -> RResult<T> {
        t.apply(&x.0.to_dtype(candle_core::DType::F64).rh()?)
            .map(T)
            .rh()
    });
}

fn loaders(r: &mut Registrar) {
    r.register_fn("load_csv", |path: &str, m: Map| -> RResult<Dataset> {
        load_csv(Path::new(path), &read_options("load_csv", &m)?).rh()
    });
    r.register_fn("load_drybean", || load_drybean(None).rh());
    r.register_fn("load_drybean", |p: &str| {
        load_drybean(Some(Path::new(p))).rh()
    });
    r.register_fn("load_creditcard", |p: &str| {
        load_csv(Path::new(p), &creditcard_options()).rh()
    });
    options_fn!(r, "load_creditcard_split", fn(; m) -> RResult<Map> {
        let o = read_options("load_creditcard_split", &m)?;
        creditcard::splits(&o).map(splits_map).rh()
    });
    options_fn!(r, "load_npz", fn(p: &str, s: &str; m) -> RResult<Dataset> {
        let o: NpzOptions = read_options("load_npz", &m)?;
        npz::load_npz(Path::new(p), s, o.classes).rh()
    });
    options_fn!(r, "image_folder", fn(root: &str; m) -> RResult<Dataset> {
        let o: ImageOptions = read_options_among("image_folder", &image_keys(FOLDER_KEYS), &m)?;
        image_folder(Path::new(root), &o.folder(1)).rh()
    });
    options_fn!(r, "image_list", fn(list: &str; m) -> RResult<Dataset> {
        let o: ImageOptions = read_options_among("image_list", &image_keys(LIST_KEYS), &m)?;
        let names = o.synsets.as_deref().map(synset_names).transpose().rh()?;
        image_list(Path::new(list), names, &o.folder(3)).rh()
    });
    options_fn!(r, "load_image", fn(p: &str; m) -> RResult<T> {
        let o: ImageOptions = read_options_among("load_image", &image_keys(IMAGE_KEYS), &m)?;
        load_image(Path::new(p), &o.spec(3)).map(T).rh()
    });
    r.register_fn("cwd", || crate::io::current_dir().rh());
    r.register_fn("run_dir", |name: &str| -> RResult<String> {
        Ok(crate::locate::run_dir(name).rh()?.display().to_string())
    });
}

/// What the functions of this file do, as `help` and docs/FUNCTIONS.md show them.
#[rustfmt::skip]
const DOCS: &[FnDoc] = &[
    prop(Cat, "x", "ds.x -> Tensor", "All samples as one tensor, transforms applied (decodes every image of a folder).")
        .example_is("load_drybean().x.shape", "[13611, 16]"),
    prop(Cat, "y", "ds.y -> Tensor", "The class index of every sample (u32).")
        .example_is("load_drybean().y.max().item()", "6.0"),
    prop(Cat, "features", "ds.features -> array", "Feature (column) names of a table.")
        .example_is("load_drybean().features.len()", "16"),
    prop(Cat, "ids", "ds.ids -> array", "A stable id per sample: original row number or file path.")
        .example_is("load_drybean().ids[2]", "row 2"),
    prop(Cat, "provenance", "ds.provenance -> map", "Source, processing steps and caveats (recorded in run records).")
        .example("load_drybean().provenance.source"),
    func(Cat, "class_counts", "ds.class_counts() -> array", "Samples per class, in class order.")
        .example_is("load_drybean().class_counts()[2]", "522"),
    func(Cat, "batch", "ds.batch(start, len) -> Tensor", "Samples start..start+len (decoded on demand for image folders).")
        .example_is("load_drybean().batch(0, 4).shape", "[4, 16]"),
    func(Cat, "split_mod3", "ds.split_mod3(#{within_class}) -> #{train, val, test}", "The paper's split: index mod 3 = 0/1/2. Global row index by default (as the authors' code); within_class: true counts per class (the paper's wording).")
        .options(|| SplitOptions::KEYS.to_vec()).example_is("load_drybean().split_mod3().test.len()", "4537"),
    func(Cat, "standardize", "ds.standardize(#{offset}) -> Transform", "Per-feature (x - mean)/std + offset (offset 0.5 as the paper), statistics (population std) from this dataset.")
        .options(|| StandardizeOptions::KEYS.to_vec()).example("let beans = load_drybean(); beans.map(beans.standardize())"),
    func(Cat, "map", "ds.map(transform) -> Dataset", "The same samples with a transform applied to every batch.")
        .example("load_creditcard_split().test.map(clip_scale(-3, 3, 3, 0.5))"),
    func(Cat, "head", "ds.head(n) -> Dataset", "The first n samples.")
        .example_is("load_drybean().head(5).len()", "5"),
    func(Cat, "skip", "ds.skip(n) -> Dataset", "All samples but the first n.")
        .example_is("load_drybean().skip(13600).len()", "11"),
    func(Cat, "subset", "ds.subset(indices) -> Dataset", "The samples at the given indices, in that order.")
        .example_is("load_drybean().subset([0, 5, 9]).ids", "[\"row 0\", \"row 5\", \"row 9\"]"),
    func(Cat, "shuffle", "ds.shuffle() -> Dataset", "The samples in a random order from the seeded generator.")
        .example("seed(1); load_drybean().head(10).shuffle().ids"),
    func(Cat, "dataset", "dataset(x, labels, classes) -> Dataset", "Samples already in memory as a dataset (for ax_sweep, evaluate_heatmaps, fit): x holds one sample per row, labels one class index per sample (tensor or array), classes the class names (array of strings) or their number.")
        .example_is("dataset(zeros([3, 2]), [0, 1, 1], [\"no\", \"yes\"]).class_counts()", "[1, 2]"),
    func(Cat, "concat", "concat(datasets) -> Dataset", "Join datasets with the same classes and sample shape.")
        .example_is("let b = load_drybean(); concat([b.head(2), b.head(3)]).len()", "5"),
    func(Cat, "clip_scale", "clip_scale(lo, hi, scale, offset) -> Transform", "clip(x, lo, hi)/scale + offset; the paper's credit-card scaling is clip_scale(-3, 3, 3, 0.5).")
        .example_is("clip_scale(-3, 3, 3, 0.5)", "Transform(clip(x, -3, 3)/3 + 0.5)"),
    func(Cat, "apply", "transform.apply(x) -> Tensor", "Apply a transform to a tensor of samples.")
        .example_is("clip_scale(-3, 3, 3, 0.5).apply(tensor([[6.0, 0.0]]))", "tensor([[1.5000, 0.5000]], dtype=f64)"),
    func(Cat, "load_csv", "load_csv(path, #{label, features, drop, classes, class_names, allow_nonfinite}) -> Dataset", "A table with a header: label column by name, features by name (default: all others), classes in the given order (default: sorted).")
        .options(|| CsvOptions::KEYS.to_vec()).example_is("load_csv(\"data/drybean/Dry_Bean_Dataset.csv\", #{label: \"Class\"}).classes[0]", "BARBUNYA"),
    func(Cat, "load_drybean", "load_drybean(path?) -> Dataset", "The UCI Dry Bean table (bundled by default) with the paper's class order SEKER…SIRA.")
        .example_is("load_drybean().classes", "[\"SEKER\", \"BARBUNYA\", \"BOMBAY\", \"CALI\", \"DERMASON\", \"HOROZ\", \"SIRA\"]"),
    func(Cat, "load_creditcard", "load_creditcard(path) -> Dataset", "A credit-card table in Kaggle's layout: V1..V28 (Time, Amount dropped), classes normal/fraud.")
        .example_is("load_creditcard(\"data/creditcard/creditcard_all492frauds.csv\").len()", "492"),
    func(Cat, "load_creditcard_split", "load_creditcard_split(#{data, scale}) -> #{train, val, test}", "The paper's credit-card sets with cross-projective augmentation (c = 5, d = 0.95); exact from the full Kaggle file (data), else the bundled substitute; scaled by clip_scale(-3, 3, 3, 0.5) unless scale: false.")
        .options(|| creditcard::CreditcardOptions::KEYS.to_vec()).example_is("load_creditcard_split().train.class_counts()", "[2499, 2460]"),
    func(Cat, "load_npz", "load_npz(path, split, #{classes}) -> Dataset", "Images from a MedMNIST-style .npz (<split>_images, <split>_labels) as (N, C, H, W) in [0, 1].")
        .options(|| NpzOptions::KEYS.to_vec()).example_is("load_npz(\"data/pneumoniamnist/pneumoniamnist.npz\", \"test\").len()", "624"),
    func(Cat, "image_folder", "image_folder(root, #{size, channels, gray, classes, workers}) -> Dataset", "<root>/<Label>/[images/]*.png|jpg|jpeg|bmp, files sorted bytewise; decoded batch by batch (bounded memory); size resizes with PyTorch's bilinear.")
        .options(|| image_keys(FOLDER_KEYS)).example_is("image_folder(\"data/chest_xray/test\", #{size: 64, channels: 1}).class_counts()", "[60, 60]"),
    func(Cat, "load_image", "load_image(path, #{size, channels, gray}) -> Tensor", "One image as a (1, C, H, W) tensor in [0, 1] (RGB by default).")
        .options(|| image_keys(IMAGE_KEYS)).example_is("load_image(\"data/images/owl.jpg\", #{size: 32}).shape", "[1, 3, 32, 32]"),
    func(super::registry::Category::Session, "cwd", "cwd() -> string", "The working directory.")
        .example("cwd()"),
    func(Cat, "image_list", "image_list(list_file, #{size, channels, synsets, workers}) -> Dataset", "ImageNet-style list of 'path, label' lines (paths relative to the list); synsets names the classes (synset_words.txt).")
        .options(|| image_keys(LIST_KEYS)).example("let p = temp_path(\"list.txt\"); write_text(p, `${cwd()}/data/images/owl.jpg, 24`); image_list(p, #{size: 224, channels: 3}).len()"),
    func(super::registry::Category::Session, "run_dir", "run_dir(name) -> string", "The folder a run named `name` writes to by default: $GAXSH_RUNS/name, else ~/gaxsh-runs/name (outside any checkout). The scripts' --out defaults to it.")
        .example("run_dir(\"drybean\")"),
];

pub fn register(r: &mut Registrar) {
    r.document(DOCS);
    dataset_getters(r);
    dataset_ops(r);
    transforms(r);
    loaders(r);
}
