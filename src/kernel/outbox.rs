//! The IOPub outbox: every message a cell publishes (streams, figures, progress, results,
//! errors) goes through one channel to the network thread, so they reach the notebook in the
//! order they were made, between the request's `busy` and `idle`.

use jupyter_protocol::{JupyterMessage, JupyterMessageContent};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;

#[derive(Clone)]
pub struct Outbox {
    tx: UnboundedSender<JupyterMessage>,
    /// The request being served: outputs are its children, so the notebook puts them in its cell.
    parent: Arc<Mutex<Option<JupyterMessage>>>,
}

impl Outbox {
    pub fn new(tx: UnboundedSender<JupyterMessage>) -> Outbox {
        Outbox {
            tx,
            parent: Arc::new(Mutex::new(None)),
        }
    }

    /// Outputs from now on belong to `parent`.
    pub fn set_parent(&self, parent: Option<JupyterMessage>) {
        *self.parent.lock().unwrap_or_else(|p| p.into_inner()) = parent;
    }

    /// Publish `content` as a child of the current request (dropped when there is none: output
    /// with no cell to go to).
    pub fn send(&self, content: impl Into<JupyterMessageContent>) {
        let parent = self.parent.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(parent) = parent.as_ref() {
            let _ = self.tx.send(JupyterMessage::new(content, Some(parent)));
        }
    }

    /// Publish a message built by the caller (status messages of the network side).
    pub fn send_message(&self, message: JupyterMessage) {
        let _ = self.tx.send(message);
    }
}
