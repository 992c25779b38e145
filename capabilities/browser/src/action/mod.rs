//! The actions of `POST /act` as types (spec browser.md §3.5): [`Action`] is tagged by
//! `kind` on the wire, one variant per kind, and [`decode`] turns a request body into one
//! with the reference's checks and error texts, before anything touches a page.
//!
//! Owns: the wire field names, the lenient readings the reference allows (numbers as
//! decimal strings, booleans as `"true"`/`"1"`/`"yes"`, refs as numbers), the batch limits,
//! the per-action time budget and the `ACT_*` error codes. Does not own running an action
//! (`act/`), finding elements (`element.rs`) or key tables (`keys.rs`).
//!
//! Each variant's payload is read by serde into a lenient wire struct that never fails
//! (`wire.rs`), then checked by `TryFrom` in the order the reference checks (`checks.rs`),
//! so the first fault an action has is the one reported. The checks that need more than
//! the action itself (the kind, the selector rule, the batch limits, `evaluate_enabled`)
//! run in [`decode`], here.

mod checks;
#[cfg(test)]
mod tests;
mod wire;

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ServiceError;
use crate::keys;

/// Interaction time budget: default and clamp (ms).
pub const ACT_TIMEOUT: (u64, u64, u64) = (8_000, 500, 60_000);
/// `wait` (per condition) and `evaluate` time budget: default and clamp (ms).
pub const WAIT_TIMEOUT: (u64, u64, u64) = (20_000, 500, 120_000);
/// Most actions in one request, batches included.
pub const BATCH_MAX: usize = 100;
/// Deepest batch nesting.
pub const BATCH_DEPTH: usize = 5;
/// Longest `click` press (ms).
pub const CLICK_DELAY_MAX: f64 = 5_000.0;
/// Longest `wait.timeMs` (ms).
pub const WAIT_TIME_MAX: f64 = 30_000.0;
/// Largest `resize` side (px).
pub const RESIZE_MAX: f64 = 8_192.0;

/// The `code` of an `/act` error body (spec browser.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActCode {
    /// 400: `kind` missing or unknown.
    KindRequired,
    /// 400: an action's fields are wrong.
    InvalidRequest,
    /// 400: `selector` on a kind that takes refs only.
    SelectorUnsupported,
    /// 403: `evaluate` or `wait.fn` while `[browser] evaluate_enabled = false`.
    EvaluateDisabled,
    /// 403: a batched action names another tab.
    TargetIdMismatch,
}

impl ActCode {
    /// Wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ActCode::KindRequired => "ACT_KIND_REQUIRED",
            ActCode::InvalidRequest => "ACT_INVALID_REQUEST",
            ActCode::SelectorUnsupported => "ACT_SELECTOR_UNSUPPORTED",
            ActCode::EvaluateDisabled => "ACT_EVALUATE_DISABLED",
            ActCode::TargetIdMismatch => "ACT_TARGET_ID_MISMATCH",
        }
    }

    /// The HTTP-like status the route answers with.
    pub fn status(self) -> u16 {
        match self {
            ActCode::EvaluateDisabled | ActCode::TargetIdMismatch => 403,
            _ => 400,
        }
    }
}

/// A refused action: its code and the reference's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActError {
    /// What kind of refusal.
    pub code: ActCode,
    /// The text of the error body.
    pub message: String,
}

impl ActError {
    /// A refusal with `code`.
    pub fn new(code: ActCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(ActCode::InvalidRequest, message)
    }
}

impl From<ActError> for ServiceError {
    fn from(e: ActError) -> Self {
        let mut s = ServiceError::new(e.code.status(), e.message);
        s.extra = Some(json!({"code": e.code.as_str()}));
        s
    }
}

/// A field check that failed inside serde: its `Display` is the message the caller sees.
#[derive(Debug)]
pub struct Invalid(String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn invalid<T>(msg: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(msg.into()))
}

/// The element an action works on: a snapshot ref (`e12`, `@e12`, `ref=e12`, `12`) or a
/// CSS selector. A ref wins when both are given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    /// A ref from the tab's latest snapshot, as the caller wrote it.
    Ref(String),
    /// A CSS selector.
    Selector(String),
}

