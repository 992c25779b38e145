//! Table tests of the `/act` decode: every kind from its wire fields, every message the
//! reference pins, bad kinds, missing fields, out-of-range values, and the batch limits.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::error::ServiceError;
use crate::keys;
fn fails(body: Value) -> (u16, &'static str, String) {
    let e = decode(&body, true).expect_err(&body.to_string());
    (e.code.status(), e.code.as_str(), e.message)
}

#[test]
fn every_kind_decodes_from_its_wire_fields() {
    let ms = Duration::from_millis;
    let cases: Vec<(Value, Action)> = vec![
        (
            json!({"kind": "click", "ref": 12, "doubleClick": "true", "button": "right",
                   "modifiers": ["Shift"], "delayMs": "20", "timeoutMs": 100}),
            Action::Click(Click {
                element: Element::Ref("12".into()),
                button: Button::Right,
                double: true,
                modifiers: 8,
                delay: ms(20),
                budget: ms(500),
            }),
        ),
        (
            json!({"kind": "clickCoords", "x": "10.5", "y": 0}),
            Action::ClickCoords(ClickCoords {
                x: 10.5,
                y: 0.0,
                button: Button::Left,
                double: false,
                delay: ms(0),
                budget: ms(8_000),
            }),
        ),
        (
            json!({"kind": "dragCoords", "x": 1, "y": 2, "endX": 3, "endY": 4}),
            Action::DragCoords(DragCoords {
                from: (1.0, 2.0),
                to: (3.0, 4.0),
                budget: ms(8_000),
            }),
        ),
        (
            json!({"kind": "type", "selector": "#name", "text": "", "submit": 1, "slowly": "yes"}),
            Action::Type(Type {
                element: Element::Selector("#name".into()),
                text: String::new(),
                submit: true,
                slowly: true,
                budget: ms(8_000),
            }),
        ),
        (
            json!({"kind": "press", "key": "ctrl+a", "delayMs": 9_000}),
            Action::Press(Press {
                key: keys::parse_chord("Control+a").unwrap(),
                delay: ms(5_000),
                budget: ms(8_000),
            }),
        ),
        (
            json!({"kind": "hover", "ref": "", "selector": "a"}),
            Action::Hover(Hover {
                element: Element::Selector("a".into()),
                budget: ms(8_000),
            }),
        ),
        (
            json!({"kind": "scrollIntoView", "ref": "e3", "timeoutMs": 999_999}),
            Action::ScrollIntoView(ScrollIntoView {
                element: Element::Ref("e3".into()),
                budget: ms(60_000),
            }),
        ),
        (
            json!({"kind": "drag", "startRef": "e1", "endSelector": "#bin"}),
            Action::Drag(Drag {
                start: Element::Ref("e1".into()),
                end: Element::Selector("#bin".into()),
                budget: ms(8_000),
            }),
        ),
        (
            json!({"kind": "select", "ref": "e2", "values": ["Green", 3]}),
            Action::Select(Select {
                element: Element::Ref("e2".into()),
                values: vec![json!("Green"), json!(3)],
                budget: ms(8_000),
            }),
        ),
        (
            json!({"kind": "fill", "fields": [
                {"ref": "e1", "value": 42},
                {"ref": 2, "type": "checkbox", "value": "1"},
                {"ref": "e3"}]}),
            Action::Fill(Fill {
                fields: vec![
                    FillField {
                        r#ref: "e1".into(),
                        value: FillValue::Text("42".into()),
                    },
                    FillField {
                        r#ref: "2".into(),
                        value: FillValue::Checked(true),
                    },
                    FillField {
                        r#ref: "e3".into(),
                        value: FillValue::Text(String::new()),
                    },
                ],
                budget: ms(8_000),
            }),
        ),
        (
            json!({"kind": "resize", "width": "800", "height": 600.9}),
            Action::Resize(Resize {
                width: 800,
                height: 600,
                budget: ms(8_000),
            }),
        ),
        (
            json!({"kind": "wait", "timeMs": 5, "url": "**/done", "loadState": "networkidle", "fn": "() => 1"}),
            Action::Wait(Wait {
                time: Some(ms(5)),
                text: None,
                text_gone: None,
                selector: None,
                url: Some("**/done".into()),
                load_state: Some(LoadState::NetworkIdle),
                function: Some("() => 1".into()),
                uses_fn: true,
                budget: ms(20_000),
            }),
        ),
        (
            json!({"kind": "evaluate", "fn": "() => 1", "ref": "e1", "timeoutMs": 1}),
            Action::Evaluate(Evaluate {
                function: "() => 1".into(),
                element: Some(Element::Ref("e1".into())),
                budget: ms(500),
            }),
        ),
        (
            json!({"kind": "close"}),
            Action::Close(Close { budget: ms(8_000) }),
        ),
    ];
    for (body, want) in cases {
        let got = decode(&body, true).unwrap_or_else(|e| panic!("{body}: {e:?}"));
        assert_eq!(got.kind(), body["kind"], "{body}");
        assert_eq!(got, want, "{body}");
    }
    assert_eq!(KINDS.len(), 15);
}

