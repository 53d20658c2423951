//! A running script session: the engine with every binding, the variables, and the `fn`
//! definitions kept across REPL lines and notebook cells.

use super::diagnostic::ScriptError;
use super::help::Registry;
use super::source_text::{receiver_before, word_before};
use crate::script::ScriptArgs;
use crate::tensor::format::format_tensor;
use rhai::{AST, Dynamic, Engine, Scope};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub use crate::script::OutputSink;

/// Builds a session; the defaults print to stdout.
pub struct SessionBuilder {
    pub output: OutputSink,
    pub args: ScriptArgs,
    pub display: Option<crate::report::log::DisplaySink>,
}

impl Default for SessionBuilder {
    fn default() -> Self {
        SessionBuilder {
            output: Arc::new(|s: &str| crate::io::say(s)),
            args: ScriptArgs::default(),
            display: None,
        }
    }
}

impl SessionBuilder {
    pub fn output(mut self, sink: OutputSink) -> Self {
        self.output = sink;
        self
    }

    pub fn args(mut self, args: ScriptArgs) -> Self {
        self.args = args;
        self
    }

    /// Show figures as they are written (the Jupyter kernel's inline plots).
    pub fn display(mut self, sink: crate::report::log::DisplaySink) -> Self {
        self.display = Some(sink);
        self
    }

    pub fn build(self) -> Session {
        let args = Arc::new(Mutex::new(self.args));
        let log: crate::report::log::SharedLog = Default::default();
        {
            let mut l = crate::report::log::lock(&log);
            l.script = args
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .script
                .clone();
            l.started = crate::report::record::now_utc();
            l.start_clock();
            l.display = self.display;
        }
        let (engine, registry) =
            super::build_engine(self.output.clone(), args.clone(), log.clone());
        let mut scope = Scope::new();
        scope.push_constant(
            "args",
            crate::script::options::args_map(&args.lock().unwrap_or_else(|p| p.into_inner())),
        );
        Session {
            engine,
            scope,
            fns: AST::empty(),
            registry,
            output: self.output,
            args,
            log,
        }
    }
}

pub struct Session {
    pub engine: Engine,
    pub scope: Scope<'static>,
    /// Every `fn` defined so far; merged into each evaluation so later lines can call them.
    fns: AST,
    pub registry: Arc<Registry>,
    pub output: OutputSink,
    pub args: Arc<Mutex<ScriptArgs>>,
    /// What the script has done, for `report()` and the kernel's inline plots.
    pub log: crate::report::log::SharedLog,
}

impl Session {
    pub fn new() -> Session {
        SessionBuilder::default().build()
    }

