//! Per-profile bookkeeping: the [`Profile`] (its directories, its running browser slot,
//! its wake-up signal) and the [`TabBook`] of its tabs — tab handles, labels, the sticky
//! tab, ref maps, event buffers, pending dialogs, armed hooks and downloads.
//!
//! Plain data and small accessors. Does not own starting or stopping browsers
//! (`lifecycle.rs`), resolving tabs (`tabs.rs`) or filling the buffers (`events.rs`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::service::running::Running;

/// A JS dialog seen on a tab.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// `d1`, `d2`, …
    pub id: String,
    /// `alert`, `confirm`, `prompt`, `beforeunload`.
    pub kind: String,
    /// Its text.
    pub message: String,
    /// When it opened (ISO 8601).
    pub opened_at: String,
    /// A prompt's default.
    pub default_value: Option<String>,
}

impl Dialog {
    /// The wire form.
    pub fn to_json(&self) -> Value {
        let mut v = json!({"id": self.id, "type": self.kind, "message": self.message, "openedAt": self.opened_at});
        if let Some(d) = &self.default_value {
            v["defaultValue"] = json!(d);
        }
        v
    }
}

/// A finished or running download.
#[derive(Debug, Clone)]
pub struct Download {
    /// CDP guid (also the temporary file name in the downloads directory).
    pub guid: String,
    /// The tab (main frame id) that started it.
    pub frame_id: String,
    /// Source URL.
    pub url: String,
    /// The name the site suggested.
    pub suggested_filename: String,
    /// `inProgress`, `completed`, `canceled`.
    pub state: String,
    /// Whether a route already took it.
    pub claimed: bool,
}

/// What the service keeps for one tab.
#[derive(Debug, Default)]
pub struct TabState {
    /// Runtime handle `t1`, `t2`, …
    pub tab_id: String,
    /// Optional label.
    pub label: Option<String>,
    /// The latest snapshot's refs (`eN`/`axN` → backend DOM node id).
    pub refs: HashMap<String, i64>,
    /// Console messages.
    pub console: VecDeque<Value>,
    /// Uncaught page errors.
    pub errors: VecDeque<Value>,
    /// Network requests.
    pub requests: VecDeque<Value>,
    /// Dialogs waiting for an answer.
    pub pending_dialogs: Vec<Dialog>,
    /// Dialogs already answered.
    pub recent_dialogs: VecDeque<Value>,
    /// A one-shot answer for the next dialog: (accept, prompt text).
    pub dialog_hook: Option<(bool, Option<String>)>,
    /// A one-shot file list for the next file chooser.
    pub chooser_hook: Option<Vec<String>>,
    /// Whether listeners run for this tab.
    pub listening: bool,
}

/// Per-profile tab bookkeeping.
#[derive(Debug, Default)]
pub struct TabBook {
    /// Next tab number.
    pub next_no: u32,
    /// Tabs by raw target id.
    pub tabs: BTreeMap<String, TabState>,
    /// The sticky last-used tab.
    pub sticky: Option<String>,
    /// Downloads by guid.
    pub downloads: Vec<Download>,
    /// Dialog counter.
    pub next_dialog: u32,
}

impl TabState {
    /// `{dialogs: {pending, recent}}` of the tab.
    pub fn dialog_state(&self) -> Value {
        json!({"dialogs": {
            "pending": self.pending_dialogs.iter().map(|d| d.to_json()).collect::<Vec<_>>(),
            "recent": self.recent_dialogs,
        }})
    }
}

impl TabBook {
    /// The state of `target`, created (with a fresh tab id) on first sight.
    pub fn tab(&mut self, target: &str) -> &mut TabState {
        if !self.tabs.contains_key(target) {
            self.next_no += 1;
            let tab_id = format!("t{}", self.next_no);
            self.tabs.insert(
                target.to_string(),
                TabState {
                    tab_id,
                    ..Default::default()
                },
            );
        }
        self.tabs.get_mut(target).expect("inserted above")
    }
}

/// One profile.
pub struct Profile {
    /// Its name.
    pub name: String,
    /// `<data>/<name>`: user data, downloads, uploads and media live below.
    pub dir: PathBuf,
    /// The running browser, if any (the lock also serialises start and stop).
    pub running: tokio::sync::Mutex<Option<Running>>,
    /// Tabs and buffers.
    pub book: Arc<Mutex<TabBook>>,
    /// Woken when a dialog opens or a download changes.
    pub changed: Arc<Notify>,
    /// Headless requested by `/start?headless=` (one-shot, not persisted).
    pub headless_override: Mutex<Option<bool>>,
}

impl Profile {
    /// The user-data-dir.
    pub fn user_data_dir(&self) -> PathBuf {
        self.dir.join("user-data")
    }
    /// Where downloads land.
    pub fn downloads_dir(&self) -> PathBuf {
        self.dir.join("downloads")
    }
    /// Where uploads are staged.
    pub fn uploads_dir(&self) -> PathBuf {
        self.dir.join("uploads")
    }
    /// Where screenshots and PDFs are written.
    pub fn media_dir(&self) -> PathBuf {
        self.dir.join("media")
    }
}
