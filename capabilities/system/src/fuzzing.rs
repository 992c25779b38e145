//! The exec-approvals fuzz body, and the checks of `system.run`'s inputs that the node's
//! `invoke` body reuses (`openclaw_node::fuzzing`), kept here so that they reach this
//! crate's internals (command analysis, the glob, the shell quoting) without those being
//! public. Built only with the `fuzzing` feature, which `cargo fuzz` and the node's tests
//! turn on. A body does no I/O, runs no command, and panics when an invariant breaks.
//!
//! Not an API: hidden from the docs and free to change with the targets.

use openclaw_capability_api::{CapabilityError, ErrorCode};
use serde_json::Value;

use crate::approvals::analysis::{
    Analysis, BLOCKED_WRAPPERS, Segment, analyze, exe_name, inline_eval, split_payload,
};
use crate::approvals::doc::{ApprovalsDoc, Ask, Security};
use crate::approvals::policy::{glob_match, quote, resolve_policy};
use crate::run::{command_text, validate_command};

/// A decoding failure is `INVALID_REQUEST` with one of the reference's sentences, never
/// the decoder's own words.
pub fn assert_invalid_request(e: &CapabilityError) {
    assert_eq!(e.code, ErrorCode::InvalidRequest, "{e}");
    let known = [
        "command required",
        "rawCommand requires params.command",
        "INVALID_REQUEST: rawCommand does not match command",
    ];
    assert!(
        known.contains(&e.message.as_str())
            || e.message.starts_with("Error: INVALID_REQUEST: ")
            || e.message.starts_with("invalid "),
        "{e}"
    );
    assert!(
        !e.message.contains(" at line ") && !e.message.contains("expected "),
        "{e}"
    );
}

/// `system.run`'s checks before the file system: an accepted argv has a first word, its
/// `rawCommand` is its canonical text or its shell payload, and its analysis is sound.
pub fn check_run(command: Option<Vec<String>>, raw: Option<&str>) {
    match validate_command(command, raw) {
        Err(e) => assert_invalid_request(&e),
        Ok((argv, analysis)) => {
            assert!(!argv.is_empty());
            if let Some(raw) = raw {
                assert!(
                    raw.trim() == command_text(&argv) || Some(raw) == analysis.payload.as_deref(),
                    "rawCommand {raw:?} accepted for {argv:?}"
                );
            }
            assert_eq!(analysis, analyze(&argv), "analysis is not deterministic");
            check_analysis(&argv, &analysis);
        }
    }
}

/// An approvals document as `system.execApprovals.set` receives it: if it parses, its
/// normalised form passes the document checks of [`approvals`].
pub fn check_approvals_file(file: Value) {
    if let Ok(doc) = serde_json::from_value::<ApprovalsDoc>(file) {
        check_doc(doc.normalize());
    }
}

/// Exec approvals: the first byte picks what the rest is.
///
/// - 0: an approvals document: parse → serialise → parse is stable; redaction removes
///   `socket.token` and nothing else; resolving a policy can only tighten the node's.
/// - 1: an argv (words split on NUL) for `analyze`, `inline_eval`, `exe_name`.
/// - 2: a shell payload for `split_payload`: segments and operators line up, and the
///   segments re-rendered with `quote` split back to the same words.
/// - 3: an allowlist glob and a path (split on the first NUL) for `glob_match`.
pub fn approvals(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(doc) = ApprovalsDoc::parse(Some(text)) {
                check_doc(doc);
            }
        }
        1 => {
            let argv: Vec<String> = rest
                .split(|b| *b == 0)
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            let analysis = analyze(&argv);
            check_analysis(&argv, &analysis);
            for word in &argv {
                let name = exe_name(word);
                assert!(!name.contains(['/', '\\']), "{name:?}");
                assert!(!name.chars().any(|c| c.is_ascii_uppercase()), "{name:?}");
            }
            inline_eval(&argv);
        }
        2 => {
            let payload = String::from_utf8_lossy(rest);
            check_payload(&payload);
            let argv = vec!["sh".to_string(), "-c".to_string(), payload.into_owned()];
            let analysis = analyze(&argv);
            check_analysis(&argv, &analysis);
        }
        _ => {
            let mut parts = rest.splitn(2, |b| *b == 0);
            let pattern = String::from_utf8_lossy(parts.next().unwrap_or_default());
            let text = String::from_utf8_lossy(parts.next().unwrap_or_default());
            let matched = glob_match(&pattern, &text);
            // The definition costs |pattern| × |text|² on `**`: small inputs only.
            if pattern.len() <= 32 && text.len() <= 64 {
                assert_eq!(
                    matched,
                    glob_by_definition(pattern.as_bytes(), text.as_bytes()),
                    "{pattern:?} vs {text:?}"
                );
            }
            if !pattern.contains(['*', '?']) {
                assert_eq!(matched, pattern == text, "{pattern:?} vs {text:?}");
            }
        }
    }
}

