//! The bodies of the `cargo fuzz` targets in `fuzz/` (issue #9). Each target there is one
//! line that calls a function here, so `tests/it/fuzz_corpus.rs` replays the committed
//! corpus and crash inputs through the very same code in a normal `cargo test`.
//!
//! A body takes the fuzzer's bytes, does no I/O, runs no command, and panics when an
//! invariant breaks: that panic is the finding. Every body checks more than "does not
//! panic": parse → serialise → parse gives the same value, a refused handshake carries a
//! close reason a WebSocket can send, an accepted `connect` carries a valid device proof,
//! an approvals document can only tighten the node's policy, and so on.
//!
//! Built only with the `fuzzing` feature (which `fuzz/` and the tests turn on), so no
//! shipped binary carries it. The exec-approvals body is
//! `openclaw_capability_system::fuzzing`, re-exported here, so that the system crate keeps
//! its command analysis private.
//!
//! Not an API: hidden from the docs and free to change with the targets.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openclaw_capability_api::parse_params;
/// The exec-approvals body lives in the `system` crate, next to the internals it checks.
pub use openclaw_capability_system::fuzzing::approvals;
use openclaw_capability_system::fuzzing::{
    assert_invalid_request, check_approvals_file, check_run,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::gateway::{Refusal, ValidConnect, validate_connect};
use crate::identity::{self, DeviceIdentity, SignaturePayload};
use crate::protocol::setup_code::{encode_setup_code, parse_setup_code};
use crate::protocol::*;

/// A target's body: the fuzzer's bytes in, a panic when an invariant breaks.
pub type Body = fn(&[u8]);

/// Every target: its name (`fuzz/fuzz_targets/<name>.rs`, `fuzz/corpus/<name>/`,
/// `fuzz/regressions/<name>/`) and its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("frame", frame),
    ("connect", connect),
    ("connect_signed", connect_signed),
    ("invoke", invoke),
    ("approvals", approvals),
    ("setup_code", setup_code),
];

/// The challenge nonce the `connect` targets validate against (spec §14's test nonce).
pub const NONCE: &str = "3f2b6c1e-7a4d-4e2b-9c1a-0d5e8f7a6b21";
/// The gateway clock of the `connect` targets (spec §14's `signedAt`).
pub const NOW_MS: u64 = 1_737_264_000_000;
/// The device key of `connect_signed` (RFC 8032 §7.1 test 1, as in spec §14).
const SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];
/// A second key, for a proof signed by someone else.
const OTHER_SEED: [u8; 32] = [7; 32];

// ---------------------------------------------------------------------------------------
// frame

/// `Frame::parse` (node side) and `Frame::parse_strict` (gateway side) on any bytes: bytes
/// that are not UTF-8 never make a frame, and a frame that parses survives `to_text` and a
/// second parse unchanged.
pub fn frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(
            serde_json::from_slice::<Frame>(data).is_err(),
            "bytes that are not UTF-8 parsed as a frame"
        );
        return;
    };
    if let Ok(f) = Frame::parse(text) {
        assert_reparses(&f, Frame::parse, "lenient");
    }
    if let Ok(f) = Frame::parse_strict(text) {
        assert_reparses(&f, Frame::parse_strict, "strict");
        assert_reparses(&f, Frame::parse, "lenient (of a strict frame)");
    }
}

fn assert_reparses(f: &Frame, parse: fn(&str) -> Result<Frame, FrameError>, which: &str) {
    let text = f.to_text();
    match parse(&text) {
        Ok(again) => assert_eq!(&again, f, "{which} parse changed the frame: {text}"),
        Err(e) => panic!("{which} parse refused its own output ({e}): {text}"),
    }
}

// ---------------------------------------------------------------------------------------
// connect

/// The embedded gateway's `connect` checks (`validate_connect`) on any first frame.
pub fn connect(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_connect(text, &validate_connect(text, NONCE, NOW_MS));
}

/// What holds for every outcome of [`validate_connect`].
fn check_connect(text: &str, outcome: &Result<ValidConnect, Box<Refusal>>) {
    match outcome {
        Err(refusal) => check_refusal(refusal),
        Ok(valid) => check_accepted(text, valid),
    }
}