#[test]
fn batches_decode_their_actions_and_collect_target_ids() {
    let body = json!({"kind": "batch", "stopOnError": "false", "actions": [
        {"kind": "press", "key": "a", "targetId": "T1"},
        {"kind": "batch", "actions": [{"kind": "close", "targetId": "T2"}]},
    ]});
    let Action::Batch(b) = decode(&body, true).unwrap() else {
        panic!("not a batch");
    };
    assert!(!b.stop_on_error);
    assert_eq!(b.target_ids, ["T1", "T2"]);
    assert_eq!(
        b.actions.iter().map(Action::kind).collect::<Vec<_>>(),
        ["press", "batch"]
    );
    assert!(b.pending.is_empty());
    let Action::Batch(b) = decode(
        &json!({"kind": "batch", "actions": [{"kind": "close"}]}),
        true,
    )
    .unwrap() else {
        panic!("not a batch");
    };
    assert!(b.stop_on_error, "stopOnError defaults to true");
}

#[test]
fn validation_messages_match_the_reference() {
    let bad = "ACT_INVALID_REQUEST";
    let cases = [
        (json!({}), 400, "ACT_KIND_REQUIRED", "kind is required"),
        (
            json!({"kind": "jump"}),
            400,
            "ACT_KIND_REQUIRED",
            "kind is required",
        ),
        (
            json!({"kind": 3}),
            400,
            "ACT_KIND_REQUIRED",
            "kind is required",
        ),
        (json!("click"), 400, "ACT_KIND_REQUIRED", "kind is required"),
        (
            json!({"kind": "click"}),
            400,
            bad,
            "click requires ref or selector",
        ),
        (
            json!({"kind": "click", "ref": "", "selector": ""}),
            400,
            bad,
            "click requires ref or selector",
        ),
        (
            json!({"kind": "click", "ref": "e1", "button": "side"}),
            400,
            bad,
            "click button must be left|right|middle",
        ),
        (
            json!({"kind": "click", "ref": "e1", "modifiers": ["Hyper"]}),
            400,
            bad,
            "modifiers must be Alt|Control|ControlOrMeta|Meta|Shift",
        ),
        (
            json!({"kind": "click", "ref": "e1", "delayMs": 5001}),
            400,
            bad,
            "delayMs must not exceed 5000",
        ),
        (
            json!({"kind": "type", "ref": "e1"}),
            400,
            bad,
            "type requires text",
        ),
        (
            json!({"kind": "type", "ref": "e1", "text": 5}),
            400,
            bad,
            "type requires text",
        ),
        (
            json!({"kind": "type", "text": "x"}),
            400,
            bad,
            "type requires ref or selector",
        ),
        (json!({"kind": "press"}), 400, bad, "press requires key"),
        (
            json!({"kind": "press", "key": ""}),
            400,
            bad,
            "press requires key",
        ),
        (
            json!({"kind": "hover"}),
            400,
            bad,
            "hover requires ref or selector",
        ),
        (
            json!({"kind": "scrollIntoView"}),
            400,
            bad,
            "scrollIntoView requires ref or selector",
        ),
        (
            json!({"kind": "clickCoords", "x": -1, "y": 0}),
            400,
            bad,
            "clickCoords requires non-negative x and y",
        ),
        (
            json!({"kind": "clickCoords", "x": "abc", "y": 0}),
            400,
            bad,
            "clickCoords requires non-negative x and y",
        ),
        (
            json!({"kind": "dragCoords", "x": 1, "y": 1, "endX": 1}),
            400,
            bad,
            "dragCoords requires non-negative x, y, endX, and endY",
        ),
        (
            json!({"kind": "drag", "endRef": "e2"}),
            400,
            bad,
            "drag requires startRef or startSelector",
        ),
        (
            json!({"kind": "drag", "startRef": "e1"}),
            400,
            bad,
            "drag requires endRef or endSelector",
        ),
        (
            json!({"kind": "select", "ref": "e1", "values": []}),
            400,
            bad,
            "select requires ref/selector and values",
        ),
        (
            json!({"kind": "select", "values": ["a"]}),
            400,
            bad,
            "select requires ref/selector and values",
        ),
        (
            json!({"kind": "fill", "fields": []}),
            400,
            bad,
            "fill requires fields",
        ),
        (json!({"kind": "fill"}), 400, bad, "fill requires fields"),
        (
            json!({"kind": "fill", "fields": ["e1"]}),
            400,
            bad,
            "fields[0] must be an object",
        ),
        (
            json!({"kind": "fill", "fields": [{"ref": "e1", "bogus": 1}]}),
            400,
            bad,
            "fields[0] unsupported field key \"bogus\"",
        ),
        (
            json!({"kind": "fill", "fields": [{"ref": "e1"}, {"value": 1}]}),
            400,
            bad,
            "fields[1] requires ref",
        ),
        (
            json!({"kind": "resize", "width": 0, "height": 10}),
            400,
            bad,
            "resize requires positive width and height",
        ),
        (
            json!({"kind": "resize", "width": 9000, "height": 10}),
            400,
            bad,
            "resize width and height must not exceed 8192",
        ),
        (
            json!({"kind": "wait"}),
            400,
            bad,
            "wait requires at least one of: timeMs, text, textGone, selector, url, loadState, fn",
        ),
        (
            json!({"kind": "wait", "text": null}),
            400,
            bad,
            "wait requires at least one of: timeMs, text, textGone, selector, url, loadState, fn",
        ),
        (
            json!({"kind": "wait", "timeMs": 30001}),
            400,
            bad,
            "wait timeMs must not exceed 30000",
        ),
        (
            json!({"kind": "wait", "loadState": "idle"}),
            400,
            bad,
            "loadState must be load|domcontentloaded|networkidle",
        ),
        (
            json!({"kind": "evaluate"}),
            400,
            bad,
            "evaluate requires fn",
        ),
        (
            json!({"kind": "evaluate", "fn": "  "}),
            400,
            bad,
            "evaluate requires fn",
        ),
        (
            json!({"kind": "batch", "actions": []}),
            400,
            bad,
            "actions are required",
        ),
        (
            json!({"kind": "batch", "actions": [{"kind": "nope"}]}),
            400,
            "ACT_KIND_REQUIRED",
            "kind is required",
        ),
        (
            json!({"kind": "batch", "actions": [{"kind": "click"}]}),
            400,
            bad,
            "click requires ref or selector",
        ),
        (
            json!({"kind": "press", "key": "Enter", "selector": "#x"}),
            400,
            "ACT_SELECTOR_UNSUPPORTED",
            "selector is not supported for press; use a ref from a snapshot",
        ),
        (
            json!({"kind": "evaluate", "fn": "1", "selector": "#x"}),
            400,
            "ACT_SELECTOR_UNSUPPORTED",
            "selector is not supported for evaluate; use a ref from a snapshot",
        ),
    ];
    for (body, status, code, msg) in cases {
        assert_eq!(
            fails(body.clone()),
            (status, code, msg.to_string()),
            "{body}"
        );
    }
}

