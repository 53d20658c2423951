//! Script errors as people read them: the message, `file:line:col`, the source line and a caret,
//! and for a misspelt function the registered names closest to it.

use super::help::Registry;
use crate::script::options::HelpShown;
use rhai::{EvalAltResult, ParseError, Position};
use std::fmt;

/// An error in a script, ready to show.
#[derive(Clone, Debug)]
pub struct ScriptError {
    pub message: String,
    /// The source name (a file path, `<repl>`, `<cell 3>`, `<-e>`).
    pub source: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The text of the offending line, where known.
    pub source_line: Option<String>,
    /// Extra lines: suggestions, the call chain.
    pub notes: Vec<String>,
    /// The script was stopped by Ctrl-C / a kernel interrupt.
    pub interrupted: bool,
    /// The script stopped after printing its `--help` (not a failure).
    pub help_shown: bool,
}

impl ScriptError {
    pub fn from_parse(e: &ParseError, source_name: &str, text: &str) -> Self {
        let mut err = ScriptError::at(
            format!("syntax error: {}", e.err_type()),
            source_name,
            e.position(),
            text,
        );
        err.notes.clear();
        err
    }

    pub fn from_eval(e: &EvalAltResult, source_name: &str, text: &str, reg: &Registry) -> Self {
        // Descend through function-call wrappers to the error that actually happened, noting
        // the calls on the way. A function defined in an imported module has that module as
        // its source: positions inside it are lines of the module, not of the script.
        let mut notes = Vec::new();
        let mut cur = e;
        let mut outer_pos = e.position();
        let mut outer_source = source_name.to_string();
        let mut current = source_name.to_string();
        loop {
            match cur {
                EvalAltResult::ErrorInFunctionCall(name, src, inner, pos) => {
                    if !pos.is_none() {
                        outer_pos = *pos;
                        outer_source = current.clone();
                    }
                    let place = if current == source_name {
                        format!("line {}", pos.line().unwrap_or(0))
                    } else {
                        format!("{current}:{}", pos.line().unwrap_or(0))
                    };
                    // rhai names closures `anon$<hash>`.
                    let callee = if name.starts_with("anon$") {
                        "a closure".to_string()
                    } else {
                        format!("'{name}'")
                    };
                    notes.push(format!("in call to {callee} at {place}"));
                    if !src.is_empty() {
                        current = src.to_string();
                    }
                    cur = inner;
                }
                EvalAltResult::ErrorInModule(name, inner, pos) => {
                    if !pos.is_none() {
                        outer_pos = *pos;
                        outer_source = current.clone();
                    }
                    notes.push(format!("in module '{name}'"));
                    cur = inner;
                }
                _ => break,
            }
        }
        // The innermost position belongs to the innermost function's source; without one, fall
        // back to the outermost known position and its source.
        let (pos, at) = if cur.position().is_none() {
            (outer_pos, outer_source)
        } else {
            (cur.position(), current)
        };
        let module_text;
        let text = if at == source_name {
            text
        } else {
            module_text = module_source(&at, source_name).unwrap_or_default();
            module_text.as_str()
        };
        let message = describe(cur);
        let mut err = ScriptError::at(message, &at, pos, text);
        let help_shown = matches!(cur, EvalAltResult::ErrorTerminated(v, _) if v.is::<HelpShown>());
        let interrupted = !help_shown && matches!(cur, EvalAltResult::ErrorTerminated(..));
        err.interrupted = interrupted;
        err.help_shown = help_shown;
        if let EvalAltResult::ErrorFunctionNotFound(sig, _) = cur {
            let name = sig.split([' ', '(']).next().unwrap_or(sig).trim();
            if reg.get(name).is_some() {
                let args = sig.strip_prefix(name).unwrap_or("").trim();
                err.message = format!("{name} does not take {}", script_type_names(args));
            }
            err.notes.extend(function_hint(sig, reg));
        }
        if let EvalAltResult::ErrorVariableNotFound(name, _) = cur {
            let close = reg.suggest(name);
            if !close.is_empty() {
                err.notes
                    .push(format!("did you mean the function {}?", close.join(", ")));
            }
        }
        err.notes.extend(notes);
        err
    }

