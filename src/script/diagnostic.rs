//! Script errors as people read them: the message, `file:line:col`, the source line and a caret,
//! and for a misspelt function the registered names closest to it.

use super::registry::Registry;
use rhai::{EvalAltResult, ParseError, Position};
use std::fmt;

/// What `options(…)` stops a script with once it has printed the `--help` list: a stop that is
/// neither an error nor an interrupt, so the run ends with exit code 0.
#[derive(Clone, Copy, Debug)]
pub struct HelpShown;

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
        // the calls on the way.
        let mut notes = Vec::new();
        let mut cur = e;
        let mut outer_pos = e.position();
        loop {
            match cur {
                EvalAltResult::ErrorInFunctionCall(name, _src, inner, pos) => {
                    if !pos.is_none() {
                        outer_pos = *pos;
                    }
                    notes.push(format!(
                        "in call to '{name}' at line {}",
                        pos.line().unwrap_or(0)
                    ));
                    cur = inner;
                }
                EvalAltResult::ErrorInModule(name, inner, pos) => {
                    if !pos.is_none() {
                        outer_pos = *pos;
                    }
                    notes.push(format!("in module '{name}'"));
                    cur = inner;
                }
                _ => break,
            }
        }
        // The innermost position may belong to a function body in this same source; fall back
        // to the outermost known position.
        let pos = if cur.position().is_none() {
            outer_pos
        } else {
            cur.position()
        };
        let help_shown = matches!(cur, EvalAltResult::ErrorTerminated(v, _) if v.is::<HelpShown>());
        let interrupted = !help_shown && matches!(cur, EvalAltResult::ErrorTerminated(..));
        let message = describe(cur);
        let mut err = ScriptError::at(message, source_name, pos, text);
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