#[test]
fn batch_limits_and_the_evaluate_switch() {
    let mut nested = json!({"kind": "press", "key": "a"});
    for _ in 0..6 {
        nested = json!({"kind": "batch", "actions": [nested]});
    }
    assert_eq!(fails(nested).2, "batch nesting exceeds maximum depth of 5");
    let press = json!({"kind": "press", "key": "a"});
    let full = json!({"kind": "batch", "actions": vec![press.clone(); 99]});
    assert!(
        decode(&full, true).is_ok(),
        "the batch and 99 actions are 100"
    );
    let many = json!({"kind": "batch", "actions": vec![press; 100]});
    assert_eq!(fails(many).2, "batch exceeds maximum of 100 actions");
    for body in [
        json!({"kind": "evaluate", "fn": "1"}),
        json!({"kind": "wait", "fn": "() => true"}),
        json!({"kind": "batch", "actions": [{"kind": "evaluate", "fn": "1"}]}),
    ] {
        let e = decode(&body, false).unwrap_err();
        assert_eq!(
            (e.code.status(), e.code.as_str(), e.message.as_str()),
            (
                403,
                "ACT_EVALUATE_DISABLED",
                "evaluate is disabled on this node ([browser] evaluate_enabled = false)"
            ),
            "{body}"
        );
    }
    assert!(decode(&json!({"kind": "wait", "text": "x"}), false).is_ok());
    // The evaluate check follows the action's own: a missing fn is reported first.
    assert_eq!(
        decode(&json!({"kind": "evaluate"}), false)
            .unwrap_err()
            .message,
        "evaluate requires fn"
    );
}

#[test]
fn errors_become_act_bodies() {
    let e: ServiceError = ActError::new(ActCode::TargetIdMismatch, "m").into();
    assert_eq!(
        (e.status, e.message.as_str(), e.extra),
        (403, "m", Some(json!({"code": "ACT_TARGET_ID_MISMATCH"})))
    );
}

/// `selector: 5` passed the old string validation (a number counted as a target) and then
/// panicked at `expect("validated")` when the element was looked up as a string.
#[test]
fn a_numeric_selector_is_text_not_a_panic() {
    let Action::Click(c) = decode(&json!({"kind": "click", "selector": 5}), true).unwrap() else {
        panic!("not a click");
    };
    assert_eq!(c.element, Element::Selector("5".into()));
}

/// `clickCoords` takes the same buttons as `click` (an unknown one used to reach CDP).
#[test]
fn click_coords_buttons_are_checked_like_clicks() {
    assert_eq!(
        fails(json!({"kind": "clickCoords", "x": 1, "y": 1, "button": "side"})),
        (
            400,
            "ACT_INVALID_REQUEST",
            "click button must be left|right|middle".to_string()
        )
    );
}
