//! The one error type of the gaxsh library.
//!
//! Every variant carries what a user needs to fix the problem: the file and line, the column
//! names that exist, the valid choices for a misspelt name. Candle's errors are reduced to their
//! first line (candle appends a backtrace when `RUST_BACKTRACE` is set).

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation was given operands whose shapes do not fit.
    #[error("shape mismatch: {lhs:?} {op} {rhs:?}")]
    ShapeMismatch {
        op: String,
        lhs: Vec<usize>,
        rhs: Vec<usize>,
    },

    /// Any other invalid argument, said in words.
    #[error("{0}")]
    Invalid(String),

    /// A name that is not one of a fixed set: the message lists the valid ones.
    #[error("unknown {what} '{name}'; valid: {}", .valid.join(", "))]
    UnknownName {
        what: &'static str,
        name: String,
        valid: Vec<String>,
    },

    /// An option map with a key the call does not take.
    #[error("{what}: unknown option '{key}'{}; valid: {}", .close.as_ref().map(|c| format!(" (did you mean '{c}'?)")).unwrap_or_default(), .valid.join(", "))]
    UnknownOption {
        what: String,
        key: String,
        /// The valid key closest to a likely typo.
        close: Option<String>,
        valid: Vec<String>,
    },

    /// An option given a value of the wrong type.
    #[error("option '{key}': expected {expected}, got {got}")]
    OptionType {
        key: String,
        expected: &'static str,
        got: String,
    },

    /// A number outside what it may be (a class, an index, an axis, a size).
    #[error("{what} {value} is out of range; valid: {valid}")]
    OutOfRange {
        what: String,
        value: String,
        valid: String,
    },

    /// A request gaxsh understands but does not implement (a dtype, an operator, a layout).
    #[error("not supported: {0}")]
    Unsupported(String),

    /// An error inside a named call: `what: error`, the inner error kept whole.
    #[error("{what}: {source}")]
    Within { what: String, source: Box<Error> },

    /// A file could not be opened, read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A file was read but its content is wrong at a known place.
    #[error("{}:{line}{}: {msg}", .path.display(), .column.map(|c| format!(":{c}")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        line: usize,
        column: Option<usize>,
        msg: String,
    },

    /// A file is wrong as a whole (corrupt image, missing array in an archive, …).
    #[error("{}: {msg}", .path.display())]
    BadFile { path: PathBuf, msg: String },

    /// Weights that do not fit the model they are loaded into.
    #[error("weights do not fit the model: {0}")]
    Weights(String),

    /// A request for more memory than the budget allows (`limits`).
    #[error(
        "{what}: {requested} would exceed the memory budget of {budget} (--max-memory or GAXSH_MAX_MEMORY raises it)"
    )]
    TooLarge {
        what: String,
        requested: String,
        budget: String,
    },

    /// The user pressed Ctrl-C (or the kernel was interrupted) during a long computation.
    #[error("interrupted")]
    Interrupted,

    /// An error from candle, reduced to one line.
    #[error("tensor error: {0}")]
    Tensor(String),
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    /// This error as raised inside `what` (a call or an option), unless it already says so.
    pub fn within(self, what: &str) -> Self {
        match self {
            e @ (Error::UnknownOption { .. } | Error::Interrupted | Error::TooLarge { .. }) => e,
            Error::Within { what: w, source } if w == what => Error::Within { what: w, source },
            source => Error::Within {
                what: what.to_string(),
                source: Box::new(source),
            },
        }
    }

    /// `value` of `what` is outside `valid` (said in words: "1 to 64", "0 ≤ axis ≤ 3").
    pub fn out_of_range(
        what: impl Into<String>,
        value: impl ToString,
        valid: impl Into<String>,
    ) -> Self {
        Error::OutOfRange {
            what: what.into(),
            value: value.to_string(),
            valid: valid.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn bad_file(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::BadFile {
            path: path.into(),
            msg: msg.into(),
        }
    }

    pub fn unknown(what: &'static str, name: &str, valid: &[&str]) -> Self {
        Error::UnknownName {
            what,
            name: name.to_string(),
            valid: valid.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        let e = e.bt_free();
        // Turn candle's verbose shape errors into the short form users see everywhere else.
        if let candle_core::Error::ShapeMismatchBinaryOp { lhs, rhs, op } = &e {
            return Error::ShapeMismatch {
                op: binary_symbol(op).to_string(),
                lhs: lhs.dims().to_vec(),
                rhs: rhs.dims().to_vec(),
            };
        }
        // A plain message is gaxsh's own (a custom op's or a layer's, passed through candle).
        if let candle_core::Error::Msg(m) = &e {
            return Error::Invalid(m.lines().next().unwrap_or("").trim().to_string());
        }
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("").trim().to_string();
        Error::Tensor(first)
    }
}

trait BacktraceFree {
    fn bt_free(self) -> candle_core::Error;
}

impl BacktraceFree for candle_core::Error {
    /// Strip the backtrace and context wrappers candle adds, keeping the innermost error.
    fn bt_free(self) -> candle_core::Error {
        match self {
            candle_core::Error::WithBacktrace { inner, .. } => (*inner).bt_free(),
            candle_core::Error::Context { inner, .. } => (*inner).bt_free(),
            other => other,
        }
    }
}

fn binary_symbol(op: &str) -> &str {
    match op {
        "add" | "broadcast_add" => "+",
        "sub" | "broadcast_sub" => "-",
        "mul" | "broadcast_mul" => "*",
        "div" | "broadcast_div" => "/",
        "matmul" => "@",
        other => other,
    }
}