fn check_refusal(r: &Refusal) {
    assert!(
        r.reason.len() <= MAX_CLOSE_REASON_BYTES,
        "close reason of {} bytes cannot be sent: {:?}",
        r.reason.len(),
        r.reason
    );
    assert!(
        [
            close_codes::NORMAL,
            close_codes::PROTOCOL_MISMATCH,
            close_codes::POLICY,
            close_codes::TOO_LARGE
        ]
        .contains(&r.code),
        "unexpected close code {}",
        r.code
    );
    if let Some((id, error)) = &r.response {
        assert!(!id.is_empty(), "an error response without a request id");
        assert!(!error.code.is_empty() && !error.message.is_empty());
        // The node must be able to read the answer it is sent.
        let sent = Frame::err(id.clone(), error.clone());
        assert_eq!(Frame::parse(&sent.to_text()).ok(), Some(sent));
    }
}

/// An accepted `connect` is one the spec accepts: closed params, known client, a protocol
/// range that meets ours, a known role, and for a device (required for nodes) a proof by
/// that key over these very fields, on this nonce, inside the clock window.
fn check_accepted(text: &str, v: &ValidConnect) {
    assert!(text.len() <= MAX_PREAUTH_PAYLOAD_BYTES);
    let Ok(Frame::Req(req)) = Frame::parse_strict(text) else {
        panic!("accepted a frame that is not a strict request");
    };
    assert_eq!(req.method, methods::CONNECT);
    assert_eq!(req.id, v.request_id);
    let p = &v.params;
    assert!(
        CLIENT_IDS.contains(&p.client.id.as_str()),
        "{}",
        p.client.id
    );
    assert!(CLIENT_MODES.contains(&p.client.mode.as_str()));
    assert!(!p.client.version.is_empty() && !p.client.platform.is_empty());
    assert_eq!(v.role, p.role.as_deref().unwrap_or(ROLE_OPERATOR));
    assert!(
        v.role == ROLE_NODE || v.role == ROLE_OPERATOR,
        "role {}",
        v.role
    );
    let speaks = |x: u32| p.min_protocol <= x && x <= p.max_protocol;
    let node_client = v.role == ROLE_NODE && p.client.mode == CLIENT_MODE_NODE;
    assert!(
        speaks(PROTOCOL_VERSION) || (node_client && speaks(MIN_NODE_PROTOCOL_VERSION)),
        "accepted protocols {}..={}",
        p.min_protocol,
        p.max_protocol
    );
    if v.role == ROLE_NODE {
        assert!(p.device.is_some(), "a node was accepted without a device");
    }
    let Some(d) = &p.device else { return };
    let key = identity::normalize_public_key(&d.public_key).expect("accepted an invalid key");
    assert_eq!(
        identity::device_id_for(&key),
        d.id,
        "device id is not the key's"
    );
    assert_eq!(d.nonce, NONCE, "accepted a proof for another nonce");
    assert!(
        NOW_MS.abs_diff(d.signed_at) <= SIGNATURE_SKEW_MS.unsigned_abs(),
        "accepted signedAt {} outside the window",
        d.signed_at
    );
    let scopes = p.scopes.clone().unwrap_or_default();
    let auth = p.auth.clone().unwrap_or_default();
    let payload = SignaturePayload {
        device_id: &d.id,
        client_id: &p.client.id,
        client_mode: &p.client.mode,
        role: &v.role,
        scopes: &scopes,
        signed_at_ms: d.signed_at,
        token: auth.signed_token(),
        nonce: &d.nonce,
        platform: Some(&p.client.platform),
        device_family: p.client.device_family.as_deref(),
    };
    assert!(
        identity::verify(&key, &payload.v3(), &d.signature)
            || identity::verify(&key, &payload.v2(), &d.signature),
        "accepted a signature that covers other fields"
    );
}