impl Element {
    fn pick(r#ref: Option<String>, selector: Option<String>) -> Option<Self> {
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        non_empty(r#ref)
            .map(Element::Ref)
            .or_else(|| non_empty(selector).map(Element::Selector))
    }
}

/// A mouse button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Button {
    /// The default.
    #[default]
    Left,
    /// Context menu.
    Right,
    /// Wheel button.
    Middle,
}

impl Button {
    /// CDP spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Button::Left => "left",
            Button::Right => "right",
            Button::Middle => "middle",
        }
    }

    /// A string outside left|right|middle is refused; anything else is the default.
    fn read(v: Option<Value>) -> Result<Self, Invalid> {
        match v.as_ref().and_then(Value::as_str) {
            None | Some("left") => Ok(Button::Left),
            Some("right") => Ok(Button::Right),
            Some("middle") => Ok(Button::Middle),
            Some(_) => invalid("click button must be left|right|middle"),
        }
    }
}

/// A `wait.loadState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadState {
    /// `document.readyState === 'complete'`.
    Load,
    /// Past `loading`.
    DomContentLoaded,
    /// Complete and every resource answered.
    NetworkIdle,
}

impl LoadState {
    /// Wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadState::Load => "load",
            LoadState::DomContentLoaded => "domcontentloaded",
            LoadState::NetworkIdle => "networkidle",
        }
    }
}

/// What `fill` puts into one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FillValue {
    /// `type` checkbox or radio: checked or not (`true`, `1`, `"1"`, `"true"`).
    Checked(bool),
    /// Anything else: this text replaces the value (`String(value)`; absent is empty).
    Text(String),
}

/// One `fill` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillField {
    /// The field's ref.
    pub r#ref: String,
    /// What to put in.
    pub value: FillValue,
}

/// `click`: scroll the element into view and click its centre.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::Click")]
pub struct Click {
    /// What to click.
    pub element: Element,
    /// Which button.
    pub button: Button,
    /// Two clicks (`doubleClick`).
    pub double: bool,
    /// CDP modifier bits held during the click.
    pub modifiers: i64,
    /// How long the button stays down.
    pub delay: Duration,
    /// Time budget.
    pub budget: Duration,
}

/// `clickCoords`: click at viewport coordinates.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::ClickCoords")]
pub struct ClickCoords {
    /// Viewport CSS pixels.
    pub x: f64,
    /// Viewport CSS pixels.
    pub y: f64,
    /// Which button.
    pub button: Button,
    /// Two clicks.
    pub double: bool,
    /// How long the button stays down.
    pub delay: Duration,
    /// Time budget.
    pub budget: Duration,
}

/// `dragCoords`: press at one point, move, release at another.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::DragCoords")]
pub struct DragCoords {
    /// Start (viewport CSS pixels).
    pub from: (f64, f64),
    /// End (`endX`, `endY`).
    pub to: (f64, f64),
    /// Time budget.
    pub budget: Duration,
}

/// `type`: replace an element's value with `text`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::Type")]
pub struct Type {
    /// Where to type.
    pub element: Element,
    /// The text (may be empty: clears the field).
    pub text: String,
    /// Press Enter afterwards.
    pub submit: bool,
    /// Click first, then one key event per character.
    pub slowly: bool,
    /// Time budget.
    pub budget: Duration,
}

/// `press`: one key or chord on the page.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::Press")]
pub struct Press {
    /// The parsed chord.
    pub key: keys::Key,
    /// Wait before pressing (≤ 5 s).
    pub delay: Duration,
    /// Time budget.
    pub budget: Duration,
}

/// `hover`: move the mouse over the element's centre.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::Pointed")]
pub struct Hover {
    /// What to hover.
    pub element: Element,
    /// Time budget.
    pub budget: Duration,
}

/// `scrollIntoView`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::Pointed")]
pub struct ScrollIntoView {
    /// What to scroll to.
    pub element: Element,
    /// Time budget.
    pub budget: Duration,
}

/// `drag`: from one element's centre to another's.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::Drag")]
pub struct Drag {
    /// `startRef` | `startSelector`.
    pub start: Element,
    /// `endRef` | `endSelector`.
    pub end: Element,
    /// Time budget.
    pub budget: Duration,
}

