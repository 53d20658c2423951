//! A running script session: the engine with every binding, the variables, and the `fn`
//! definitions kept across REPL lines and notebook cells.

use super::diagnostic::ScriptError;
use super::options::ScriptArgs;
use super::registry::Registry;
use crate::tensor::format::format_tensor;
use rhai::{AST, Dynamic, Engine, Scope};
use std::sync::{Arc, Mutex};

pub use super::output::OutputSink;

/// Builds a session; the defaults print to stdout.
pub struct SessionBuilder {
    pub output: OutputSink,
    pub args: ScriptArgs,
    pub display: Option<super::runlog::DisplaySink>,
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
    pub fn display(mut self, sink: super::runlog::DisplaySink) -> Self {
        self.display = Some(sink);
        self
    }

    pub fn build(self) -> Session {
        let args = Arc::new(Mutex::new(self.args));
        let log: super::runlog::SharedLog = Default::default();
        {
            let mut l = super::runlog::lock(&log);
            l.script = args
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .script
                .clone();
            l.started = crate::report::record::now_utc();
            l.display = self.display;
        }
        let (engine, registry) =
            super::build_engine(self.output.clone(), args.clone(), log.clone());
        let mut scope = Scope::new();
        scope.push_constant(
            "args",
            args.lock().unwrap_or_else(|p| p.into_inner()).as_map(),
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
    pub log: super::runlog::SharedLog,
}

impl Session {
    pub fn new() -> Session {
        SessionBuilder::default().build()
    }

    /// Evaluate source text, keeping variables and function definitions for later calls.
    /// `name` is how errors refer to it (`script.rhai`, `<repl>`, `<cell 3>`).
    pub fn eval(&mut self, text: &str, name: &str) -> Result<Dynamic, ScriptError> {
        crate::interrupt::clear();
        let mut ast = self
            .engine
            .compile_with_scope(&self.scope, text)
            .map_err(|e| ScriptError::from_parse(&e, name, text))?;
        ast.set_source(name);
        self.fns = self.fns.merge(&ast.clone_functions_only());
        let full = self.fns.merge(&ast);
        self.engine
            .eval_ast_with_scope::<Dynamic>(&mut self.scope, &full)
            .map_err(|e| ScriptError::from_eval(&e, name, text, &self.registry))
    }

    /// Run a script file.
    pub fn run_file(&mut self, path: &std::path::Path) -> Result<Dynamic, ScriptError> {
        let name = path.display().to_string();
        let cap = super::MAX_STRING_BYTES as u64;
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
        if let Some(t) = value.read_lock::<super::convert::ScriptTensor>() {
            return Some(format_tensor(&t.0));
        }
        if value.is_string() {
            return Some(value.to_string());
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

    /// Names of the variables in scope.
    pub fn variables(&self) -> Vec<(String, String)> {
        self.scope
            .iter()
            .map(|(name, _, v)| {
                (
                    name.to_string(),
                    v.type_name().rsplit("::").next().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// Names of the functions defined by the user so far.
    pub fn user_functions(&self) -> Vec<String> {
        self.fns
            .iter_functions()
            .map(|f| f.name.to_string())
            .collect()
    }

    /// Completion candidates for a prefix: registry functions, variables, user functions; after
    /// a `.`, methods only.
    pub fn completions(&self, prefix: &str, after_dot: bool) -> Vec<String> {
        let mut out: Vec<String> = self
            .registry
            .docs
            .iter()
            .filter(|d| {
                d.name.starts_with(prefix)
                    && d.name.chars().all(|c| c.is_alphanumeric() || c == '_')
            })
            .map(|d| d.name.to_string())
            .collect();
        if !after_dot {
            out.extend(
                self.scope
                    .iter()
                    .map(|(n, _, _)| n.to_string())
                    .filter(|n| n.starts_with(prefix)),
            );
            out.extend(
                self.user_functions()
                    .into_iter()
                    .filter(|n| n.starts_with(prefix)),
            );
            for kw in [
                "let", "const", "fn", "for", "while", "loop", "if", "else", "return", "import",
                "true", "false",
            ] {
                if kw.starts_with(prefix) {
                    out.push(kw.to_string());
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}
