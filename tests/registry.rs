//! The function registry documents every script function, and its examples run.

mod common;
use gaxsh::front::Session;
use std::collections::BTreeSet;

/// Names rhai knows in the global namespace (our registrations), minus operators and indexers.
fn registered_names(s: &Session) -> BTreeSet<String> {
    s.engine
        .gen_fn_signatures(false)
        .into_iter()
        .filter_map(|sig| {
            let name = sig.split('(').next()?.trim().to_string();
            let name = name.strip_prefix("get$").unwrap_or(&name).to_string();
            let op = name.chars().all(|c| !c.is_alphanumeric() && c != '_');
            let internal = name.starts_with("index$")
                || name.starts_with("set$")
                || ["to_string", "to_debug"].contains(&name.as_str());
            (!op && !internal).then_some(name)
        })
        .collect()
}

#[test]
fn every_function_is_documented_and_every_entry_exists() {
    let s = Session::new();
    let registered = registered_names(&s);
    let documented: BTreeSet<String> = s.registry.names().map(str::to_string).collect();
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "registered without documentation: {undocumented:?}"
    );
    // Entries that are syntax, not functions.
    let syntax = ["operators", "comparisons", "index"];
    let phantom: Vec<_> = documented
        .iter()
        .filter(|d| !registered.contains(*d) && !syntax.contains(&d.as_str()))
        .collect();
    assert!(
        phantom.is_empty(),
        "documented but not registered: {phantom:?}"
    );
    let mut seen = BTreeSet::new();
    for d in &s.registry.docs {
        assert!(seen.insert(d.name), "documented twice: {}", d.name);
        assert!(
            !d.doc.is_empty() && !d.signature.is_empty(),
            "{} lacks doc or signature",
            d.name
        );
        assert!(!d.example.is_empty(), "{} has no example", d.name);
    }
}

#[test]
fn every_example_runs_and_prints_its_documented_value() {
    let s = Session::new();
    let mut failures = Vec::new();
    for d in &s.registry.docs {
        let (mut session, _) = common::session();
        match session.eval(d.example, d.name) {
            Ok(v) => {
                if let Some(expected) = d.result {
                    let got = session.display(&v).unwrap_or_default();
                    if got != expected {
                        failures.push(format!(
                            "{}: `{}` gave {got:?}, documented {expected:?}",
                            d.name, d.example
                        ));
                    }
                }
            }
            Err(e) => failures.push(format!("{}: `{}` failed:\n{e}", d.name, d.example)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn functions_md_is_up_to_date() {
    let s = Session::new();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FUNCTIONS.md");
    let current = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        current == s.registry.markdown(),
        "docs/FUNCTIONS.md is stale: regenerate it with `cargo run -- help --markdown > docs/FUNCTIONS.md`"
    );
}

#[test]
fn help_shows_entries_categories_and_suggestions() {
    let s = Session::new();
    assert!(
        s.registry
            .help("randn")
            .starts_with("randn(shape, dtype?) -> Tensor")
    );
    assert!(s.registry.help("math").contains("softmax"));
    assert!(s.registry.help("sofmax").contains("did you mean softmax"));
    assert!(
        s.registry
            .overview()
            .contains("tensor math and reductions [math]")
    );
}

/// Guards the one definition of each option: the default help shows for a key (when it is a
/// literal) must be what the struct's `Default` holds, for every options struct of the core.
#[test]
fn every_options_struct_shows_its_real_defaults() {
    use gaxsh::options::shown_defaults_hold as holds;
    let results = [
        ("AttrOptions", holds::<gaxsh::attr::AttrOptions>()),
        ("SweepOptions", holds::<gaxsh::ax::SweepOptions>()),
        ("EvalOptions", holds::<gaxsh::evaluate::EvalOptions>()),
        ("ToyOptions", holds::<gaxsh::gax::toy::ToyOptions>()),
        ("CoOptions", holds::<gaxsh::ax::CoOptions>()),
        ("FlagOptions", holds::<gaxsh::gap::FlagOptions>()),
        ("GaxOptions", holds::<gaxsh::gax::GaxOptions>()),
        ("ModelOptions", holds::<gaxsh::nn::arch::ModelOptions>()),
        ("TrainOptions", holds::<gaxsh::train::TrainOptions>()),
        (
            "CoPlotOptions",
            holds::<gaxsh::report::figures::CoPlotOptions>(),
        ),
        ("ReportOptions", holds::<gaxsh::report::ReportOptions>()),
        ("ChartOptions", holds::<gaxsh::plot::charts::ChartOptions>()),
        ("HeatmapSpec", holds::<gaxsh::plot::heatmap::HeatmapSpec>()),
        ("CsvOptions", holds::<gaxsh::data::csv::CsvOptions>()),
        ("SplitOptions", holds::<gaxsh::data::split::SplitOptions>()),
        (
            "StandardizeOptions",
            holds::<gaxsh::data::transform::StandardizeOptions>(),
        ),
        ("NpzOptions", holds::<gaxsh::data::npz::NpzOptions>()),
        (
            "CreditcardOptions",
            holds::<gaxsh::data::creditcard::CreditcardOptions>(),
        ),
        ("ImageOptions", holds::<gaxsh::data::images::ImageOptions>()),
        ("onnx::LoadOptions", holds::<gaxsh::onnx::LoadOptions>()),
        (
            "weights::LoadOptions",
            holds::<gaxsh::nn::weights::LoadOptions>(),
        ),
    ];
    let wrong: Vec<String> = results
        .into_iter()
        .filter_map(|(name, r)| r.err().map(|e| format!("{name}.{e}")))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
