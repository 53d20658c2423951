//! The one documented registry of script functions.
//!
//! Every function a script can call is registered once, next to its documentation: name,
//! signature, one-line doc, an example (with the value it prints, where that is fixed) and a
//! category. The registry drives `help()`, `help("name")`, completion in the REPL and in Jupyter,
//! and the generated `docs/FUNCTIONS.md`. Tests check that every function rhai knows has an entry
//! here, that every entry names a registered function, and that every example runs.

use rhai::Engine;
use std::collections::{BTreeMap, BTreeSet};

/// Where a function is listed in `help()`; the order here is the order shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Tensor,
    TensorMath,
    TensorShape,
    Data,
    Models,
    Training,
    Attribution,
    Ax,
    Gax,
    Evaluate,
    Plots,
    Report,
    Session,
}

impl Category {
    pub const ALL: [Category; 13] = [
        Category::Tensor,
        Category::TensorMath,
        Category::TensorShape,
        Category::Data,
        Category::Models,
        Category::Training,
        Category::Attribution,
        Category::Ax,
        Category::Gax,
        Category::Evaluate,
        Category::Plots,
        Category::Report,
        Category::Session,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Category::Tensor => "tensors: creation, conversion, operators",
            Category::TensorMath => "tensor math and reductions",
            Category::TensorShape => "tensor shapes and indexing",
            Category::Data => "datasets, splits and transforms",
            Category::Models => "models and weights",
            Category::Training => "training and evaluation",
            Category::Attribution => "attribution methods (heatmaps)",
            Category::Ax => "AX process, CO score, gap statistics",
            Category::Gax => "GAX: optimised heatmaps",
            Category::Evaluate => "CO beside the standard explanation metrics",
            Category::Plots => "plots",
            Category::Report => "reports and run records",
            Category::Session => "session, help, files",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Category::Tensor => "tensor",
            Category::TensorMath => "math",
            Category::TensorShape => "shape",
            Category::Data => "data",
            Category::Models => "models",
            Category::Training => "training",
            Category::Attribution => "attribution",
            Category::Ax => "ax",
            Category::Gax => "gax",
            Category::Evaluate => "evaluate",
            Category::Plots => "plots",
            Category::Report => "report",
            Category::Session => "session",
        }
    }
}

/// How a name is used from a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `name(args)` or `x.name(args)`.
    Function,
    /// `x.name`, a getter.
    Property,
}

/// One documented script function.
#[derive(Clone, Debug)]
pub struct FnDoc {
    pub name: &'static str,
    pub category: Category,
    pub kind: Kind,
    pub signature: &'static str,
    pub doc: &'static str,
    /// A script snippet that runs on its own (the test suite runs every one).
    pub example: &'static str,
    /// What the example's value prints as, where it is deterministic; checked by the tests.
    pub result: Option<&'static str>,
    /// The keys of its options map, from the core options struct it reads (`crate::options`).
    pub options: Vec<crate::options::Key>,
}

/// Collects documentation while the bindings register their functions with the engine.
pub struct Registrar<'a> {
    pub engine: &'a mut Engine,
    pub docs: &'a mut Vec<FnDoc>,
    /// The session's run log, for bindings whose results belong in the report.
    pub log: crate::report::log::SharedLog,
}

impl Registrar<'_> {
    /// Document a function; register its overloads with `self.engine` right after.
    pub fn doc(
        &mut self,
        category: Category,
        name: &'static str,
        signature: &'static str,
        doc: &'static str,
    ) -> DocBuilder<'_> {
        self.docs.push(FnDoc {
            name,
            category,
            kind: Kind::Function,
            signature,
            doc,
            example: "",
            result: None,
            options: Vec::new(),
        });
        DocBuilder(self.docs.last_mut().expect("just pushed"))
    }

    /// Document a getter (`x.name`).
    pub fn prop(
        &mut self,
        category: Category,
        name: &'static str,
        signature: &'static str,
        doc: &'static str,
    ) -> DocBuilder<'_> {
        let b = self.doc(category, name, signature, doc);
        b.0.kind = Kind::Property;
        b
    }
}

/// Adds the example to an entry just documented.
pub struct DocBuilder<'a>(&'a mut FnDoc);

impl DocBuilder<'_> {
    /// The keys its options map takes: the core options struct's own list, so the docs cannot
    /// drift from what the function reads.
    pub fn options(self, keys: Vec<crate::options::Key>) -> Self {
        self.0.options = keys;
        self
    }

    /// An example whose printed value is not fixed (random, a path, a plot).
    pub fn example(self, example: &'static str) {
        self.0.example = example;
    }

    /// An example and the text its value must print as.
    pub fn example_is(self, example: &'static str, result: &'static str) {
        self.0.example = example;
        self.0.result = Some(result);
    }
}

/// The documentation of the whole language, built once.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    pub docs: Vec<FnDoc>,
    /// Per script type ("Tensor", "Dataset", "Array", …), the names that may follow `value.`:
    /// every function whose first parameter has that type, and its properties.
    pub members: BTreeMap<String, BTreeSet<String>>,
}