    /// Evaluate source text, keeping variables and function definitions for later calls.
    /// `name` is how errors refer to it (`script.rhai`, `<repl>`, `<cell 3>`).
    pub fn eval(&mut self, text: &str, name: &str) -> Result<Dynamic, ScriptError> {
        crate::interrupt::clear();
        let at_prompt = crate::report::log::lock(&self.log).script.is_empty();
        // At a prompt `_` is the last result (IPython's); errors point into what was typed.
        let rewritten = if at_prompt {
            super::source_text::rewrite_last_result(text)
        } else {
            None
        };
        let (code, rewrites) = match &rewritten {
            Some((code, at)) => {
                if !self.scope.contains(super::source_text::LAST_RESULT) {
                    self.scope
                        .push(super::source_text::LAST_RESULT, Dynamic::UNIT);
                }
                (code.as_str(), at.as_slice())
            }
            None => (text, &[][..]),
        };
        let typed = |mut e: ScriptError| {
            if let (Some(line), Some(col)) = (e.line, e.column)
                && e.source == name
            {
                e.column = Some(super::source_text::typed_column(rewrites, line, col));
                e.source_line = text.lines().nth(line - 1).map(str::to_string);
            }
            e
        };
        let mut ast = self
            .engine
            .compile_with_scope(&self.scope, code)
            .map_err(|e| typed(ScriptError::from_parse(&e, name, code)))?;
        ast.set_source(name);
        self.fns = self.fns.merge(&ast.clone_functions_only());
        let full = self.fns.merge(&ast);
        // At a prompt, keep what runs, so a report made here can be replayed (`record_in`).
        if at_prompt {
            crate::report::log::lock(&self.log).running = Some(code.to_string());
        }
        let value = self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut self.scope, &full)
            .map_err(|e| typed(ScriptError::from_eval(&e, name, code, &self.registry)));
        if at_prompt {
            let mut log = crate::report::log::lock(&self.log);
            let ran = log.running.take();
            if let (Ok(v), Some(ran)) = (&value, ran) {
                // A value becomes `_`; the replay gets it the same way where the command can be
                // wrapped in a block (it declares nothing that later commands would need).
                let declares = ["let ", "const ", "fn ", "import "]
                    .iter()
                    .any(|k| ran.contains(k));
                log.commands.push(if v.is_unit() || declares {
                    ran
                } else {
                    format!("{} = {{ {ran} }};", super::source_text::LAST_RESULT)
                });
                if !v.is_unit() {
                    self.scope
                        .set_or_push(super::source_text::LAST_RESULT, v.clone());
                }
            }
        }
        value
    }

    /// Run a script file.
    pub fn run_file(&mut self, path: &std::path::Path) -> Result<Dynamic, ScriptError> {
        let name = path.display().to_string();
        let cap = crate::script::MAX_STRING_BYTES as u64;
        let text = crate::limits::read_text_stream(path, cap).map_err(|e| ScriptError {
            message: format!("cannot read script: {e}"),
            source: name.clone(),
            line: None,
            column: None,
            source_line: None,
            notes: vec![],
            interrupted: false,
            help_shown: false,
        })?;
        // Strip a shebang line so scripts can be made executable.
        let text = if text.starts_with("#!") {
            let nl = text.find('\n').unwrap_or(text.len());
            format!("//{}", &text[2..nl]) + &text[nl..]
        } else {
            text
        };
        self.eval(&text, &name)
    }

    /// How a value is shown as a REPL or notebook result (`None` for unit).
    pub fn display(&mut self, value: &Dynamic) -> Option<String> {
        if value.is_unit() {
            return None;
        }
        if let Some(t) = value.read_lock::<crate::script::ScriptTensor>() {
            return Some(format_tensor(&t.0));
        }
        if value.is_string() {
            return Some(value.to_string());
        }
        if (value.is_map() || value.is_array())
            && let Some(text) = pretty(value, 0)
        {
            return Some(text);
        }
        // Everything else through the registered to_debug (arrays of tensors print nicely).
        let mut scope = Scope::new();
        scope.push("__value", value.clone());
        match self
            .engine
            .eval_with_scope::<String>(&mut scope, "to_debug(__value)")
        {
            Ok(s) => Some(s),
            Err(_) => Some(value.to_string()),
        }
    }

    /// IPython's help syntax, `?name` or `name?` (`??` too): the help of a function, or what a
    /// variable holds; `None` when `line` is not such a query.
    pub fn help_query(&mut self, line: &str) -> Option<String> {
        let t = line.trim();
        let name = match (t.strip_prefix('?'), t.strip_suffix('?')) {
            (Some(rest), _) => rest.trim_start_matches('?'),
            (None, Some(rest)) => rest.trim_end_matches('?'),
            (None, None) => return None,
        }
        .trim();
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
        if let Some(v) = self.scope.get_value::<Dynamic>(name) {
            let shown = self.display(&v).unwrap_or_default();
            return Some(format!("{name}: {}\n{shown}", self.describe_value(&v)));
        }
        Some(self.registry.help(name))
    }

    /// A value as an HTML table, for notebooks (beside [`Session::display`]'s text): sweeps'
    /// accuracy, gap statistics, the metric panel.
    pub fn display_html(&self, value: &Dynamic) -> Option<String> {
        if let Some(t) = value.read_lock::<crate::ax::AxTable>() {
            return Some(crate::report::accuracy_html(&t));
        }
        if let Some(g) = value.read_lock::<crate::script::ax::GapReport>() {
            return Some(crate::report::gaps_html(&g.0));
        }
        if let Some(t) = value.read_lock::<crate::evaluate::MetricTable>() {
            return Some(crate::report::metric_table_html(&t));
        }
        None
    }

    /// The variables in scope, each with what it holds as a user reads it: a tensor's shape
    /// and dtype, a dataset's size, a collection's length, a number's value.
    pub fn variables(&self) -> Vec<(String, String)> {
        self.scope
            .iter()
            .map(|(name, _, v)| (name.to_string(), self.describe_value(&v)))
            .collect()
    }

    fn describe_value(&self, v: &Dynamic) -> String {
        if let Some(t) = v.read_lock::<crate::script::ScriptTensor>() {
            let dtype = crate::tensor::format::dtype_str(t.0.dtype());
            return format!("Tensor {:?} {dtype}", t.0.dims());
        }
        if let Some(d) = v.read_lock::<crate::data::Dataset>() {
            return format!("Dataset, {} samples of {:?}", d.len(), d.sample_shape());
        }
        if let Some(a) = v.read_lock::<rhai::Array>() {
            return format!("array, {} items", a.len());
        }
        if let Some(m) = v.read_lock::<rhai::Map>() {
            let keys: Vec<&str> = m.keys().map(|k| k.as_str()).take(8).collect();
            let more = if m.len() > 8 { ", …" } else { "" };
            return format!("map {{{}{more}}}", keys.join(", "));
        }
        let ty = self.engine.map_type_name(v.type_name());
        match ty {
            "i64" => format!("int = {v}"),
            "f64" => format!("float = {v}"),
            "bool" => format!("bool = {v}"),
            "string" | "ImmutableString" => {
                format!("string, {} chars", v.to_string().chars().count())
            }
            other => other.rsplit("::").next().unwrap_or(other).to_string(),
        }
    }

    /// Names of the functions defined by the user so far.
    pub fn user_functions(&self) -> Vec<String> {
        self.fns
            .iter_functions()
            .map(|f| f.name.to_string())
            .collect()
    }

    /// What Tab can offer now (see [`CompletionIndex`]).
    pub fn completion_index(&self) -> CompletionIndex {
        let mut words: Vec<String> = self
            .registry
            .docs
            .iter()
            .map(|d| d.name.to_string())
            .filter(|n| n.chars().all(|c| c.is_alphanumeric() || c == '_'))
            .collect();
        words.extend(self.scope.iter().map(|(n, _, _)| n.to_string()));
        words.extend(self.user_functions());
        words.extend(KEYWORDS.iter().map(|k| k.to_string()));
        let members = self
            .scope
            .iter()
            .filter_map(|(name, _, value)| {
                let names: Vec<String> = match value.read_lock::<rhai::Map>() {
                    Some(m) => m.keys().map(|k| k.to_string()).collect(),
                    None => {
                        let ty = self.engine.map_type_name(value.type_name());
                        self.registry.members.get(ty)?.iter().cloned().collect()
                    }
                };
                Some((name.to_string(), names))
            })
            .collect();
        let mut all_members: Vec<String> =
            self.registry.members.values().flatten().cloned().collect();
        all_members.sort();
        all_members.dedup();
        words.sort();
        words.dedup();
        CompletionIndex {
            words,
            members,
            all_members,
        }
    }
}