/// String fields of a connect a mutation can set or remove.
const STRING_PATHS: &[&[&str]] = &[
    &["client", "id"],
    &["client", "mode"],
    &["client", "version"],
    &["client", "platform"],
    &["client", "deviceFamily"],
    &["role"],
    &["device", "id"],
    &["device", "publicKey"],
    &["device", "signature"],
    &["device", "nonce"],
    &["auth", "token"],
    &["auth", "deviceToken"],
    &["auth", "bootstrapToken"],
    // From here on: fields no check reads (the password is never signed), so changing
    // them keeps a connect valid.
    &["auth", "password"],
    &["client", "displayName"],
    &["client", "modelIdentifier"],
    &["client", "instanceId"],
    &["locale"],
    &["userAgent"],
    &["pathEnv"],
];
/// Index of the first field of [`STRING_PATHS`] that no check reads.
const FIRST_UNCHECKED: usize = 13;
/// Every field of a connect a mutation can replace with any JSON or remove.
const ANY_PATHS: &[&[&str]] = &[
    &["minProtocol"],
    &["maxProtocol"],
    &["client"],
    &["scopes"],
    &["caps"],
    &["commands"],
    &["permissions"],
    &["auth"],
    &["device"],
    &["device", "signedAt"],
    &["client", "id"],
    &["client", "mode"],
    &["role"],
    &["device", "signature"],
    &["device", "publicKey"],
];
/// Objects a mutation can add an unknown key to.
const OBJECT_PATHS: &[&[&str]] = &[&[], &["client"], &["auth"], &["device"]];
/// Values worth trying in string fields.
const WORDS: &[&str] = &[
    "",
    " ",
    "node",
    "operator",
    "node-host",
    "cli",
    "test",
    "linux",
    " Linux ",
    "LINUX",
    "Linux",
    "İ",
    "ß",
    "|",
    "||",
    NONCE,
    "v3",
    "v2",
    "admin",
    "operator.admin",
    "\u{0}",
];

/// A byte reader: the fuzzer's input as a sequence of mutation operations.
struct Ops<'a>(&'a [u8]);

impl Ops<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }

    /// A length-prefixed string (lossy UTF-8).
    fn string(&mut self) -> String {
        let n = self.byte().unwrap_or(0) as usize;
        String::from_utf8_lossy(self.bytes(n)).into_owned()
    }

    fn u64(&mut self) -> u64 {
        let mut raw = [0u8; 8];
        let b = self.bytes(8);
        raw[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(raw)
    }

    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.byte().unwrap_or(0) as usize % items.len()]
    }
}

fn get<'v>(root: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(root, |v, k| v.get(k))
}

fn set(root: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        *root = value;
        return;
    };
    let mut at = root;
    for k in parents {
        let Value::Object(map) = at else { return };
        at = map.entry(*k).or_insert_with(|| Value::Object(Map::new()));
    }
    if let Value::Object(map) = at {
        map.insert((*last).to_string(), value);
    }
}

fn remove(root: &mut Value, path: &[&str]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = root;
    for k in parents {
        match at.get_mut(k) {
            Some(v) => at = v,
            None => return,
        }
    }
    if let Value::Object(map) = at {
        map.remove(*last);
    }
}

