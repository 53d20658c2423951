//! The Jupyter kernel: `gaxsh kernel -f CONNECTION_FILE`, and `gaxsh kernel install`.
//!
//! Two threads. The network thread (tokio, pure-Rust ZeroMQ) owns the five sockets: it answers
//! heartbeats, takes interrupts and shutdowns on the control channel at any time, and hands shell
//! requests one by one to the session thread. The session thread owns the rhai [`Session`] —
//! variables and `fn`s live across cells — evaluates, and publishes what a cell prints, plots
//! and returns through the [`outbox::Outbox`], in order, between the `busy` and `idle` statuses.
//!
//! Interrupts (SIGINT in the kernelspec's default signal mode, or `interrupt_request` in
//! message mode) set the process-wide flag of [`crate::interrupt`], which stops script loops and
//! native loops alike; the session, and every variable in it, survives.
//!
//! [`Session`]: crate::front::Session

mod display;
mod install;
mod net;
mod outbox;
mod wire;
mod worker;

pub use install::{InstallTarget, install};

use std::path::Path;

/// Errors that stop the kernel from starting or keep it from running.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("{path}: cannot read the connection file: {source}")]
    ConnectionFile {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a Jupyter connection file: {source}")]
    ConnectionJson {
        path: String,
        source: serde_json::Error,
    },
    #[error("cannot open the kernel's sockets: {0}")]
    Sockets(String),
    #[error("cannot start the network thread: {0}")]
    Runtime(std::io::Error),
    #[error("{path}: cannot write the kernelspec: {source}")]
    Install {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot find the gaxsh executable: {0}")]
    Executable(std::io::Error),
}

/// Run the kernel until Jupyter shuts it down.
pub fn run(connection_file: &Path) -> Result<(), KernelError> {
    let path = connection_file.display().to_string();
    let text =
        std::fs::read_to_string(connection_file).map_err(|source| KernelError::ConnectionFile {
            path: path.clone(),
            source,
        })?;
    let info: jupyter_protocol::ConnectionInfo = serde_json::from_str(&text)
        .map_err(|source| KernelError::ConnectionJson { path, source })?;

    let (iopub_tx, iopub_rx) = tokio::sync::mpsc::unbounded_channel();
    let outbox = outbox::Outbox::new(iopub_tx);
    let net_outbox = outbox.clone();
    let (job_tx, job_rx) = std::sync::mpsc::channel();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(KernelError::Runtime)?;
    let network = std::thread::Builder::new()
        .name("gaxsh-kernel-net".into())
        .spawn(move || runtime.block_on(net::serve(info, job_tx, net_outbox, iopub_rx)))
        .map_err(KernelError::Runtime)?;

    // This thread is inside the compute pool (see `threads::run_in_pool`): the session runs here.
    worker::Worker::new(outbox).serve(job_rx);

    // The job channel closes when the network side ends; report why it did.
    match network.join() {
        Ok(result) => result,
        Err(_) => Err(KernelError::Sockets("the network thread panicked".into())),
    }
}
