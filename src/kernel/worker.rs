//! The session thread: one rhai [`Session`] kept across cells, serving the shell requests
//! (execute, complete, inspect, is_complete, history, comm_info) handed over by the network side.

use super::display;
use super::outbox::Outbox;
use crate::front::source_text::{ends_with_semicolon, is_incomplete, word_before};
use crate::front::{ScriptError, Session, SessionBuilder};
use jupyter_protocol::{
    CommInfoReply, CompleteReply, ErrorOutput, ExecuteInput, ExecuteReply, ExecuteRequest,
    ExecuteResult, ExecutionCount, ExpressionResult, HistoryEntry, HistoryReply, HistoryRequest,
    InspectReply, IsCompleteReply, IsCompleteReplyStatus, JupyterMessage, JupyterMessageContent,
    Media, MediaType, ReplyError, ReplyStatus, StreamContent,
};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A shell request for the session, and where its reply goes (`None`: the request has none).
pub struct Job {
    pub request: JupyterMessage,
    pub reply: tokio::sync::oneshot::Sender<Option<JupyterMessageContent>>,
}

/// One executed cell, for `history_request`.
struct Entry {
    count: usize,
    input: String,
    output: String,
}

pub struct Worker {
    session: Session,
    outbox: Outbox,
    count: usize,
    history: Vec<Entry>,
    /// Figures shown by the running cell: each once, and a cell whose value is one of these
    /// paths does not print it again.
    shown: Arc<Mutex<Vec<PathBuf>>>,
}

impl Worker {
    pub fn new(outbox: Outbox) -> Worker {
        let out = outbox.clone();
        let print = Arc::new(move |s: &str| out.send(StreamContent::stdout(&format!("{s}\n"))));
        let shown: Arc<Mutex<Vec<PathBuf>>> = Default::default();
        let (out, seen) = (outbox.clone(), shown.clone());
        let show = Arc::new(move |path: &std::path::Path| {
            let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.iter().any(|p| p == path) {
                return;
            }
            seen.push(path.to_path_buf());
            match display::figure(path) {
                Ok(media) => out.send(jupyter_protocol::DisplayData::new(media)),
                Err(e) => out.send(StreamContent::stderr(&format!(
                    "cannot show {}: {e}\n",
                    path.display()
                ))),
            }
        });
        let mut session = SessionBuilder::default()
            .output(print)
            .display(show)
            .build();
        crate::progress::set_reporter(Arc::new(display::Progress::new(outbox.clone())));
        if std::env::var_os("GAXSH_KERNEL_SELFTEST").is_some() {
            // The kernel test checks that a panic inside a cell becomes an error reply.
            session
                .engine
                .register_fn("kernel_selftest_panic", || -> i64 {
                    panic!("deliberate panic (GAXSH_KERNEL_SELFTEST)")
                });
        }
        Worker {
            session,
            outbox,
            count: 0,
            history: Vec::new(),
            shown,
        }
    }

    /// Serve requests until the network side hangs up.
    pub fn serve(mut self, jobs: std::sync::mpsc::Receiver<Job>) {
        for job in jobs {
            self.outbox.set_parent(Some(job.request.clone()));
            let reply = self.handle(&job.request.content);
            self.outbox.set_parent(None);
            let _ = job.reply.send(reply);
        }
    }

    fn handle(&mut self, content: &JupyterMessageContent) -> Option<JupyterMessageContent> {
        use JupyterMessageContent as C;
        Some(match content {
            C::ExecuteRequest(r) => self.execute(r).into(),
            C::CompleteRequest(r) => self.complete(&r.code, r.cursor_pos).into(),
            C::InspectRequest(r) => self.inspect(&r.code, r.cursor_pos).into(),
            C::IsCompleteRequest(r) => self.is_complete(&r.code).into(),
            C::HistoryRequest(r) => self.history(r).into(),
            C::CommInfoRequest(_) => CommInfoReply::default().into(),
            // gaxsh opens no comms; comm messages have no replies.
            _ => return None,
        })
    }