/// `select`: choose the options of a `<select>` by value or label.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::Select")]
pub struct Select {
    /// The `<select>`.
    pub element: Element,
    /// The values, verbatim (non-empty).
    pub values: Vec<Value>,
    /// Time budget.
    pub budget: Duration,
}

/// `fill`: several fields at once, by ref.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::Fill")]
pub struct Fill {
    /// The fields, in order (non-empty).
    pub fields: Vec<FillField>,
    /// Time budget.
    pub budget: Duration,
}

/// `resize`: the viewport's size.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::Resize")]
pub struct Resize {
    /// 1–8192 px.
    pub width: i64,
    /// 1–8192 px.
    pub height: i64,
    /// Time budget.
    pub budget: Duration,
}

/// `wait`: sleep `timeMs`, then each given condition in turn.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::Wait")]
pub struct Wait {
    /// Sleep first (≤ 30 s).
    pub time: Option<Duration>,
    /// Text that must appear.
    pub text: Option<String>,
    /// Text that must disappear.
    pub text_gone: Option<String>,
    /// A selector that must match.
    pub selector: Option<String>,
    /// A URL: exact, substring or glob (`**/done`).
    pub url: Option<String>,
    /// A load state to reach.
    pub load_state: Option<LoadState>,
    /// A function that must return something truthy (`fn`).
    pub function: Option<String>,
    /// Whether `fn` was given at all (what `evaluate_enabled` gates).
    pub uses_fn: bool,
    /// Budget per condition.
    pub budget: Duration,
}

/// `evaluate`: run a function (or expression, or statement body) in the page.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::Evaluate")]
pub struct Evaluate {
    /// The source (`fn`).
    pub function: String,
    /// The element passed as the first argument.
    pub element: Option<Element>,
    /// Time budget.
    pub budget: Duration,
}

/// `close`: close the tab.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::Close")]
pub struct Close {
    /// Time budget.
    pub budget: Duration,
}

/// `batch`: actions in order on the same tab.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "wire::Batch")]
pub struct Batch {
    /// The actions (filled by [`decode`], which applies the limits).
    pub actions: Vec<Action>,
    /// Stop at the first failure (default true).
    pub stop_on_error: bool,
    /// Every `targetId` a nested action names, at any depth (they must all be the
    /// request's tab).
    pub target_ids: Vec<String>,
    /// The undecoded actions, between serde and [`decode`].
    pending: Vec<Value>,
}

/// One `/act` action.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind")]
pub enum Action {
    /// `click`.
    #[serde(rename = "click")]
    Click(Click),
    /// `clickCoords`.
    #[serde(rename = "clickCoords")]
    ClickCoords(ClickCoords),
    /// `dragCoords`.
    #[serde(rename = "dragCoords")]
    DragCoords(DragCoords),
    /// `type`.
    #[serde(rename = "type")]
    Type(Type),
    /// `press`.
    #[serde(rename = "press")]
    Press(Press),
    /// `hover`.
    #[serde(rename = "hover")]
    Hover(Hover),
    /// `scrollIntoView`.
    #[serde(rename = "scrollIntoView")]
    ScrollIntoView(ScrollIntoView),
    /// `drag`.
    #[serde(rename = "drag")]
    Drag(Drag),
    /// `select`.
    #[serde(rename = "select")]
    Select(Select),
    /// `fill`.
    #[serde(rename = "fill")]
    Fill(Fill),
    /// `resize`.
    #[serde(rename = "resize")]
    Resize(Resize),
    /// `wait`.
    #[serde(rename = "wait")]
    Wait(Wait),
    /// `evaluate`.
    #[serde(rename = "evaluate")]
    Evaluate(Evaluate),
    /// `close`.
    #[serde(rename = "close")]
    Close(Close),
    /// `batch`.
    #[serde(rename = "batch")]
    Batch(Batch),
}

/// The kinds, and the ones that accept `selector` (spec browser.md §3.5 step 3).
const KINDS: &[(&str, bool)] = &[
    ("click", true),
    ("clickCoords", false),
    ("dragCoords", false),
    ("type", true),
    ("press", false),
    ("hover", true),
    ("scrollIntoView", true),
    ("drag", true),
    ("select", true),
    ("fill", false),
    ("resize", false),
    ("wait", true),
    ("evaluate", false),
    ("close", false),
    ("batch", true),
];

