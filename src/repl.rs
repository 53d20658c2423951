//! The interactive prompt (rustyline): history, multi-line input while brackets are open, tab
//! completion of functions, variables and methods, `:commands`, `?name` help, and Ctrl-C that
//! stops the running evaluation while keeping every variable.

use crate::front::source_text::{ends_with_semicolon, is_incomplete};
use crate::front::{CompletionIndex, Session};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{CompletionType, Config, Context, Editor, Helper, Highlighter, Hinter};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const COMMANDS: &[(&str, &str)] = &[
    (
        ":help",
        "this list; help() lists functions, ?name shows one",
    ),
    (":vars", "the variables defined so far"),
    (":time", "toggle printing how long each evaluation took"),
    (":load FILE", "run a script file in this session"),
    (":quit", "leave (Ctrl-D too)"),
];

/// What the completer knows: the session's names and members as of the last line.
#[derive(Helper, Highlighter, Hinter)]
struct ReplHelper {
    index: Arc<Mutex<CompletionIndex>>,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        if line.starts_with(':') && !line[..pos].contains(' ') {
            let c = COMMANDS
                .iter()
                .map(|(c, _)| c.split(' ').next().unwrap_or(c))
                .filter(|c| c.starts_with(&line[..pos]))
                .map(|c| Pair {
                    display: c.to_string(),
                    replacement: c.to_string(),
                })
                .collect();
            return Ok((0, c));
        }
        let (start, names) = self
            .index
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .complete(line, pos);
        let pairs = names
            .into_iter()
            .map(|n| Pair {
                display: n.clone(),
                replacement: n,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if is_incomplete(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

fn history_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("GAXSH_HISTORY") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".gaxsh_history"))
}

/// Run the REPL until `:quit` or Ctrl-D.
pub fn run(mut session: Session) -> rustyline::Result<()> {
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .build();
    let index = Arc::new(Mutex::new(session.completion_index()));
    let helper = ReplHelper {
        index: index.clone(),
    };
    let mut rl: Editor<ReplHelper, rustyline::history::DefaultHistory> =
        Editor::with_config(config)?;
    rl.set_helper(Some(helper));
    let history = history_path();
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    println!(
        "gaxsh {} — rhai over candle tensors. help() lists functions, :help the commands, Ctrl-D leaves.",
        env!("CARGO_PKG_VERSION")
    );
    let mut timing = false;
    let mut n = 0usize;
    loop {
        let line = match rl.readline("gaxsh> ") {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue, // Ctrl-C at the prompt clears the line
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e),
        };
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let _ = rl.add_history_entry(line.as_str());
        if let Some(h) = &history {
            let _ = rl.append_history(h);
        }
        if let Some(help) = session.help_query(trimmed) {
            println!("{help}");
            continue;
        }
        if trimmed.starts_with(':') {
            let (cmd, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
            match cmd {
                ":quit" | ":q" | ":exit" => break,
                ":help" => {
                    for (c, d) in COMMANDS {
                        println!("  {c:<12} {d}");
                    }
                }
                ":vars" => {
                    for (name, ty) in session.variables() {
                        println!("  {name}: {ty}");
                    }
                }
                ":time" => {
                    timing = !timing;
                    println!("timing {}", if timing { "on" } else { "off" });
                }
                ":load" => {
                    let path = rest.trim();
                    if path.is_empty() {
                        eprintln!(":load needs a file name");
                    } else if let Err(e) = session.run_file(std::path::Path::new(path)) {
                        eprintln!("{e}");
                    }
                }
                other => eprintln!("unknown command {other}; :help lists them"),
            }
            *index.lock().unwrap_or_else(|p| p.into_inner()) = session.completion_index();
            continue;
        }
        n += 1;
        let started = Instant::now();
        match session.eval(&line, &format!("<repl:{n}>")) {
            // A trailing `;` shows nothing, as in IPython.
            Ok(_) if ends_with_semicolon(&line) => {}
            Ok(v) => {
                if let Some(s) = session.display(&v) {
                    println!("{s}");
                }
            }
            Err(e) if e.interrupted => eprintln!("interrupted (variables are kept)"),
            Err(e) => eprintln!("{e}"),
        }
        if timing {
            println!("({:.3} s)", started.elapsed().as_secs_f64());
        }
        *index.lock().unwrap_or_else(|p| p.into_inner()) = session.completion_index();
        crate::allocator::return_freed_pages();
    }
    Ok(())
}
