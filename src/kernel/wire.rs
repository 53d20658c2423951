//! Reading requests leniently. The protocol crate's message types require some fields that the
//! messaging spec makes optional and that Jupyter's own client leaves out (`history_request`
//! without `start`/`stop` or `unique`): such a request would fail to parse and never get a
//! reply, hanging the client. Here the spec's defaults fill those fields before parsing.

use jupyter_protocol::{Header, JupyterMessage, JupyterMessageContent};
use jupyter_zmq_client::{Connection, RawMessage, RuntimeError};
use serde_json::{Value, json};

/// Receive, verify (HMAC) and parse one message.
pub async fn read<S: zeromq::SocketRecv>(
    conn: &mut Connection<S>,
) -> Result<JupyterMessage, RuntimeError> {
    let raw = RawMessage::from_multipart(conn.socket.recv().await?, &conn.mac)?;
    // from_multipart checked there are at least four parts.
    let header: Header = serde_json::from_slice(&raw.jparts[0])?;
    let mut content: Value = serde_json::from_slice(&raw.jparts[3])?;
    fill_defaults(&header.msg_type, &mut content);
    let content = JupyterMessageContent::from_type_and_content(&header.msg_type, content).map_err(
        |source| RuntimeError::ParseError {
            msg_type: header.msg_type.clone(),
            source,
        },
    )?;
    Ok(JupyterMessage {
        zmq_identities: raw.zmq_identities,
        // An empty parent header is sent as `{}`.
        parent_header: serde_json::from_slice(&raw.jparts[1]).ok(),
        metadata: serde_json::from_slice(&raw.jparts[2]).unwrap_or(json!({})),
        content,
        buffers: raw.jparts[4..].to_vec(),
        channel: None,
        header,
    })
}

/// Insert the messaging spec's defaults for optional fields the client left out.
fn fill_defaults(msg_type: &str, content: &mut Value) {
    let Some(map) = content.as_object_mut() else {
        return;
    };
    let mut default = |key: &str, value: Value| {
        map.entry(key).or_insert(value);
    };
    match msg_type {
        "history_request" => {
            default("output", json!(false));
            default("raw", json!(true));
            default("hist_access_type", json!("range"));
            default("start", json!(0));
            default("stop", json!(0));
            default("n", json!(0));
            default("pattern", json!("*"));
            default("unique", json!(false));
        }
        "execute_request" => {
            default("silent", json!(false));
            default("store_history", json!(true));
            default("user_expressions", json!({}));
            default("allow_stdin", json!(false));
            default("stop_on_error", json!(true));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_search_without_unique_parses() {
        let mut c =
            json!({"hist_access_type": "search", "pattern": "*fit*", "raw": true, "output": false});
        fill_defaults("history_request", &mut c);
        let parsed = JupyterMessageContent::from_type_and_content("history_request", c).unwrap();
        match parsed {
            JupyterMessageContent::HistoryRequest(jupyter_protocol::HistoryRequest::Search {
                pattern,
                unique,
                n,
                ..
            }) => assert_eq!((pattern.as_str(), unique, n), ("*fit*", false, 0)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn given_fields_are_kept() {
        let mut c = json!({"hist_access_type": "tail", "n": 3});
        fill_defaults("history_request", &mut c);
        assert_eq!(c["n"], 3);
        assert_eq!(c["hist_access_type"], "tail");
    }
}