/// [`Registry::members`] from the engine's function signatures (`name(_: &mut Type, …)`,
/// `get$prop(_: Type)`).
pub fn members_by_type(engine: &rhai::Engine) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for sig in engine.gen_fn_signatures(true) {
        let Some((name, rest)) = sig.split_once('(') else {
            continue;
        };
        let name = name.strip_prefix("get$").unwrap_or(name);
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            continue; // operators, setters, indexers
        }
        let first = rest.split([',', ')']).next().unwrap_or("");
        let Some((_, ty)) = first.split_once(':') else {
            continue;
        };
        let ty = ty.trim().trim_start_matches("&mut ").trim();
        out.entry(ty.to_string())
            .or_default()
            .insert(name.to_string());
    }
    out
}

impl Registry {
    pub fn get(&self, name: &str) -> Option<&FnDoc> {
        self.docs.iter().find(|d| d.name == name)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.docs.iter().map(|d| d.name)
    }

    /// Registered names closest to a misspelt one, best first.
    pub fn suggest(&self, name: &str) -> Vec<&'static str> {
        let mut scored: Vec<(f64, &'static str)> = self
            .names()
            .map(|n| (strsim::jaro_winkler(name, n), n))
            .filter(|(s, n)| *s > 0.8 || n.starts_with(name))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.dedup_by(|a, b| a.1 == b.1);
        scored.into_iter().take(3).map(|(_, n)| n).collect()
    }

    /// `help()`: every category with its functions.
    pub fn overview(&self) -> String {
        let mut out = String::from(
            "gaxsh functions by category (help(\"name\") or ?name for one; help(\"category\") for a list)\n",
        );
        for cat in Category::ALL {
            let names: Vec<&str> = self
                .docs
                .iter()
                .filter(|d| d.category == cat)
                .map(|d| d.name)
                .collect();
            if names.is_empty() {
                continue;
            }
            out.push_str(&format!("\n{} [{}]\n", cat.title(), cat.key()));
            out.push_str(&wrap(&names.join(", "), 78, "  "));
        }
        out
    }

    /// `help("name")`: one entry, or one category, or suggestions. A function wins over a
    /// category of the same name (`help("gax")` is the function); its entry then lists the
    /// category's other functions.
    pub fn help(&self, name: &str) -> String {
        if let Some(d) = self.get(name) {
            let mut out = format_entry(d);
            if let Some(cat) = Category::ALL.iter().find(|c| c.key() == name) {
                let others: Vec<&str> = self
                    .docs
                    .iter()
                    .filter(|o| o.category == *cat && o.name != name)
                    .map(|o| o.name)
                    .collect();
                out.push_str(&format!(
                    "\n\nalso in [{}] ({}):\n{}",
                    cat.key(),
                    cat.title(),
                    wrap(&others.join(", "), 78, "  ").trim_end()
                ));
            }
            return out;
        }
        if let Some(cat) = Category::ALL.iter().find(|c| c.key() == name) {
            let mut out = format!("{}\n", cat.title());
            for d in self.docs.iter().filter(|d| d.category == *cat) {
                out.push_str(&format!("  {:<28} {}\n", d.signature, d.doc));
            }
            return out;
        }
        match self.get(name) {
            Some(d) => format_entry(d),
            None => {
                let close = self.suggest(name);
                if close.is_empty() {
                    format!("no function '{name}'; help() lists them all")
                } else {
                    format!("no function '{name}'; did you mean {}?", close.join(", "))
                }
            }
        }
    }

    /// `docs/FUNCTIONS.md`, generated from the registry.
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "# gaxsh script functions\n\n\
             Generated from the function registry by `gaxsh help --markdown`; do not edit by hand\n\
             (a test fails when this file and the registry disagree).\n",
        );
        for cat in Category::ALL {
            let docs: Vec<&FnDoc> = self.docs.iter().filter(|d| d.category == cat).collect();
            if docs.is_empty() {
                continue;
            }
            out.push_str(&format!("\n## {}\n\n", capitalise(cat.title())));
            out.push_str("| function | what it does | example |\n|---|---|---|\n");
            for d in docs {
                let example = if d.example.is_empty() {
                    String::new()
                } else {
                    match d.result {
                        Some(r) => format!("`{}` → `{}`", md_cell(d.example), md_cell(r)),
                        None => format!("`{}`", md_cell(d.example)),
                    }
                };
                let mut what = md_cell(d.doc);
                for line in crate::options::describe(&d.options) {
                    what.push_str(&format!("<br>• {}", md_cell(&line)));
                }
                out.push_str(&format!(
                    "| `{}` | {} | {} |\n",
                    md_cell(d.signature),
                    what,
                    example
                ));
            }
        }
        out
    }
}

fn format_entry(d: &FnDoc) -> String {
    let mut out = format!("{}\n  {}\n  [{}]", d.signature, d.doc, d.category.key());
    if !d.options.is_empty() {
        out.push_str("\n  options:");
        for line in crate::options::describe(&d.options) {
            out.push_str(&format!("\n    {line}"));
        }
    }
    if !d.example.is_empty() {
        out.push_str(&format!("\n  example: {}", d.example));
        if let Some(r) = d.result {
            out.push_str(&format!("\n        => {r}"));
        }
    }
    out
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(indent);
    for word in text.split(' ') {
        if line.len() + word.len() + 1 > width && !line.trim().is_empty() {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(indent);
        }
        line.push_str(word);
        line.push(' ');
    }
    if !line.trim().is_empty() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
