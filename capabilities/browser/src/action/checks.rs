//! The checks on each `/act` payload, in the reference's order, with its messages: each
//! `TryFrom` turns a lenient wire struct (`wire.rs`) into the typed payload of an
//! [`Action`](super::Action) variant, or the text of the first fault.

use std::time::Duration;

use serde_json::Value;

use super::wire;
use super::{
    ACT_TIMEOUT, Batch, Button, CLICK_DELAY_MAX, Click, ClickCoords, Close, Drag, DragCoords,
    Element, Evaluate, Fill, FillField, FillValue, Hover, Invalid, LoadState, Press, RESIZE_MAX,
    Resize, ScrollIntoView, Select, Type, WAIT_TIME_MAX, WAIT_TIMEOUT, Wait, invalid,
};
use crate::keys;

/// `timeoutMs` clamped to `(default, lo, hi)`.
fn budget(timeout_ms: Option<f64>, (default, lo, hi): (u64, u64, u64)) -> Duration {
    Duration::from_millis(timeout_ms.map_or(default, |v| (v.max(0.0) as u64).clamp(lo, hi)))
}

fn millis(ms: Option<f64>) -> Duration {
    Duration::from_millis(ms.unwrap_or(0.0).max(0.0) as u64)
}

fn element(
    kind: &str,
    r#ref: Option<String>,
    selector: Option<String>,
) -> Result<Element, Invalid> {
    Element::pick(r#ref, selector)
        .ok_or_else(|| Invalid(format!("{kind} requires ref or selector")))
}

fn non_negative(v: Option<f64>) -> Option<f64> {
    v.filter(|v| *v >= 0.0)
}

impl TryFrom<wire::Click> for Click {
    type Error = Invalid;
    fn try_from(w: wire::Click) -> Result<Self, Invalid> {
        let element = element("click", w.r#ref, w.selector)?;
        let button = Button::read(w.button)?;
        let modifiers = keys::modifier_mask(&w.modifiers).map_err(Invalid)?;
        if w.delay_ms.is_some_and(|d| d > CLICK_DELAY_MAX) {
            return invalid("delayMs must not exceed 5000");
        }
        Ok(Click {
            element,
            button,
            double: w.double_click,
            modifiers,
            delay: millis(w.delay_ms),
            budget: budget(w.timeout_ms, ACT_TIMEOUT),
        })
    }
}

impl TryFrom<wire::ClickCoords> for ClickCoords {
    type Error = Invalid;
    fn try_from(w: wire::ClickCoords) -> Result<Self, Invalid> {
        let (Some(x), Some(y)) = (non_negative(w.x), non_negative(w.y)) else {
            return invalid("clickCoords requires non-negative x and y");
        };
        Ok(ClickCoords {
            x,
            y,
            button: Button::read(w.button)?,
            double: w.double_click,
            delay: millis(w.delay_ms),
            budget: budget(w.timeout_ms, ACT_TIMEOUT),
        })
    }
}

impl TryFrom<wire::DragCoords> for DragCoords {
    type Error = Invalid;
    fn try_from(w: wire::DragCoords) -> Result<Self, Invalid> {
        let all = [w.x, w.y, w.end_x, w.end_y].map(non_negative);
        let [Some(x), Some(y), Some(end_x), Some(end_y)] = all else {
            return invalid("dragCoords requires non-negative x, y, endX, and endY");
        };
        Ok(DragCoords {
            from: (x, y),
            to: (end_x, end_y),
            budget: budget(w.timeout_ms, ACT_TIMEOUT),
        })
    }
}

impl TryFrom<wire::Type> for Type {
    type Error = Invalid;
    fn try_from(w: wire::Type) -> Result<Self, Invalid> {
        let element = element("type", w.r#ref, w.selector)?;
        let Some(text) = w.text else {
            return invalid("type requires text");
        };
        Ok(Type {
            element,
            text,
            submit: w.submit,
            slowly: w.slowly,
            budget: budget(w.timeout_ms, ACT_TIMEOUT),
        })
    }
}

impl TryFrom<wire::Press> for Press {
    type Error = Invalid;
    fn try_from(w: wire::Press) -> Result<Self, Invalid> {
        let key = w.key.filter(|k| !k.is_empty());
        let Some(key) = key else {
            return invalid("press requires key");
        };
        Ok(Press {
            key: keys::parse_chord(&key).map_err(Invalid)?,
            delay: millis(w.delay_ms.map(|d| d.min(CLICK_DELAY_MAX))),
            budget: budget(w.timeout_ms, ACT_TIMEOUT),
        })
    }
}

impl TryFrom<wire::Pointed> for Hover {
    type Error = Invalid;
    fn try_from(w: wire::Pointed) -> Result<Self, Invalid> {
        Ok(Hover {
            element: element("hover", w.r#ref, w.selector)?,
            budget: budget(w.timeout_ms, ACT_TIMEOUT),
        })
    }
}

impl TryFrom<wire::Pointed> for ScrollIntoView {
    type Error = Invalid;
    fn try_from(w: wire::Pointed) -> Result<Self, Invalid> {
        Ok(ScrollIntoView {
            element: element("scrollIntoView", w.r#ref, w.selector)?,
            budget: budget(w.timeout_ms, ACT_TIMEOUT),
        })
    }
}

impl TryFrom<wire::Drag> for Drag {
    type Error = Invalid;
    fn try_from(w: wire::Drag) -> Result<Self, Invalid> {
        let Some(start) = Element::pick(w.start_ref, w.start_selector) else {
            return invalid("drag requires startRef or startSelector");
        };
        let Some(end) = Element::pick(w.end_ref, w.end_selector) else {
            return invalid("drag requires endRef or endSelector");
        };
        Ok(Drag {
            start,
            end,
            budget: budget(w.timeout_ms, ACT_TIMEOUT),
        })
    }
}

impl TryFrom<wire::Select> for Select {
    type Error = Invalid;
    fn try_from(w: wire::Select) -> Result<Self, Invalid> {
        let element = Element::pick(w.r#ref, w.selector);
        let values = w.values.filter(|v| !v.is_empty());
        let (Some(element), Some(values)) = (element, values) else {
            return invalid("select requires ref/selector and values");
        };
        Ok(Select {
            element,
            values,
            budget: budget(w.timeout_ms, ACT_TIMEOUT),
        })
    }
}

impl TryFrom<wire::Fill> for Fill {
    type Error = Invalid;
    fn try_from(w: wire::Fill) -> Result<Self, Invalid> {
        let Some(raw) = w.fields.filter(|f| !f.is_empty()) else {
            return invalid("fill requires fields");
        };
        let mut fields = Vec::with_capacity(raw.len());
        for (i, f) in raw.into_iter().enumerate() {
            let Value::Object(obj) = f else {
                return invalid(format!("fields[{i}] must be an object"));
            };
            if let Some(k) = obj
                .keys()
                .find(|k| !["ref", "type", "value"].contains(&k.as_str()))
            {
                return invalid(format!("fields[{i}] unsupported field key \"{k}\""));
            }
            let r#ref = match obj.get("ref") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            if r#ref.is_empty() {
                return invalid(format!("fields[{i}] requires ref"));
            }
            let value = obj.get("value").unwrap_or(&Value::Null);
            let value = match obj.get("type").and_then(Value::as_str) {
                Some("checkbox" | "radio") => FillValue::Checked(
                    matches!(value, Value::Bool(true))
                        || matches!(value.as_str(), Some("true" | "1"))
                        || value.as_i64() == Some(1),
                ),
                _ => FillValue::Text(match value {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                }),
            };
            fields.push(FillField { r#ref, value });
        }
        Ok(Fill {
            fields,
            budget: budget(w.timeout_ms, ACT_TIMEOUT),
        })
    }
}

impl TryFrom<wire::Resize> for Resize {
    type Error = Invalid;
    fn try_from(w: wire::Resize) -> Result<Self, Invalid> {
        let positive = |v: Option<f64>| v.filter(|v| *v >= 1.0);
        let (Some(width), Some(height)) = (positive(w.width), positive(w.height)) else {
            return invalid("resize requires positive width and height");
        };
        if width > RESIZE_MAX || height > RESIZE_MAX {
            return invalid("resize width and height must not exceed 8192");
        }
        Ok(Resize {
            width: width as i64,
            height: height as i64,
            budget: budget(w.timeout_ms, ACT_TIMEOUT),
        })
    }
}

impl TryFrom<wire::Wait> for Wait {
    type Error = Invalid;
    fn try_from(w: wire::Wait) -> Result<Self, Invalid> {
        let given = [
            &w.time_ms,
            &w.text,
            &w.text_gone,
            &w.selector,
            &w.url,
            &w.load_state,
            &w.function,
        ];
        if given.iter().all(|v| v.is_none()) {
            return invalid(
                "wait requires at least one of: timeMs, text, textGone, selector, url, loadState, fn",
            );
        }
        let time_ms = match &w.time_ms {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|t: &f64| t.is_finite());
        if time_ms.is_some_and(|t| t > WAIT_TIME_MAX) {
            return invalid("wait timeMs must not exceed 30000");
        }
        let load_state = match w.load_state.as_ref().and_then(Value::as_str) {
            None => None,
            Some("load") => Some(LoadState::Load),
            Some("domcontentloaded") => Some(LoadState::DomContentLoaded),
            Some("networkidle") => Some(LoadState::NetworkIdle),
            Some(_) => return invalid("loadState must be load|domcontentloaded|networkidle"),
        };
        let string = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).map(String::from);
        Ok(Wait {
            time: time_ms
                .filter(|t| *t > 0.0)
                .map(|t| Duration::from_millis(t as u64)),
            text: string(&w.text),
            text_gone: string(&w.text_gone),
            selector: string(&w.selector),
            url: string(&w.url),
            load_state,
            function: string(&w.function),
            uses_fn: w.function.is_some(),
            budget: budget(w.timeout_ms, WAIT_TIMEOUT),
        })
    }
}

impl TryFrom<wire::Evaluate> for Evaluate {
    type Error = Invalid;
    fn try_from(w: wire::Evaluate) -> Result<Self, Invalid> {
        let Some(function) = w.function.filter(|f| !f.trim().is_empty()) else {
            return invalid("evaluate requires fn");
        };
        Ok(Evaluate {
            function,
            element: Element::pick(w.r#ref, w.selector),
            budget: budget(w.timeout_ms, WAIT_TIMEOUT),
        })
    }
}

impl TryFrom<wire::Close> for Close {
    type Error = Invalid;
    fn try_from(w: wire::Close) -> Result<Self, Invalid> {
        Ok(Close {
            budget: budget(w.timeout_ms, ACT_TIMEOUT),
        })
    }
}

impl TryFrom<wire::Batch> for Batch {
    type Error = Invalid;
    fn try_from(w: wire::Batch) -> Result<Self, Invalid> {
        Ok(Batch {
            actions: Vec::new(),
            stop_on_error: w.stop_on_error.unwrap_or(true),
            target_ids: Vec::new(),
            pending: w.actions.unwrap_or_default(),
        })
    }
}
