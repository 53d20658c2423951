//! The network side of the kernel: the five ZeroMQ sockets on a tokio runtime.
//!
//! Heartbeat and control run on their own tasks, so interrupts and shutdowns are answered while
//! a cell runs; shell requests are served one at a time by the session thread.

use super::KernelError;
use super::outbox::Outbox;
use super::wire;
use super::worker::Job;
use jupyter_protocol::{
    CodeMirrorMode, ConnectionInfo, HelpLink, InterruptReply, IoPubWelcome, JupyterMessage,
    JupyterMessageContent, KernelInfoReply, LanguageInfo, ReplyStatus, ShutdownReply, Status,
};
use jupyter_zmq_client::{
    RuntimeError, SubscriptionEvent, create_kernel_control_connection,
    create_kernel_heartbeat_connection, create_kernel_iopub_xpub_connection,
    create_kernel_shell_connection, create_kernel_stdin_connection,
};
use tokio::sync::mpsc::UnboundedReceiver;

/// Consecutive socket failures after which a channel is considered gone. Bad messages (a wrong
/// or missing signature, malformed frames) are not failures: they are dropped, counted and
/// logged, and the channel keeps serving, however many arrive.
const MAX_SOCKET_ERRORS: usize = 100;

/// Dropped messages on one channel: logged one by one at first, then every thousandth.
#[derive(Default)]
struct Dropped(u64);

impl Dropped {
    fn note(&mut self, channel: &str, e: &RuntimeError) {
        self.0 += 1;
        if self.0 <= 10 || self.0.is_multiple_of(1000) {
            eprintln!(
                "gaxsh kernel: dropped a {channel} message ({e}); {} dropped so far",
                self.0
            );
        }
    }
}

fn sockets(e: RuntimeError) -> KernelError {
    KernelError::Sockets(e.to_string())
}