impl Action {
    /// The wire `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Click(_) => "click",
            Action::ClickCoords(_) => "clickCoords",
            Action::DragCoords(_) => "dragCoords",
            Action::Type(_) => "type",
            Action::Press(_) => "press",
            Action::Hover(_) => "hover",
            Action::ScrollIntoView(_) => "scrollIntoView",
            Action::Drag(_) => "drag",
            Action::Select(_) => "select",
            Action::Fill(_) => "fill",
            Action::Resize(_) => "resize",
            Action::Wait(_) => "wait",
            Action::Evaluate(_) => "evaluate",
            Action::Close(_) => "close",
            Action::Batch(_) => "batch",
        }
    }

    /// The action's time budget; `None` for `batch` and `wait`, which are not cut off as
    /// a whole (their parts are).
    pub fn budget(&self) -> Option<Duration> {
        match self {
            Action::Click(a) => Some(a.budget),
            Action::ClickCoords(a) => Some(a.budget),
            Action::DragCoords(a) => Some(a.budget),
            Action::Type(a) => Some(a.budget),
            Action::Press(a) => Some(a.budget),
            Action::Hover(a) => Some(a.budget),
            Action::ScrollIntoView(a) => Some(a.budget),
            Action::Drag(a) => Some(a.budget),
            Action::Select(a) => Some(a.budget),
            Action::Fill(a) => Some(a.budget),
            Action::Resize(a) => Some(a.budget),
            Action::Evaluate(a) => Some(a.budget),
            Action::Close(a) => Some(a.budget),
            Action::Wait(_) | Action::Batch(_) => None,
        }
    }
}

/// Decodes one `/act` body (nested batches included) with every check that does not need
/// the page, in the reference's order: kind, batch size, selector rule, the kind's own
/// fields, `evaluate_enabled`, batch depth.
pub fn decode(body: &Value, evaluate_enabled: bool) -> Result<Action, ActError> {
    decode_at(body, evaluate_enabled, 0, &mut 0)
}

fn decode_at(
    raw: &Value,
    evaluate_enabled: bool,
    depth: usize,
    count: &mut usize,
) -> Result<Action, ActError> {
    let kind = raw.get("kind").and_then(Value::as_str).unwrap_or("");
    let Some(&(_, takes_selector)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        return Err(ActError::new(ActCode::KindRequired, "kind is required"));
    };
    *count += 1;
    if *count > BATCH_MAX {
        return Err(ActError::invalid(format!(
            "batch exceeds maximum of {BATCH_MAX} actions"
        )));
    }
    if raw.get("selector").is_some() && !takes_selector {
        return Err(ActError::new(
            ActCode::SelectorUnsupported,
            format!("selector is not supported for {kind}; use a ref from a snapshot"),
        ));
    }
    // The wire structs never fail, so a serde error is a message from a `TryFrom`.
    let mut action: Action =
        serde_json::from_value(raw.clone()).map_err(|e| ActError::invalid(e.to_string()))?;
    let disabled = || {
        ActError::new(
            ActCode::EvaluateDisabled,
            "evaluate is disabled on this node ([browser] evaluate_enabled = false)",
        )
    };
    match &mut action {
        Action::Wait(w) if w.uses_fn && !evaluate_enabled => return Err(disabled()),
        Action::Evaluate(_) if !evaluate_enabled => return Err(disabled()),
        Action::Batch(b) => {
            if depth >= BATCH_DEPTH {
                return Err(ActError::invalid(format!(
                    "batch nesting exceeds maximum depth of {BATCH_DEPTH}"
                )));
            }
            if b.pending.is_empty() {
                return Err(ActError::invalid("actions are required"));
            }
            for inner in std::mem::take(&mut b.pending) {
                if let Some(t) = inner.get("targetId").and_then(Value::as_str) {
                    b.target_ids.push(t.to_string());
                }
                let decoded = decode_at(&inner, evaluate_enabled, depth + 1, count)?;
                if let Action::Batch(nested) = &decoded {
                    b.target_ids.extend(nested.target_ids.iter().cloned());
                }
                b.actions.push(decoded);
            }
        }
        _ => {}
    }
    Ok(action)
}