/// Maps and arrays as people read them: floats to at most four decimals, a long map one key per line
/// (nested ones indented). `None` when the value holds something else (a tensor, a model):
/// those print through their own `to_debug`.
fn pretty(value: &Dynamic, indent: usize) -> Option<String> {
    const WIDTH: usize = 72;
    if let Ok(f) = value.as_float() {
        return Some(if f.fract() == 0.0 && f.abs() < 1e15 {
            format!("{f:.1}")
        } else if f != 0.0 && (f.abs() < 1e-3 || f.abs() >= 1e6) {
            format!("{f:.4e}")
        } else {
            // Four decimals at most, trailing zeros dropped (0.1 stays 0.1).
            let t = format!("{f:.4}");
            let t = t.trim_end_matches('0');
            if t.ends_with('.') {
                format!("{t}0")
            } else {
                t.to_string()
            }
        });
    }
    if value.is_int() || value.is_bool() || value.is_unit() {
        return Some(value.to_string());
    }
    if value.is_string() {
        return Some(format!("{:?}", value.to_string()));
    }
    let pad = "  ".repeat(indent + 1);
    let (items, open, close): (Vec<String>, &str, &str) =
        if let Some(m) = value.read_lock::<rhai::Map>() {
            let items = m
                .iter()
                .map(|(k, v)| pretty(v, indent + 1).map(|v| format!("{k}: {v}")))
                .collect::<Option<_>>()?;
            (items, "#{", "}")
        } else if let Some(a) = value.read_lock::<rhai::Array>() {
            let items = a
                .iter()
                .map(|v| pretty(v, indent + 1))
                .collect::<Option<_>>()?;
            (items, "[", "]")
        } else {
            return None;
        };
    let one_line = format!("{open}{}{close}", items.join(", "));
    let scalars = value
        .read_lock::<rhai::Array>()
        .is_some_and(|a| a.iter().all(|v| !v.is_map() && !v.is_array()));
    if scalars || (one_line.len() + 2 * indent <= WIDTH && !one_line.contains('\n')) {
        return Some(one_line);
    }
    let end = "  ".repeat(indent);
    Some(format!(
        "{open}\n{pad}{}\n{end}{close}",
        items.join(&format!(",\n{pad}"))
    ))
}

/// Words Tab offers at the start of a name besides functions and variables.
const KEYWORDS: [&str; 12] = [
    "let", "const", "fn", "for", "while", "loop", "if", "else", "return", "import", "true", "false",
];

/// What Tab can offer, taken from a session between evaluations (the REPL's line editor reads
/// it while the session waits; the kernel takes one per request).
#[derive(Clone, Debug, Default)]
pub struct CompletionIndex {
    /// Functions, variables, user functions and keywords.
    words: Vec<String>,
    /// Per variable, what may follow `name.`: a map's keys, or the methods and properties of
    /// the value's type.
    members: BTreeMap<String, Vec<String>>,
    /// Every method and property, for a receiver that is not a variable (`f(x).`).
    all_members: Vec<String>,
}

impl CompletionIndex {
    /// The candidates at byte `pos` of `line` and where the word they replace starts: after
    /// `name.`, what that value offers; otherwise every name.
    pub fn complete(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let (start, word, after_dot) = word_before(line, pos);
        let pool = match after_dot {
            false => &self.words,
            true => match receiver_before(line, start).and_then(|r| self.members.get(r)) {
                Some(members) => members,
                None => &self.all_members,
            },
        };
        let out = pool
            .iter()
            .filter(|n| n.starts_with(word))
            .cloned()
            .collect();
        (start, out)
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}