/// The glob as first written (recursive: `**` any run, `*` a run without `/`, `?` one
/// byte but `/`), memoised so it stays cheap; `glob_match` must agree with it.
fn glob_by_definition(p: &[u8], t: &[u8]) -> bool {
    fn go(p: &[u8], t: &[u8], pi: usize, ti: usize, memo: &mut [Option<bool>]) -> bool {
        let key = pi * (t.len() + 1) + ti;
        if let Some(known) = memo[key] {
            return known;
        }
        let (rest, text) = (&p[pi..], &t[ti..]);
        let result = match rest {
            [] => text.is_empty(),
            [b'*', b'*', ..] => (ti..=t.len()).any(|j| go(p, t, pi + 2, j, memo)),
            [b'*', ..] => {
                let limit = text.iter().position(|c| *c == b'/').unwrap_or(text.len());
                (ti..=ti + limit).any(|j| go(p, t, pi + 1, j, memo))
            }
            [b'?', ..] => {
                text.first().is_some_and(|c| *c != b'/') && go(p, t, pi + 1, ti + 1, memo)
            }
            [c, ..] => text.first() == Some(c) && go(p, t, pi + 1, ti + 1, memo),
        };
        memo[key] = Some(result);
        result
    }
    go(p, t, 0, 0, &mut vec![None; (p.len() + 1) * (t.len() + 1)])
}

/// A parsed (normalised) document: it survives the store's serialisation, redaction
/// removes only the socket token, and it never widens the node's own policy.
fn check_doc(doc: ApprovalsDoc) {
    assert_eq!(doc.version, 1);
    assert!(!doc.agents.contains_key("default"), "legacy agent kept");
    for agent in doc.agents.values() {
        for e in &agent.allowlist {
            assert!(e.id.is_some(), "an entry without an id");
            assert!(!e.pattern.trim().is_empty(), "an empty pattern");
        }
    }
    let stored = serde_json::to_string_pretty(&doc).expect("a document serialises");
    let again = ApprovalsDoc::parse(Some(&stored)).expect("a stored document parses");
    assert_eq!(again, doc, "document changed through the store: {stored}");

    let redacted = doc.redacted();
    if let Some(Value::Object(socket)) = &redacted.socket {
        assert!(!socket.contains_key("token"));
    }
    let mut without_socket = redacted.clone();
    without_socket.socket = doc.socket.clone();
    if let Some(Value::Object(socket)) = &mut without_socket.socket {
        socket.remove("token");
    }
    assert_eq!(
        redacted, without_socket,
        "redaction changed more than the token"
    );

    let agents = doc.agents.keys().map(String::as_str);
    for agent in agents.chain(["main", "*", "other"]) {
        for requested in [
            (Security::Deny, Ask::Always),
            (Security::Allowlist, Ask::OnMiss),
            (Security::Full, Ask::Off),
        ] {
            let p = resolve_policy(&doc, agent, requested);
            assert!(
                p.security <= requested.0,
                "{agent}: the document widened security"
            );
            assert!(p.ask >= requested.1, "{agent}: the document relaxed ask");
        }
    }
}

/// What holds for any analysis: understood ⇔ at least one segment; no segment is empty or
/// starts with a privilege wrapper; a shell payload's segments are joined by one operator
/// each.
fn check_analysis(argv: &[String], a: &Analysis) {
    assert_eq!(a.ok(), !a.segments.is_empty(), "{argv:?}: {a:?}");
    for s in &a.segments {
        assert!(!s.argv.is_empty(), "{argv:?}: an empty segment");
        let name = exe_name(&s.argv[0]);
        assert!(
            !BLOCKED_WRAPPERS.contains(&name.as_str()),
            "{argv:?}: a privilege wrapper passed analysis"
        );
    }
    if a.ok() && a.shell.is_some() {
        assert_eq!(a.operators.len() + 1, a.segments.len(), "{argv:?}: {a:?}");
    }
    if a.shell.is_none() && a.ok() {
        assert_eq!(a.segments.len(), 1);
    }
}

/// `split_payload` on any text; what it accepts re-renders (as a pinned payload is
/// rendered) into text that splits back to the same words.
fn check_payload(payload: &str) {
    let Ok((segments, operators)) = split_payload(payload) else {
        return;
    };
    assert_eq!(operators.len() + 1, segments.len(), "{payload:?}");
    assert!(segments.iter().all(|s| !s.argv.is_empty()), "{payload:?}");
    let rendered = render(&segments, &operators);
    match split_payload(&rendered) {
        Ok((again, ops)) => {
            assert_eq!(again, segments, "{payload:?} re-rendered as {rendered:?}");
            assert_eq!(ops, operators, "{payload:?} re-rendered as {rendered:?}");
        }
        Err(e) => panic!("{payload:?} re-rendered as {rendered:?}, which fails: {e}"),
    }
}

/// Segments joined by their operators, every word single-quoted.
fn render(segments: &[Segment], operators: &[String]) -> String {
    let mut out = String::new();
    for (i, s) in segments.iter().enumerate() {
        if i > 0 {
            out.push(' ');
            out.push_str(&operators[i - 1]);
            out.push(' ');
        }
        let words: Vec<String> = s.argv.iter().map(|w| quote(w)).collect();
        out.push_str(&words.join(" "));
    }
    out
}
