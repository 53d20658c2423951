//! The documentation of the whole language as people read it: `help()`, `help("name")`, `?name`,
//! did-you-mean for a misspelt function, what may follow `value.`, and the generated
//! `docs/FUNCTIONS.md` — all from the [`FnDoc`] entries the bindings register.

use crate::script::registry::{Category, FnDoc};
use rhai::Engine;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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
pub fn members_by_type(engine: &Engine) -> BTreeMap<String, BTreeSet<String>> {
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
        for &cat in Category::ALL {
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
        for &cat in Category::ALL {
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
                for line in crate::options::describe(&(d.options)()) {
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
    let options = (d.options)();
    if !options.is_empty() {
        out.push_str("\n  options:");
        for line in crate::options::describe(&options) {
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

/// `help()`, `help("name")`, `help(function)`: registered once the registry is complete, since
/// it shows every entry (its own doc entry is in `script::session_fns`).
pub fn register_help(engine: &mut Engine, reg: Arc<Registry>, output: crate::script::OutputSink) {
    let (r1, o1) = (reg.clone(), output.clone());
    engine.register_fn("help", move || o1(r1.overview().trim_end()));
    let (r2, o2) = (reg.clone(), output.clone());
    engine.register_fn("help", move |name: &str| o2(&r2.help(name)));
    engine.register_fn("help", move |f: rhai::FnPtr| output(&reg.help(f.fn_name())));
}
