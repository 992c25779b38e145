//! Raw-protocol clients against the embedded gateway: each hostile or broken handshake
//! gets the precise error and close code, and the gateway keeps serving.

use futures_util::{SinkExt as _, StreamExt as _};
use openclaw_node::identity::DeviceIdentity;
use openclaw_node::protocol::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::helpers::*;

/// What the gateway answered to a handshake: the response (if any) and the close code.
struct Outcome {
    response: Option<ResponseFrame>,
    close: Option<u16>,
}

async fn finish(mut ws: Ws) -> Outcome {
    let mut response = None;
    let mut close = None;
    while let Ok(Some(msg)) = tokio::time::timeout(WAIT, ws.next()).await {
        match msg {
            Ok(Message::Text(t)) => {
                if let Ok(Frame::Res(r)) = Frame::parse(&t) {
                    response = Some(r);
                }
            }
            Ok(Message::Close(frame)) => {
                close = frame.map(|f: CloseFrame| u16::from(f.code));
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Outcome { response, close }
}

async fn attempt(url: &str, mutate: impl FnOnce(&mut Value, &ConnectChallenge)) -> Outcome {
    let (mut ws, challenge) = open(url).await;
    let identity = DeviceIdentity::generate();
    let mut params = node_connect(&identity, &challenge);
    mutate(&mut params, &challenge);
    let frame = Frame::request("c1", methods::CONNECT, params);
    ws.send(Message::text(frame.to_text())).await.unwrap();
    finish(ws).await
}

fn detail(o: &Outcome) -> String {
    o.response
        .as_ref()
        .and_then(|r| r.error.as_ref())
        .and_then(|e| e.detail_code().map(str::to_string))
        .unwrap_or_default()
}

#[tokio::test]
async fn a_valid_signed_connect_is_accepted() {
    let gw = TestGateway::start_auto_approve().await;
    let (mut ws, challenge) = open(&gw.url).await;
    let params = node_connect(&DeviceIdentity::generate(), &challenge);
    ws.send(Message::text(
        Frame::request("c1", "connect", params).to_text(),
    ))
    .await
    .unwrap();
    let Some(Ok(Message::Text(t))) = within("hello-ok", ws.next()).await else {
        panic!("no response")
    };
    let Frame::Res(r) = Frame::parse(&t).unwrap() else {
        panic!("not a response: {t}")
    };
    assert!(r.ok, "{r:?}");
    let hello: HelloOk = serde_json::from_value(r.payload.unwrap()).unwrap();
    assert_eq!(hello.kind, "hello-ok");
    assert_eq!(hello.protocol, PROTOCOL_VERSION);
    assert_eq!(hello.auth.role, "node");
    assert!(hello.auth.device_token.is_some());
}

#[tokio::test]
async fn a_bad_signature_is_refused() {
    let gw = TestGateway::start_auto_approve().await;
    let o = attempt(&gw.url, |p, _| {
        let other = DeviceIdentity::generate();
        p["device"]["signature"] = json!(other.sign("something else"));
    })
    .await;
    assert_eq!(detail(&o), detail_codes::DEVICE_AUTH_SIGNATURE_INVALID);
    assert_eq!(o.close, Some(close_codes::POLICY));
}

#[tokio::test]
async fn a_stale_signed_at_is_refused() {
    let gw = TestGateway::start_auto_approve().await;
    let o = attempt(&gw.url, |p, c| {
        p["device"]["signedAt"] = json!(c.ts - 10 * 60 * 1000);
    })
    .await;
    assert_eq!(detail(&o), detail_codes::DEVICE_AUTH_SIGNATURE_EXPIRED);
    assert_eq!(o.close, Some(close_codes::POLICY));
}

#[tokio::test]
async fn a_node_without_a_device_block_is_refused() {
    let gw = TestGateway::start_auto_approve().await;
    let o = attempt(&gw.url, |p, _| {
        p.as_object_mut().unwrap().remove("device");
    })
    .await;
    let err = o.response.as_ref().unwrap().error.as_ref().unwrap();
    assert_eq!(err.code, "NOT_PAIRED");
    assert_eq!(detail(&o), detail_codes::DEVICE_IDENTITY_REQUIRED);
    assert_eq!(o.close, Some(close_codes::POLICY));
}

#[tokio::test]
async fn an_unknown_connect_field_is_refused() {
    let gw = TestGateway::start_auto_approve().await;
    let o = attempt(&gw.url, |p, _| p["bogus"] = json!(1)).await;
    let err = o.response.as_ref().unwrap().error.as_ref().unwrap();
    assert_eq!(err.code, "INVALID_REQUEST");
    assert!(err.message.contains("bogus"), "{err:?}");
    assert_eq!(o.close, Some(close_codes::POLICY));
}

#[tokio::test]
async fn a_protocol_mismatch_closes_1002() {
    let gw = TestGateway::start_auto_approve().await;
    let o = attempt(&gw.url, |p, _| {
        p["minProtocol"] = json!(9);
        p["maxProtocol"] = json!(9);
    })
    .await;
    assert_eq!(detail(&o), detail_codes::PROTOCOL_MISMATCH);
    assert_eq!(o.close, Some(close_codes::PROTOCOL_MISMATCH));
}

#[tokio::test]
async fn an_oversized_preauth_frame_closes_1009_and_the_gateway_keeps_serving() {
    let gw = TestGateway::start_auto_approve().await;
    let (mut ws, _challenge) = open(&gw.url).await;
    let huge = format!(
        r#"{{"type":"req","id":"x","method":"connect","params":{{"pad":"{}"}}}}"#,
        "a".repeat(MAX_PREAUTH_PAYLOAD_BYTES + 1)
    );
    let _ = ws.send(Message::text(huge)).await;
    let o = finish(ws).await;
    assert_eq!(o.close, Some(close_codes::TOO_LARGE));
    // Still serving: a valid handshake works afterwards.
    let (mut ws, challenge) = open(&gw.url).await;
    let params = node_connect(&DeviceIdentity::generate(), &challenge);
    ws.send(Message::text(
        Frame::request("c1", "connect", params).to_text(),
    ))
    .await
    .unwrap();
    let o = finish_first_response(ws).await;
    assert!(o.ok, "{o:?}");
}

#[tokio::test]
async fn a_first_request_other_than_connect_is_refused() {
    let gw = TestGateway::start_auto_approve().await;
    let (mut ws, _challenge) = open(&gw.url).await;
    ws.send(Message::text(
        Frame::request("1", "node.list", json!({})).to_text(),
    ))
    .await
    .unwrap();
    let o = finish(ws).await;
    let err = o.response.unwrap().error.unwrap();
    assert_eq!(err.code, "INVALID_REQUEST");
    assert!(
        err.message.contains("first request must be connect"),
        "{err:?}"
    );
    assert_eq!(o.close, Some(close_codes::POLICY));
}

async fn finish_first_response(mut ws: Ws) -> ResponseFrame {
    loop {
        match within("a response", ws.next()).await {
            Some(Ok(Message::Text(t))) => {
                if let Ok(Frame::Res(r)) = Frame::parse(&t) {
                    return r;
                }
            }
            other => panic!("connection ended without a response: {other:?}"),
        }
    }
}

/// A connect captured from one connection and replayed on another: its signature covers
/// the first challenge's nonce, so it fails whether the nonce field is left alone or
/// rewritten to the new challenge's.
#[tokio::test]
async fn a_replayed_connect_is_refused_on_a_new_challenge() {
    let gw = TestGateway::start_auto_approve().await;
    let identity = DeviceIdentity::generate();
    let (first, first_challenge) = open(&gw.url).await;
    let captured = node_connect(&identity, &first_challenge);
    drop(first);

    let (mut ws, _) = open(&gw.url).await;
    ws.send(Message::text(
        Frame::request("c1", methods::CONNECT, captured.clone()).to_text(),
    ))
    .await
    .unwrap();
    let o = finish(ws).await;
    assert_eq!(detail(&o), detail_codes::DEVICE_AUTH_NONCE_MISMATCH);
    assert_eq!(o.close, Some(close_codes::POLICY));

    let (mut ws, second_challenge) = open(&gw.url).await;
    let mut rewritten = captured;
    rewritten["device"]["nonce"] = json!(second_challenge.nonce);
    ws.send(Message::text(
        Frame::request("c1", methods::CONNECT, rewritten).to_text(),
    ))
    .await
    .unwrap();
    let o = finish(ws).await;
    assert_eq!(detail(&o), detail_codes::DEVICE_AUTH_SIGNATURE_INVALID);
    assert_eq!(o.close, Some(close_codes::POLICY));
}

/// The right payload signed by a different key, and a device id that is not the hash of
/// the public key presented: both refused before any pairing state is touched.
#[tokio::test]
async fn a_signature_by_another_key_or_a_borrowed_device_id_is_refused() {
    let gw = TestGateway::start_auto_approve().await;
    let o = attempt(&gw.url, |p, c| {
        // Claims one device's id and key; signed by another device's key.
        let forged =
            node_connect_signed_by(&DeviceIdentity::generate(), &DeviceIdentity::generate(), c);
        p["device"] = forged["device"].clone();
    })
    .await;
    assert_eq!(detail(&o), detail_codes::DEVICE_AUTH_SIGNATURE_INVALID);
    assert_eq!(o.close, Some(close_codes::POLICY));

    let o = attempt(&gw.url, |p, _| {
        p["device"]["id"] = json!(DeviceIdentity::generate().device_id());
    })
    .await;
    assert_eq!(detail(&o), detail_codes::DEVICE_AUTH_DEVICE_ID_MISMATCH);
    assert_eq!(o.close, Some(close_codes::POLICY));
    assert!(
        gw.operator()
            .await
            .device_pair_list()
            .await
            .unwrap()
            .pending
            .is_empty()
    );
}