    fn execute(&mut self, req: &ExecuteRequest) -> ExecuteReply {
        let record = req.store_history && !req.silent;
        if record {
            self.count += 1;
        }
        let count = ExecutionCount::new(self.count);
        if !req.silent {
            self.outbox.send(ExecuteInput {
                code: req.code.clone(),
                execution_count: count,
            });
        }
        self.shown.lock().unwrap_or_else(|p| p.into_inner()).clear();
        let name = format!("<cell {}>", self.count);
        let outcome = self.eval_guarded(&req.code, &name);
        let mut reply = ExecuteReply {
            status: ReplyStatus::Ok,
            execution_count: count,
            payload: vec![],
            user_expressions: None,
            error: None,
        };
        let mut output = String::new();
        match outcome {
            Ok(value) => {
                if let (Some((text, html)), false) = (value, req.silent) {
                    output = text.clone();
                    let mut content = vec![MediaType::Plain(text)];
                    content.extend(html.map(MediaType::Html));
                    self.outbox
                        .send(ExecuteResult::new(count, Media { content }));
                }
            }
            Err(e) => {
                self.outbox.send(ErrorOutput {
                    ename: e.ename.clone(),
                    evalue: e.evalue.clone(),
                    traceback: e.traceback.clone(),
                });
                reply.status = ReplyStatus::Error;
                reply.error = Some(Box::new(e));
            }
        }
        if let Some(exprs) = &req.user_expressions {
            reply.user_expressions = Some(self.user_expressions(exprs));
        }
        if record {
            self.history.push(Entry {
                count: self.count,
                input: req.code.clone(),
                output,
            });
        }
        // The cell is done: an idle kernel holds only what its variables need.
        crate::allocator::return_freed_pages();
        reply
    }

    /// Evaluate a cell: its shown value (`None` for unit, or for the path of a figure the cell
    /// already showed), or the error as Jupyter shows it. A panic is caught and reported; the
    /// session lives on.
    /// The cell's value as text and, for tables, HTML; `None` when nothing is to be shown.
    fn eval_guarded(
        &mut self,
        code: &str,
        name: &str,
    ) -> Result<Option<(String, Option<String>)>, ReplyError> {
        if let Some(help) = self.session.help_query(code) {
            return Ok(Some((help, None)));
        }
        let session = &mut self.session;
        let result = catch_unwind(AssertUnwindSafe(|| {
            session.eval(code, name).map(|v| {
                let shown_path = v.clone().into_string().ok().map(PathBuf::from);
                let text = session.display(&v);
                (text.map(|t| (t, session.display_html(&v))), shown_path)
            })
        }));
        match result {
            // A trailing `;` shows nothing, as in IPython.
            Ok(Ok(_)) if ends_with_semicolon(code) => Ok(None),
            Ok(Ok((shown_value, path))) => {
                let shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
                Ok(shown_value.filter(|_| !path.is_some_and(|p| shown.contains(&p))))
            }
            Ok(Err(e)) => Err(script_error(&e)),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string());
                Err(ReplyError {
                    ename: "InternalError".to_string(),
                    evalue: what.clone(),
                    traceback: vec![
                        format!(
                            "{name}: internal error (a bug in gaxsh, please report it): {what}"
                        ),
                        "the kernel and its variables are still there".to_string(),
                    ],
                })
            }
        }
    }

    fn user_expressions(
        &mut self,
        exprs: &HashMap<String, String>,
    ) -> HashMap<String, ExpressionResult> {
        exprs
            .iter()
            .map(|(key, code)| {
                let r = match self.eval_guarded(code, "<user_expression>") {
                    Ok(value) => ExpressionResult::Ok {
                        data: Media {
                            content: vec![MediaType::Plain(value.map(|v| v.0).unwrap_or_default())],
                        },
                        metadata: Default::default(),
                    },
                    Err(e) => ExpressionResult::Error {
                        ename: e.ename,
                        evalue: e.evalue,
                        traceback: e.traceback,
                    },
                };
                (key.clone(), r)
            })
            .collect()
    }

    fn complete(&self, code: &str, cursor: usize) -> CompleteReply {
        let pos = byte_offset(code, cursor);
        let (start, matches) = self.session.completion_index().complete(code, pos);
        CompleteReply {
            matches,
            cursor_start: code[..start].chars().count(),
            cursor_end: cursor,
            metadata: Default::default(),
            status: ReplyStatus::Ok,
            error: None,
        }
    }

    fn inspect(&mut self, code: &str, cursor: usize) -> InspectReply {
        let name = word_at(code, byte_offset(code, cursor));
        let registry = self.session.registry.clone();
        // A variable shadows a function or property of the same name (`x`, `y`, `net`…).
        let text = if let Some(v) = self.session.scope.get_value::<rhai::Dynamic>(name) {
            let ty = v.type_name().rsplit("::").next().unwrap_or("").to_string();
            let shown = self.session.display(&v).unwrap_or_default();
            Some(format!("{name}: {ty}\n{shown}"))
        } else if registry.names().any(|n| n == name) {
            Some(registry.help(name))
        } else {
            None
        };
        InspectReply {
            found: text.is_some(),
            data: Media {
                content: text.map(MediaType::Plain).into_iter().collect(),
            },
            metadata: Default::default(),
            status: ReplyStatus::Ok,
            error: None,
        }
    }

    fn is_complete(&self, code: &str) -> IsCompleteReply {
        if is_incomplete(code) {
            return IsCompleteReply::new(IsCompleteReplyStatus::Incomplete, "    ".to_string());
        }
        let status = match self.session.engine.compile(code) {
            Ok(_) => IsCompleteReplyStatus::Complete,
            Err(_) => IsCompleteReplyStatus::Invalid,
        };
        IsCompleteReply::new(status, String::new())
    }

    fn history(&self, req: &HistoryRequest) -> HistoryReply {
        let (picked, with_output): (Vec<&Entry>, bool) = match req {
            HistoryRequest::Tail { n, output, .. } => {
                let n = (*n).max(0) as usize;
                let skip = self.history.len().saturating_sub(n);
                (self.history.iter().skip(skip).collect(), *output)
            }
            HistoryRequest::Range {
                start,
                stop,
                output,
                ..
            } => (
                self.history
                    .iter()
                    .filter(|e| {
                        e.count as i32 >= *start && (*stop <= 0 || (e.count as i32) < *stop)
                    })
                    .collect(),
                *output,
            ),
            HistoryRequest::Search {
                pattern,
                n,
                output,
                unique,
                ..
            } => {
                let mut hits: Vec<&Entry> = self
                    .history
                    .iter()
                    .filter(|e| glob_match(pattern, &e.input))
                    .collect();
                if *unique {
                    let mut seen = std::collections::HashSet::new();
                    hits.retain(|e| seen.insert(e.input.as_str()));
                }
                let keep = (*n).max(0) as usize;
                if keep > 0 && hits.len() > keep {
                    hits.drain(..hits.len() - keep);
                }
                (hits, *output)
            }
        };
        let history = picked
            .into_iter()
            .map(|e| {
                if with_output {
                    HistoryEntry::InputOutput(0, e.count, (e.input.clone(), e.output.clone()))
                } else {
                    HistoryEntry::Input(0, e.count, e.input.clone())
                }
            })
            .collect();
        HistoryReply {
            history,
            status: ReplyStatus::Ok,
            error: None,
        }
    }
}