    fn at(message: String, source: &str, pos: Position, text: &str) -> Self {
        let line = pos.line();
        let column = pos.position();
        let source_line = line
            .and_then(|l| text.lines().nth(l - 1))
            .map(str::to_string);
        ScriptError {
            message,
            source: source.to_string(),
            line,
            column,
            source_line,
            notes: Vec::new(),
            interrupted: false,
            help_shown: false,
        }
    }

    /// One-line location, e.g. `scripts/x.rhai:3:13`.
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", self.source),
            (Some(l), None) => format!("{}:{l}", self.source),
            _ => self.source.clone(),
        }
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        write!(f, " --> {}", self.location())?;
        if let (Some(l), Some(text)) = (self.line, &self.source_line) {
            let gutter = l.to_string().len();
            write!(f, "\n{:gutter$} |\n{l} | {text}", "")?;
            if let Some(c) = self.column {
                // Columns count characters; tabs keep their width so the caret lines up.
                let pad: String = text
                    .chars()
                    .take(c.saturating_sub(1))
                    .map(|ch| if ch == '\t' { '\t' } else { ' ' })
                    .collect();
                write!(f, "\n{:gutter$} | {pad}^", "")?;
            }
        }
        for n in &self.notes {
            write!(f, "\n  = {n}")?;
        }
        Ok(())
    }
}

/// The message of an error without rhai's position suffix.
fn describe(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorRuntime(d, _) => d.to_string(),
        EvalAltResult::ErrorTerminated(..) => "interrupted".to_string(),
        EvalAltResult::ErrorFunctionNotFound(sig, _) => {
            format!("unknown function {}", script_type_names(sig))
        }
        EvalAltResult::ErrorVariableNotFound(name, _) => format!("unknown variable '{name}'"),
        other => strip_position(&other.to_string()).to_string(),
    }
}

/// The text of an imported module, for its source lines in an error: an embedded stdlib module
/// (`stdlib/<name>.rhai`), or a module file as rhai's resolver finds it (the path as imported,
/// `.rhai` added, beside the importing script); read only if it is a small regular file.
fn module_source(source: &str, script: &str) -> Option<String> {
    if let Some((_, text)) = super::stdlib::MODULES
        .iter()
        .find(|(name, _)| source == format!("stdlib/{name}.rhai"))
    {
        return Some(text.to_string());
    }
    let beside = std::path::Path::new(script)
        .parent()
        .map(|d| d.join(format!("{source}.rhai")));
    [Some(std::path::PathBuf::from(source)), beside]
        .into_iter()
        .flatten()
        .find_map(|p| {
            let meta = std::fs::metadata(&p).ok()?;
            (meta.is_file() && meta.len() < 1 << 20)
                .then(|| std::fs::read_to_string(&p).ok())
                .flatten()
        })
}

/// Rust's names of argument types as a script user knows them: `&str | ImmutableString |
/// String` → `string`, `i64` → `int`, `f64` → `float`, `Map` → `map`, `Array` → `array`.
fn script_type_names(args: &str) -> String {
    args.replace("&str | ImmutableString | String", "string")
        .replace("ImmutableString", "string")
        .replace("&mut ", "")
        .replace("i64", "int")
        .replace("f64", "float")
        .replace("Map", "map")
        .replace("Array", "array")
        .replace("()", "nothing")
}

/// For `frobnicate (Tensor, i64)`: the closest registered names, or the right signature when
/// only the argument types were wrong.
fn function_hint(sig: &str, reg: &Registry) -> Vec<String> {
    let name = sig.split([' ', '(']).next().unwrap_or(sig).trim();
    if let Some(d) = reg.get(name) {
        return vec![format!("'{name}' takes: {}", d.signature)];
    }
    let close = reg.suggest(name);
    if close.is_empty() {
        vec!["help() lists every function".to_string()]
    } else {
        vec![format!("did you mean {}?", close.join(", "))]
    }
}

/// rhai appends ` (line 3, position 13)` to its messages; the location is shown separately.
fn strip_position(s: &str) -> &str {
    match s.rfind(" (line ") {
        Some(i) if s.ends_with(')') => &s[..i],
        _ => s,
    }
}