/// Bind the sockets and serve until the shell socket fails or the kernel is shut down.
pub async fn serve(
    info: ConnectionInfo,
    jobs: std::sync::mpsc::Sender<Job>,
    outbox: Outbox,
    mut published: UnboundedReceiver<JupyterMessage>,
) -> Result<(), KernelError> {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let session_id = format!("gaxsh-{}-{:x}", std::process::id(), since_epoch.as_nanos());
    let mut heartbeat = create_kernel_heartbeat_connection(&info)
        .await
        .map_err(sockets)?;
    let (mut shell_tx, mut shell_rx) = create_kernel_shell_connection(&info, &session_id)
        .await
        .map_err(sockets)?
        .split();
    let mut control = create_kernel_control_connection(&info, &session_id)
        .await
        .map_err(sockets)?;
    // gaxsh never asks for input, but Jupyter expects the socket to be there.
    let _stdin = create_kernel_stdin_connection(&info, &session_id)
        .await
        .map_err(sockets)?;
    let mut iopub = create_kernel_iopub_xpub_connection(&info, &session_id)
        .await
        .map_err(sockets)?;

    tokio::spawn(async move { while heartbeat.single_heartbeat().await.is_ok() {} });

    // IOPub: publish what the session sends, in order; welcome new subscribers (JEP 65).
    tokio::spawn(async move {
        let mut subscriptions = true;
        loop {
            tokio::select! {
                message = published.recv() => match message {
                    Some(m) => {
                        if let Err(e) = iopub.send(m).await {
                            eprintln!("gaxsh kernel: cannot publish on iopub: {e}");
                        }
                    }
                    None => break,
                },
                event = iopub.recv_subscription(), if subscriptions => match event {
                    Ok(SubscriptionEvent::Subscribe(topic)) => {
                        let _ = iopub.send(IoPubWelcome::new(topic).into()).await;
                    }
                    Ok(SubscriptionEvent::Unsubscribe(_)) => {}
                    Err(_) => subscriptions = false,
                },
            }
        }
    });

    // Control: kernel info, interrupts and shutdown, answered even while a cell runs.
    tokio::spawn(async move {
        let (mut errors, mut dropped) = (0, Dropped::default());
        while errors < MAX_SOCKET_ERRORS {
            let request = match wire::read(&mut control).await {
                Ok(Ok(m)) => {
                    errors = 0;
                    m
                }
                Ok(Err(e)) => {
                    dropped.note("control", &e);
                    continue;
                }
                Err(e) => {
                    errors += 1;
                    eprintln!("gaxsh kernel: the control socket failed: {e}");
                    continue;
                }
            };
            match &request.content {
                JupyterMessageContent::KernelInfoRequest(_) => {
                    let _ = control.send(kernel_info().as_child_of(&request)).await;
                }
                JupyterMessageContent::InterruptRequest(_) => {
                    crate::interrupt::request();
                    let _ = control
                        .send(InterruptReply::new().as_child_of(&request))
                        .await;
                }
                JupyterMessageContent::ShutdownRequest(r) => {
                    let reply = shutdown_reply(r.restart).as_child_of(&request);
                    let _ = control.send(reply).await;
                    exit_soon().await;
                }
                _ => {}
            }
        }
    });

    // Shell: one request at a time, each between `busy` and `idle` on IOPub.
    let (mut errors, mut dropped) = (0, Dropped::default());
    while errors < MAX_SOCKET_ERRORS {
        let request = match wire::read(&mut shell_rx).await {
            Ok(Ok(m)) => {
                errors = 0;
                m
            }
            Ok(Err(e)) => {
                dropped.note("shell", &e);
                continue;
            }
            Err(e) => {
                errors += 1;
                eprintln!("gaxsh kernel: the shell socket failed: {e}");
                continue;
            }
        };
        outbox.send_message(Status::busy().as_child_of(&request));
        let reply = match &request.content {
            JupyterMessageContent::KernelInfoRequest(_) => Some(kernel_info().into()),
            JupyterMessageContent::ShutdownRequest(r) => {
                // Old clients send shutdown on the shell channel.
                let _ = shell_tx
                    .send(shutdown_reply(r.restart).as_child_of(&request))
                    .await;
                exit_soon().await;
                None
            }
            _ => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let job = Job {
                    request: request.clone(),
                    reply: tx,
                };
                if jobs.send(job).is_err() {
                    break; // the session thread is gone
                }
                rx.await.ok().flatten()
            }
        };
        if let Some(content) = reply
            && let Err(e) = shell_tx
                .send(JupyterMessage::new(content, Some(&request)))
                .await
        {
            eprintln!("gaxsh kernel: cannot reply on shell: {e}");
        }
        outbox.send_message(Status::idle().as_child_of(&request));
    }
    Err(KernelError::Sockets(
        "the shell socket keeps failing; stopping".into(),
    ))
}

fn shutdown_reply(restart: bool) -> ShutdownReply {
    ShutdownReply {
        restart,
        status: ReplyStatus::Ok,
        error: None,
    }
}

/// Leave the process once the reply is on its way. A running cell is abandoned: every file
/// gaxsh writes is written atomically, so none is left half-written. (On restart, Jupyter
/// starts a fresh process.)
async fn exit_soon() {
    crate::interrupt::request();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    std::process::exit(0);
}

pub fn kernel_info() -> KernelInfoReply {
    KernelInfoReply {
        status: ReplyStatus::Ok,
        protocol_version: "5.3".to_string(),
        implementation: "gaxsh".to_string(),
        implementation_version: env!("CARGO_PKG_VERSION").to_string(),
        language_info: LanguageInfo {
            name: "rhai".to_string(),
            // The rhai language's major version (the crate does not export its own version).
            version: "1".to_string(),
            mimetype: Some("text/x-rhai".to_string()),
            file_extension: Some(".rhai".to_string()),
            // rhai reads much like Rust; its highlighting is the closest that frontends ship.
            pygments_lexer: Some("rust".to_string()),
            codemirror_mode: Some(CodeMirrorMode::Simple("rust".to_string())),
            nbconvert_exporter: None,
        },
        banner: format!(
            "gaxsh {} — rhai over candle tensors: AX process, CO scores, GAX. help() lists functions; Shift-Tab on a name shows its help.",
            env!("CARGO_PKG_VERSION")
        ),
        help_links: vec![HelpLink {
            text: "The rhai language".to_string(),
            url: "https://rhai.rs/book/".to_string(),
        }],
        debugger: false,
        error: None,
    }
}