/// A script error as Jupyter shows it: the message, and as traceback the same text the CLI
/// prints (`<cell 3>:2:9`, the source line, a caret, suggestions).
fn script_error(e: &ScriptError) -> ReplyError {
    if e.interrupted {
        return ReplyError {
            ename: "Interrupted".to_string(),
            evalue: "interrupted; every variable is kept".to_string(),
            traceback: vec![format!("{}: interrupted; every variable is kept", e.source)],
        };
    }
    ReplyError {
        ename: "ScriptError".to_string(),
        evalue: e.message.clone(),
        traceback: e.to_string().lines().map(str::to_string).collect(),
    }
}

/// The byte offset of the `chars`-th character (Jupyter counts cursor positions in characters).
fn byte_offset(code: &str, chars: usize) -> usize {
    code.char_indices()
        .nth(chars)
        .map(|(i, _)| i)
        .unwrap_or(code.len())
}

/// The identifier under (or just before) the cursor.
fn word_at(code: &str, pos: usize) -> &str {
    let (start, _, _) = word_before(code, pos);
    let end = code[pos..]
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map(|(i, _)| pos + i)
        .unwrap_or(code.len());
    &code[start..end]
}

/// `*` and `?` wildcards, as IPython's history search uses them.
fn glob_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_positions_count_characters() {
        assert_eq!(byte_offset("é + x", 4), 5);
        assert_eq!(byte_offset("ab", 9), 2);
    }

    #[test]
    fn the_word_under_the_cursor() {
        assert_eq!(word_at("let y = softmax(x)", 10), "softmax");
        assert_eq!(word_at("x.argmax()", 10 - 2), "argmax");
        assert_eq!(word_at("co_score", 8), "co_score");
    }

    #[test]
    fn history_search_globs() {
        assert!(glob_match("*train*", "let m = train(n, b)"));
        assert!(glob_match("x?y", "x_y"));
        assert!(!glob_match("train*", "let t = train()"));
    }
}
