//! The one documented registry of script functions.
//!
//! Every function a script can call is registered once, next to its documentation: name,
//! signature, one-line doc, an example (with the value it prints, where that is fixed) and a
//! category. The registry drives `help()`, `help("name")`, completion in the REPL and in Jupyter,
//! and the generated `docs/FUNCTIONS.md`. Tests check that every function rhai knows has an entry
//! here, that every entry names a registered function, and that every example runs.

use crate::options::Key;
use rhai::Engine;

/// Where a function is listed in `help()`: one row per category, its `help("key")` name and
/// its title; the order here is the order shown.
macro_rules! categories {
    ($($variant:ident $key:literal $title:literal,)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Category {
            $($variant,)*
        }

        impl Category {
            pub const ALL: &[Category] = &[$(Category::$variant,)*];

            pub fn key(self) -> &'static str {
                match self {
                    $(Category::$variant => $key,)*
                }
            }

            pub fn title(self) -> &'static str {
                match self {
                    $(Category::$variant => $title,)*
                }
            }
        }
    };
}

categories! {
    Tensor "tensor" "tensors: creation, conversion, operators",
    TensorMath "math" "tensor math and reductions",
    TensorShape "shape" "tensor shapes and indexing",
    Data "data" "datasets, splits and transforms",
    Models "models" "models and weights",
    Training "training" "training and evaluation",
    Attribution "attribution" "attribution methods (heatmaps)",
    Ax "ax" "AX process, CO score, gap statistics",
    Gax "gax" "GAX: optimised heatmaps",
    Evaluate "evaluate" "CO beside the standard explanation metrics",
    Plots "plots" "plots",
    Report "report" "reports and run records",
    Session "session" "session, help, files",
}

/// How a name is used from a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `name(args)` or `x.name(args)`.
    Function,
    /// `x.name`, a getter.
    Property,
}

/// One documented script function: a row of the `DOCS` table each binding file keeps beside the
/// functions it registers (`func(…)` or `prop(…)`, then its options and example).
#[derive(Clone, Copy, Debug)]
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
    /// The keys of its options map, from the core options struct it reads (`crate::options`),
    /// so the docs cannot drift from what the function reads.
    pub options: fn() -> Vec<Key>,
}

/// A function: `name(args)` or `x.name(args)`.
pub const fn func(
    category: Category,
    name: &'static str,
    signature: &'static str,
    doc: &'static str,
) -> FnDoc {
    FnDoc {
        name,
        category,
        kind: Kind::Function,
        signature,
        doc,
        example: "",
        result: None,
        options: Vec::new,
    }
}

/// A getter: `x.name`.
pub const fn prop(
    category: Category,
    name: &'static str,
    signature: &'static str,
    doc: &'static str,
) -> FnDoc {
    FnDoc {
        kind: Kind::Property,
        ..func(category, name, signature, doc)
    }
}

impl FnDoc {
    /// The keys its options map takes.
    pub const fn options(self, keys: fn() -> Vec<Key>) -> FnDoc {
        FnDoc {
            options: keys,
            ..self
        }
    }

    /// An example whose printed value is not fixed (random, a path, a plot).
    pub const fn example(self, example: &'static str) -> FnDoc {
        FnDoc { example, ..self }
    }

    /// An example and the text its value must print as.
    pub const fn example_is(self, example: &'static str, result: &'static str) -> FnDoc {
        FnDoc {
            example,
            result: Some(result),
            ..self
        }
    }
}

/// Where the bindings register: the engine, the documentation and the session's run log.
pub struct Registrar<'a> {
    pub engine: &'a mut Engine,
    pub docs: &'a mut Vec<FnDoc>,
    /// The session's run log, for bindings whose results belong in the report.
    pub log: crate::report::log::SharedLog,
}

/// Bindings register with the engine through the registrar: `r.register_fn(…)`.
impl std::ops::Deref for Registrar<'_> {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        self.engine
    }
}

impl std::ops::DerefMut for Registrar<'_> {
    fn deref_mut(&mut self) -> &mut Engine {
        self.engine
    }
}

impl Registrar<'_> {
    /// A binding file's documentation table.
    pub fn document(&mut self, docs: &[FnDoc]) {
        self.docs.extend_from_slice(docs);
    }

    /// A script type under its script name, printed (`print`, the prompt, `${x}`) by `show`.
    pub fn printable<V: Clone + Send + Sync + 'static>(
        &mut self,
        name: &str,
        show: fn(&V) -> String,
    ) {
        self.engine.register_type_with_name::<V>(name);
        self.engine
            .register_fn("to_string", move |v: &mut V| show(v));
        self.engine
            .register_fn("to_debug", move |v: &mut V| show(v));
    }
}

/// `name(args…, #{options})` and `name(args…)`, the same function with its options map left
/// out: `options_fn!(r, "name", fn(a: A, b: B; m) -> R { … m … })` registers both, `m` the map
/// (empty when the script leaves it out).
macro_rules! options_fn {
    ($r:expr, $name:expr, fn($($arg:ident: $ty:ty),*; $m:ident) -> $ret:ty $body:block) => {{
        let with = move |$($arg: $ty,)* $m: rhai::Map| -> $ret { $body };
        let without = with.clone();
        $r.register_fn($name, move |$($arg: $ty),*| without($($arg,)* rhai::Map::new()));
        $r.register_fn($name, with);
    }};
}
pub(crate) use options_fn;
