//! What each single action does on the page: find its element, then drive it with real
//! input events or a small script. Owns no checks (the action arrives decoded,
//! `action.rs`), no time budget and no batching (`act/mod.rs`).

use std::sync::Arc;

use chromiumoxide::Page;
use serde_json::{Value, json};

use crate::act::wait::{evaluate_fn, wait_for};
use crate::action::{Action, FillValue};
use crate::cdp::{call_on, page_call};
use crate::element::{centre, node_box, object_of, ref_node, resolve};
use crate::error::ServiceError;
use crate::input::{click_at, drag_between, mouse, press_key, type_into};
use crate::service::Service;
use crate::service::profile::Profile;

/// Chooses the options of a `<select>` whose value or label is among the given values.
const SELECT_OPTIONS: &str = "function(values) { if (!this.options) throw new Error('element is not a <select>'); \
     let n = 0; for (const o of this.options) { o.selected = values.includes(o.value) || values.includes(o.label); if (o.selected) n++; } \
     this.dispatchEvent(new Event('input', {bubbles: true})); this.dispatchEvent(new Event('change', {bubbles: true})); \
     return [...this.options].filter(o => o.selected).map(o => o.value); }";

/// Runs one action that is not a batch; the extra result fields (`result` of `evaluate`)
/// come back as an object.
pub async fn perform(
    svc: &Service,
    profile: &Arc<Profile>,
    page: &Page,
    target: &str,
    action: &Action,
) -> Result<Value, ServiceError> {
    match action {
        Action::Click(a) => {
            let node = resolve(page, profile, target, &a.element).await?;
            let (x, y) = centre(page, node).await?;
            let delay = a.delay.as_millis() as u64;
            click_at(page, x, y, a.button, a.double, a.modifiers, delay).await?;
        }
        Action::ClickCoords(a) => {
            let delay = a.delay.as_millis() as u64;
            click_at(page, a.x, a.y, a.button, a.double, 0, delay).await?;
        }
        Action::DragCoords(a) => drag_between(page, a.from, a.to).await?,
        Action::Drag(a) => {
            let from = resolve(page, profile, target, &a.start).await?;
            let to = resolve(page, profile, target, &a.end).await?;
            let (f, t) = (centre(page, from).await?, centre(page, to).await?);
            drag_between(page, f, t).await?;
        }
        Action::Type(a) => {
            let node = resolve(page, profile, target, &a.element).await?;
            type_into(page, node, &a.text, a.slowly, a.submit).await?;
        }
        Action::Press(a) => {
            if !a.delay.is_zero() {
                tokio::time::sleep(a.delay).await;
            }
            press_key(page, &a.key).await?;
        }
        Action::Hover(a) => {
            let node = resolve(page, profile, target, &a.element).await?;
            let (x, y) = centre(page, node).await?;
            mouse(page, "mouseMoved", x, y, "none", 0, 0).await?;
        }
        Action::ScrollIntoView(a) => {
            let node = resolve(page, profile, target, &a.element).await?;
            node_box(page, node).await?;
        }
        Action::Select(a) => {
            let node = resolve(page, profile, target, &a.element).await?;
            let object = object_of(page, node).await?;
            let values = Value::Array(a.values.clone());
            let chosen = call_on(page, &object, SELECT_OPTIONS, vec![values]).await?;
            if chosen.as_array().is_none_or(|c| c.is_empty()) {
                return Err(ServiceError::new(400, "no option matched the given values"));
            }
        }
        Action::Fill(a) => {
            for f in &a.fields {
                let node = ref_node(profile, target, &f.r#ref)?;
                match &f.value {
                    FillValue::Checked(want) => {
                        let object = object_of(page, node).await?;
                        call_on(
                            page,
                            &object,
                            "function(v) { if (this.checked !== v) this.click(); }",
                            vec![json!(want)],
                        )
                        .await?;
                    }
                    FillValue::Text(text) => type_into(page, node, text, false, false).await?,
                }
            }
        }
        Action::Resize(a) => {
            page_call(
                page,
                "Emulation.setDeviceMetricsOverride",
                json!({"width": a.width, "height": a.height, "deviceScaleFactor": 1, "mobile": false}),
            )
            .await?;
        }
        Action::Wait(a) => wait_for(page, a).await?,
        Action::Evaluate(a) => {
            let node = match &a.element {
                Some(e) => Some(resolve(page, profile, target, e).await?),
                None => None,
            };
            let result = evaluate_fn(page, &a.function, node).await?;
            return Ok(json!({ "result": result }));
        }
        Action::Close(_) => {
            let browser = svc
                .running(profile)
                .await
                .ok_or_else(|| ServiceError::new(409, "browser not running"))?;
            svc.close_target(profile, &browser, target).await?;
        }
        Action::Batch(_) => {
            return Err(ServiceError::new(
                500,
                "a batch runs through act::run_action",
            ));
        }
    }
    Ok(json!({}))
}