/// Signs the connect's device proof over its current fields (what an honest client with
/// this key would send), with the v3 payload or the v2 one.
fn sign(params: &mut Value, key: &DeviceIdentity, v3: bool) {
    let text = |path: &[&str]| {
        get(params, path)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let scopes: Vec<String> = get(params, &["scopes"])
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let token = text(&["auth", "token"])
        .or_else(|| text(&["auth", "deviceToken"]))
        .or_else(|| text(&["auth", "bootstrapToken"]))
        .unwrap_or_default();
    let (device_id, client_id, mode) = (
        text(&["device", "id"]).unwrap_or_default(),
        text(&["client", "id"]).unwrap_or_default(),
        text(&["client", "mode"]).unwrap_or_default(),
    );
    let role = text(&["role"]).unwrap_or_else(|| ROLE_OPERATOR.into());
    let (nonce, platform, family) = (
        text(&["device", "nonce"]).unwrap_or_default(),
        text(&["client", "platform"]),
        text(&["client", "deviceFamily"]),
    );
    let payload = SignaturePayload {
        device_id: &device_id,
        client_id: &client_id,
        client_mode: &mode,
        role: &role,
        scopes: &scopes,
        signed_at_ms: get(params, &["device", "signedAt"])
            .and_then(Value::as_u64)
            .unwrap_or(0),
        token: &token,
        nonce: &nonce,
        platform: platform.as_deref(),
        device_family: family.as_deref(),
    };
    let text = if v3 { payload.v3() } else { payload.v2() };
    set(params, &["device", "signature"], json!(key.sign(&text)));
}

/// The node `connect` params an honest [`SEED`] device sends (signed once, then cached).
fn valid_connect(me: &DeviceIdentity) -> Value {
    let mut params = json!({
        "minProtocol": 3, "maxProtocol": 4,
        "client": {"id": "node-host", "version": "0.1.0", "platform": "linux",
                   "deviceFamily": "Linux", "mode": "node", "displayName": "fuzz"},
        "role": "node", "scopes": [], "caps": ["system"], "commands": ["system.run"],
        "auth": {"token": "shared-token-123"},
        "device": {"id": me.device_id(), "publicKey": me.public_key(), "signature": "",
                   "signedAt": NOW_MS, "nonce": NONCE},
    });
    sign(&mut params, me, true);
    params
}

/// A valid signed node `connect` for the `SEED` identity, then the fuzzer's mutations
/// of its fields (see `Ops`): values, types, unknown keys, clock, nonce, key encodings,
/// re-signing, signature bits. Reaches every device-proof check, which raw JSON rarely
/// does. Beyond [`connect`]'s checks: with no mutation, or only of fields no check
/// reads, the connect is accepted.
pub fn connect_signed(data: &[u8]) {
    // Keys and the first signature cost more than the rest of a run: make them once.
    static KEYS: std::sync::OnceLock<(DeviceIdentity, DeviceIdentity, Value)> =
        std::sync::OnceLock::new();
    let (me, other, valid) = KEYS.get_or_init(|| {
        let me = DeviceIdentity::from_seed(&SEED);
        let valid = valid_connect(&me);
        (me, DeviceIdentity::from_seed(&OTHER_SEED), valid)
    });
    let mut params = valid.clone();
    let mut id = "c1".to_string();
    let mut still_valid = true;
    let mut ops = Ops(data);
    while let Some(op) = ops.byte() {
        match op % 13 {
            0 => {
                let i = ops.byte().unwrap_or(0) as usize % STRING_PATHS.len();
                still_valid &= i >= FIRST_UNCHECKED;
                set(&mut params, STRING_PATHS[i], json!(ops.string()));
            }
            1 => {
                let i = ops.byte().unwrap_or(0) as usize % STRING_PATHS.len();
                still_valid &= i >= FIRST_UNCHECKED;
                let word = *ops.pick(WORDS);
                set(&mut params, STRING_PATHS[i], json!(word));
            }
            2 => {
                let i = ops.byte().unwrap_or(0) as usize % STRING_PATHS.len();
                still_valid &= i >= FIRST_UNCHECKED;
                remove(&mut params, STRING_PATHS[i]);
            }
            3 => {
                still_valid = false;
                let path = *ops.pick(ANY_PATHS);
                let raw = ops.string();
                let value = serde_json::from_str(&raw).unwrap_or(Value::String(raw));
                set(&mut params, path, value);
            }
            4 => {
                still_valid = false;
                let path = *ops.pick(ANY_PATHS);
                remove(&mut params, path);
            }
            5 => {
                still_valid = false;
                let path = *ops.pick(ANY_PATHS);
                set(&mut params, path, json!(ops.u64()));
            }
            6 => {
                // signedAt moved by up to ±2^31 ms.
                still_valid = false;
                let delta = i64::from(ops.u64() as i32);
                set(
                    &mut params,
                    &["device", "signedAt"],
                    json!(NOW_MS.saturating_add_signed(delta)),
                );
            }
            7 => {
                let v3 = ops.byte().unwrap_or(0) % 2 == 0;
                let signer = if ops.byte().unwrap_or(0) % 4 == 0 {
                    still_valid = false;
                    other
                } else {
                    me
                };
                sign(&mut params, signer, v3);
            }
            8 => {
                still_valid = false;
                let bit = ops.byte().unwrap_or(0) as usize;
                let sig = get(&params, &["device", "signature"])
                    .and_then(Value::as_str)
                    .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
                if let Some(mut sig) = sig.filter(|s| !s.is_empty()) {
                    let i = (bit / 8) % sig.len();
                    sig[i] ^= 1 << (bit % 8);
                    let text = URL_SAFE_NO_PAD.encode(sig);
                    set(&mut params, &["device", "signature"], json!(text));
                }
            }
            9 => {
                // The same key in the other encodings a gateway accepts.
                let raw = me.public_key_raw();
                let mut spki = vec![
                    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
                ];
                spki.extend_from_slice(&raw);
                let text = match ops.byte().unwrap_or(0) % 3 {
                    0 => STANDARD.encode(raw),
                    1 => format!(
                        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                        STANDARD.encode(&spki)
                    ),
                    _ => URL_SAFE_NO_PAD.encode(&spki),
                };
                set(&mut params, &["device", "publicKey"], json!(text));
            }
            10 => {
                still_valid = false;
                let path = *ops.pick(OBJECT_PATHS);
                let key = ops.string();
                let mut full = path.to_vec();
                full.push(&key);
                set(&mut params, &full, json!(1));
            }
            11 => {
                id = ops.string();
                still_valid &= !id.is_empty();
            }
            _ => {
                let which = *ops.pick(&["scopes", "caps", "commands"]);
                still_valid &= which != "scopes";
                let word = ops.string();
                if let Some(Value::Array(list)) = params.get_mut(which) {
                    list.push(json!(word));
                }
            }
        }
    }
    let text = Frame::request(id, methods::CONNECT, params).to_text();
    let outcome = validate_connect(&text, NONCE, NOW_MS);
    check_connect(&text, &outcome);
    if still_valid && text.len() <= MAX_PREAUTH_PAYLOAD_BYTES {
        assert!(
            outcome.is_ok(),
            "a valid connect was refused: {:?}\n{text}",
            outcome.err()
        );
    }
}

// ---------------------------------------------------------------------------------------
// invoke

/// Every command a node serves (with the `browser`, `screen` and `camera` features).
pub const COMMANDS: &[&str] = &[
    "system.run",
    "system.run.prepare",
    "system.which",
    "system.execApprovals.get",
    "system.execApprovals.set",
    "browser.proxy",
    "browser.proxy.upload.v1",
    "screen.snapshot",
    "camera.list",
    "camera.snap",
    "device.info",
    "device.status",
];

/// A `node.invoke.request` payload → [`NodeInvokeRequest`] (which must survive a round
/// trip), then its `paramsJSON` decoded for every command as the dispatcher decodes it
/// (`parse_params`), then the checks `system.run` and `system.run.prepare` make before
/// touching the file system. Nothing runs.
///
/// Input: a first byte below `COMMANDS.len()` names a command and the rest is its
/// `paramsJSON`; anything else is the whole payload as JSON.
pub fn invoke(data: &[u8]) {
    let payload = match data.split_first() {
        Some((&i, rest)) if usize::from(i) < COMMANDS.len() => json!({
            "id": "fuzz-1", "nodeId": "node", "command": COMMANDS[usize::from(i)],
            "paramsJSON": String::from_utf8_lossy(rest),
        }),
        _ => match serde_json::from_slice::<Value>(data) {
            Ok(v) => v,
            Err(_) => return,
        },
    };
    let Ok(req) = serde_json::from_value::<NodeInvokeRequest>(payload) else {
        return;
    };
    let again = serde_json::to_value(&req).and_then(serde_json::from_value::<NodeInvokeRequest>);
    assert_eq!(again.ok().as_ref(), Some(&req), "invoke request round trip");
    for command in COMMANDS {
        decode_params(command, req.params_json.as_deref());
    }
}

fn decode_params(command: &str, text: Option<&str>) {
    use openclaw_capability_system::run::{GetParams, PrepareParams, RunParams, SetParams};
    match command {
        "system.run" => {
            if let Some(p) = decoded::<RunParams>(command, text) {
                check_run(p.command, p.raw_command.as_deref());
            }
        }
        "system.run.prepare" => {
            if let Some(p) = decoded::<PrepareParams>(command, text) {
                check_run(p.command, p.raw_command.as_deref());
            }
        }
        "system.which" => {
            decoded::<openclaw_capability_system::which::WhichParams>(command, text);
        }
        "system.execApprovals.get" => {
            decoded::<GetParams>(command, text);
        }
        "system.execApprovals.set" => {
            if let Some(SetParams {
                file: Some(file @ Value::Object(_)),
                ..
            }) = decoded::<SetParams>(command, text)
            {
                check_approvals_file(file);
            }
        }
        #[cfg(feature = "browser")]
        "browser.proxy" | "browser.proxy.upload.v1" => {
            decoded::<openclaw_capability_browser::ProxyParams>(command, text);
        }
        #[cfg(feature = "screen")]
        "screen.snapshot" => {
            decoded::<openclaw_capability_screen::SnapshotParams>(command, text);
        }
        #[cfg(feature = "camera")]
        "camera.list" => {
            decoded::<Value>(command, text);
        }
        #[cfg(feature = "camera")]
        "camera.snap" => {
            decoded::<openclaw_capability_camera::SnapParams>(command, text);
        }
        "device.info" => {
            decoded::<openclaw_capability_device::NoParams>(command, text);
        }
        "device.status" => {
            decoded::<openclaw_capability_device::StatusParams>(command, text);
        }
        _ => {}
    }
}

/// Params as the dispatcher decodes them; a failure must be `INVALID_REQUEST`.
fn decoded<P: DeserializeOwned>(command: &str, text: Option<&str>) -> Option<P> {
    match parse_params::<P>(command, text) {
        Ok(p) => Some(p),
        Err(e) => {
            assert_invalid_request(&e);
            None
        }
    }
}

// ---------------------------------------------------------------------------------------
// setup codes

/// Setup codes: the first byte picks what the rest is.
///
/// - even: pasted text for `parse_setup_code`; what it accepts has a ws(s) URL and a
///   well-formed token, and encodes back to a code that parses the same.
/// - odd: a URL and a token (split on the first NUL) for `encode_setup_code`; the code
///   parses, in every pasted form, exactly when the URL is ws(s) and the token well-formed,
///   and then gives them back.
pub fn setup_code(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        let Ok(code) = parse_setup_code(text) else {
            return;
        };
        assert!(well_formed(&code.url, code.bootstrap_token.expose()));
        assert!(!code.other_urls.contains(&code.url));
        // An expiry in the past is refused, so only keep one far enough ahead.
        let expires = code
            .expires_at_ms
            .filter(|e| *e > crate::now_ms().saturating_add(86_400_000));
        let encoded = encode_setup_code(&code.url, code.bootstrap_token.expose(), expires);
        if encoded.len() > MAX_SETUP_CODE_BYTES {
            return;
        }
        let again = parse_setup_code(&encoded).expect("a re-encoded setup code parses");
        assert_eq!(again.url, code.url);
        assert_eq!(again.bootstrap_token, code.bootstrap_token);
        assert_eq!(again.expires_at_ms, expires);
    } else {
        let mut parts = rest.splitn(2, |b| *b == 0);
        let Ok(url) = std::str::from_utf8(parts.next().unwrap_or_default()) else {
            return;
        };
        let Ok(token) = std::str::from_utf8(parts.next().unwrap_or_default()) else {
            return;
        };
        let code = encode_setup_code(url, token, None);
        for form in [
            code.clone(),
            format!("  {code}\n"),
            format!("oc-pair://{code}"),
            format!("https://gw.example/join?code={code}"),
            format!("https://gw.example/join#{code}"),
        ] {
            let expected = well_formed(url, token) && form.len() <= MAX_SETUP_CODE_BYTES;
            match parse_setup_code(&form) {
                Ok(c) => {
                    assert!(expected, "accepted url {url:?} token {token:?}");
                    assert_eq!(c.url, url);
                    assert_eq!(c.bootstrap_token.expose(), token);
                }
                Err(e) => assert!(!expected, "{form}: {e}"),
            }
        }
    }
}

/// The longest setup code `parse_setup_code` reads.
const MAX_SETUP_CODE_BYTES: usize = 8 * 1024;

/// What a setup code must carry: a ws(s) URL and a token of 1..=256 printable ASCII bytes.
fn well_formed(url: &str, token: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "ws" | "wss"))
        && !token.is_empty()
        && token.len() <= 256
        && token.bytes().all(|b| (0x21..=0x7e).contains(&b))
}
