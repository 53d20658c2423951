//! Reading requests leniently. The protocol crate's message types require some fields that the
//! messaging spec makes optional and that Jupyter's own client leaves out (`history_request`
//! without `start`/`stop` or `unique`): such a request would fail to parse and never get a
//! reply, hanging the client. Here the spec's defaults fill those fields before parsing.

use jupyter_protocol::{Header, JupyterMessage, JupyterMessageContent};
use jupyter_zmq_client::{Connection, RawMessage, RuntimeError};
use serde_json::{Value, json};

/// What arrived on a socket: a request, or a message to drop (bad or missing signature,
/// malformed frames, unparseable content). Only the socket failing is an `Err`.
pub type Received = Result<JupyterMessage, RuntimeError>;

/// Receive one message, then verify (HMAC) and parse it.
pub async fn read<S: zeromq::SocketRecv>(
    conn: &mut Connection<S>,
) -> Result<Received, RuntimeError> {
    let frames = conn.socket.recv().await?;
    Ok(parse(frames, conn))
}

/// Verify (with the connection's key) and parse one multipart message.
fn parse<S>(frames: zeromq::ZmqMessage, conn: &Connection<S>) -> Received {
    let raw = RawMessage::from_multipart(frames, &conn.mac)?;
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

    /// HMAC-SHA256 (RFC 2104), as Jupyter signs a message's four JSON frames.
    fn sign(key: &[u8], parts: &[&[u8]]) -> String {
        use sha2::{Digest, Sha256};
        let mut block = [0u8; 64];
        block[..key.len()].copy_from_slice(key);
        let pad = |b: u8| block.iter().map(|k| k ^ b).collect::<Vec<u8>>();
        let mut inner = Sha256::new();
        inner.update(pad(0x36));
        parts.iter().for_each(|p| inner.update(p));
        let mut outer = Sha256::new();
        outer.update(pad(0x5c));
        outer.update(inner.finalize());
        outer
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    const KEY: &str = "a-test-key";

    fn connection() -> Connection<zeromq::RouterSocket> {
        use zeromq::Socket;
        Connection::new(zeromq::RouterSocket::new(), KEY, "s")
    }

    fn message(frames: Vec<Vec<u8>>) -> Option<zeromq::ZmqMessage> {
        let mut frames = frames.into_iter();
        let mut m = zeromq::ZmqMessage::from(frames.next()?);
        frames.for_each(|f| m.push_back(f.into()));
        Some(m)
    }

    fn execute_request(code: &str) -> [Vec<u8>; 4] {
        let header = json!({"msg_id": "m", "username": "u", "session": "s",
            "date": "2026-01-01T00:00:00Z", "msg_type": "execute_request", "version": "5.3"});
        [
            header.to_string().into_bytes(),
            b"{}".to_vec(),
            b"{}".to_vec(),
            json!({ "code": code }).to_string().into_bytes(),
        ]
    }

    proptest::proptest! {
        /// Any frames at all: an answer (usually "drop it"), never a panic.
        #[test]
        fn arbitrary_frames_never_panic(
            frames in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..40), 1..9),
            delimiter_at in proptest::option::of(0usize..8),
        ) {
            let mut frames = frames;
            if let Some(at) = delimiter_at {
                let at = at.min(frames.len());
                frames.insert(at, b"<IDS|MSG>".to_vec());
            }
            if let Some(m) = message(frames) {
                let _ = parse(m, &connection());
            }
        }

        /// A signed request parses to exactly what was sent, buffers and identities included.
        #[test]
        fn signed_requests_parse_to_what_was_sent(
            code in "\\PC{0,60}",
            ids in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 1..8), 0..3),
            buffers in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..8), 0..3),
        ) {
            let parts = execute_request(&code);
            let sig = sign(KEY.as_bytes(), &parts.each_ref().map(|p| p.as_slice()));
            let mut frames = ids.clone();
            frames.push(b"<IDS|MSG>".to_vec());
            frames.push(sig.into_bytes());
            frames.extend(parts);
            frames.extend(buffers.clone());
            let got = parse(message(frames).unwrap(), &connection()).unwrap();
            match got.content {
                JupyterMessageContent::ExecuteRequest(r) => proptest::prop_assert_eq!(r.code, code),
                other => proptest::prop_assert!(false, "{other:?}"),
            }
            let got_ids: Vec<Vec<u8>> = got.zmq_identities.iter().map(|b| b.to_vec()).collect();
            proptest::prop_assert_eq!(got_ids, ids);
            let got_buffers: Vec<Vec<u8>> = got.buffers.iter().map(|b| b.to_vec()).collect();
            proptest::prop_assert_eq!(got_buffers, buffers);
        }

        /// Change any byte of a signed message's JSON frames, or its signature, and it is dropped.
        #[test]
        fn tampered_or_unsigned_requests_are_dropped(
            frame in 0usize..5,
            at in proptest::num::usize::ANY,
            flip in 1u8..=255,
        ) {
            let parts = execute_request("print(1)");
            let sig = sign(KEY.as_bytes(), &parts.each_ref().map(|p| p.as_slice()));
            let mut frames = vec![b"<IDS|MSG>".to_vec(), sig.into_bytes()];
            frames.extend(parts);
            let target = &mut frames[1 + frame];
            let i = at % target.len();
            target[i] ^= flip;
            proptest::prop_assert!(parse(message(frames.clone()).unwrap(), &connection()).is_err());
            frames[1].clear();
            proptest::prop_assert!(parse(message(frames).unwrap(), &connection()).is_err());
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
