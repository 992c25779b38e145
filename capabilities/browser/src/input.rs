//! Input events over CDP: mouse moves, clicks and drags, key presses, and typing into an
//! element (focus, select all, insert text or one key per character). Does not own
//! finding the element (`element.rs`) or the key tables (`keys.rs`).

use std::time::Duration;

use chromiumoxide::Page;
use serde_json::json;

use crate::action::Button;
use crate::cdp::{call_on, page_call};
use crate::element::{centre, object_of};
use crate::error::ServiceError;
use crate::keys;

/// One `Input.dispatchMouseEvent` (`kind` is the CDP event type).
pub async fn mouse(
    page: &Page,
    kind: &str,
    x: f64,
    y: f64,
    button: &str,
    clicks: i64,
    modifiers: i64,
) -> Result<(), ServiceError> {
    page_call(
        page,
        "Input.dispatchMouseEvent",
        json!({"type": kind, "x": x, "y": y, "button": button, "clickCount": clicks, "modifiers": modifiers}),
    )
    .await
    .map(|_| ())
    .map_err(ServiceError::from)
}

/// A move, then press and release (twice for a double click) at viewport `(x, y)`.
pub async fn click_at(
    page: &Page,
    x: f64,
    y: f64,
    button: Button,
    double: bool,
    modifiers: i64,
    delay_ms: u64,
) -> Result<(), ServiceError> {
    mouse(page, "mouseMoved", x, y, "none", 0, modifiers).await?;
    let rounds = if double { 2 } else { 1 };
    for n in 1..=rounds {
        mouse(page, "mousePressed", x, y, button.as_str(), n, modifiers).await?;
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        mouse(page, "mouseReleased", x, y, button.as_str(), n, modifiers).await?;
    }
    Ok(())
}

/// Press at `from`, move to `to` in five steps, release there.
pub async fn drag_between(
    page: &Page,
    from: (f64, f64),
    to: (f64, f64),
) -> Result<(), ServiceError> {
    mouse(page, "mouseMoved", from.0, from.1, "none", 0, 0).await?;
    mouse(page, "mousePressed", from.0, from.1, "left", 1, 0).await?;
    for i in 1..=5 {
        let t = i as f64 / 5.0;
        mouse(
            page,
            "mouseMoved",
            from.0 + (to.0 - from.0) * t,
            from.1 + (to.1 - from.1) * t,
            "left",
            0,
            0,
        )
        .await?;
    }
    mouse(page, "mouseReleased", to.0, to.1, "left", 1, 0).await
}

/// Key down and up for one parsed chord.
pub async fn press_key(page: &Page, key: &keys::Key) -> Result<(), ServiceError> {
    let down = json!({
        "type": if key.text.is_some() { "keyDown" } else { "rawKeyDown" },
        "key": key.key, "code": key.code, "windowsVirtualKeyCode": key.key_code,
        "modifiers": key.modifiers, "text": key.text.clone().unwrap_or_default(),
    });
    page_call(page, "Input.dispatchKeyEvent", down).await?;
    let up = json!({"type": "keyUp", "key": key.key, "code": key.code, "windowsVirtualKeyCode": key.key_code, "modifiers": key.modifiers});
    page_call(page, "Input.dispatchKeyEvent", up).await?;
    Ok(())
}

const FOCUS_AND_SELECT: &str = "function() { this.focus(); \
  if (typeof this.select === 'function' && (this.tagName === 'INPUT' || this.tagName === 'TEXTAREA')) { this.select(); } \
  else if (this.isContentEditable) { const r = document.createRange(); r.selectNodeContents(this); const s = getSelection(); s.removeAllRanges(); s.addRange(r); } }";

/// Replaces an element's value with `text`: focus and select all, then insert (or, when
/// `slowly`, click and type one key per character); Enter afterwards when `submit`.
pub async fn type_into(
    page: &Page,
    node: i64,
    text: &str,
    slowly: bool,
    submit: bool,
) -> Result<(), ServiceError> {
    let object = object_of(page, node).await?;
    if slowly {
        let c = centre(page, node).await?;
        click_at(page, c.0, c.1, Button::Left, false, 0, 0).await?;
    }
    call_on(page, &object, FOCUS_AND_SELECT, vec![]).await?;
    if text.is_empty() {
        press_key(page, &keys::parse_chord("Delete").expect("known key")).await?;
    } else if slowly {
        // Replace the selection first, then type one key at a time.
        press_key(page, &keys::parse_chord("Delete").expect("known key")).await?;
        for ch in text.chars() {
            match keys::parse_chord(&ch.to_string()) {
                Ok(k) if ch != '+' => press_key(page, &k).await?,
                _ => {
                    page_call(page, "Input.insertText", json!({"text": ch.to_string()})).await?;
                }
            }
        }
    } else {
        page_call(page, "Input.insertText", json!({"text": text})).await?;
    }
    if submit {
        press_key(page, &keys::parse_chord("Enter").expect("known key")).await?;
    }
    Ok(())
}
