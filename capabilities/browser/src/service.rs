//! The browser control service: profiles, the one browser process each may run, and the
//! per-tab state the routes share (tab handles, labels, the sticky tab, ref maps, event
//! buffers, armed dialog and file-chooser hooks, downloads).
//!
//! Browsers start lazily on the first route that needs a tab and stop on `/stop`, when the
//! service is dropped (node shutdown), and — on Linux — when the node process dies.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::browser::{
    EventDownloadProgress, EventDownloadWillBegin,
};
use chromiumoxide::cdp::browser_protocol::network::{
    EventLoadingFailed, EventRequestWillBeSent, EventResponseReceived,
};
use chromiumoxide::cdp::browser_protocol::page::{
    EventFileChooserOpened, EventJavascriptDialogOpening,
};
use chromiumoxide::cdp::browser_protocol::target::TargetId;
use chromiumoxide::cdp::js_protocol::runtime::{EventConsoleApiCalled, EventExceptionThrown};
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::listeners::EventStream;
use chromiumoxide::{Browser, Page};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::cdp::{browser_call, page_call};
use crate::launch::{self, Detected, LaunchSpec};
use crate::policy::NavPolicy;
use crate::settings::BrowserSettings;

/// Entries kept per tab in each debug buffer.
pub const BUFFER_LIMIT: usize = 500;
/// How long `get_page` waits for chromiumoxide to attach to a new target.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);

/// The viewport of headless tabs.
pub const VIEWPORT: (u32, u32) = (1280, 720);

/// The name of the managed default profile.
pub const DEFAULT_PROFILE: &str = "openclaw";
/// The reference's default profile colour.
pub const DEFAULT_COLOR: &str = "#FF4500";

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

/// A browser that is running for a profile.
pub struct Running {
    /// The CDP client.
    pub browser: Arc<Browser>,
    /// Browser pid (and process group).
    pub pid: u32,
    /// DevTools port.
    pub port: u16,
    /// The child process (killed on drop).
    child: tokio::process::Child,
    /// Tasks to abort on stop (the CDP handler and the listeners).
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The user-data-dir (for the sweep).
    user_data_dir: PathBuf,
    /// Headless or not, as launched.
    pub headless: bool,
}

impl Running {
    /// Whether the process and its CDP connection are still alive.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
            && self.tasks.first().is_some_and(|t| !t.is_finished())
    }

    async fn stop(mut self) {
        for t in &self.tasks {
            t.abort();
        }
        launch::kill_tree(self.pid, &self.user_data_dir).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        self.pid = 0;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if self.pid > 0 {
            launch::kill_tree_now(self.pid, &self.user_data_dir);
        }
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

/// How headless was decided, for status bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadlessSource {
    /// `/start?headless=`.
    Request,
    /// `OPENCLAW_BROWSER_HEADLESS`.
    Env,
    /// `[browser] headless`.
    Config,
    /// Linux with no display.
    LinuxDisplayFallback,
    /// Headed by default.
    Default,
}

impl HeadlessSource {
    /// Wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            HeadlessSource::Request => "request",
            HeadlessSource::Env => "env",
            HeadlessSource::Config => "config",
            HeadlessSource::LinuxDisplayFallback => "linux-display-fallback",
            HeadlessSource::Default => "default",
        }
    }
}

/// The service behind `browser.proxy`.
pub struct Service {
    /// Settings from `[browser]`.
    pub settings: BrowserSettings,
    /// The navigation policy.
    pub policy: NavPolicy,
    /// Profiles by name (the default one first in iteration only by name order).
    pub profiles: BTreeMap<String, Arc<Profile>>,
    /// The process environment, read once (tests substitute it).
    env: HashMap<String, String>,
}

/// Failure of a service operation, with the HTTP-like status the route answers.
#[derive(Debug, Clone)]
pub struct ServiceError {
    /// Status.
    pub status: u16,
    /// Message.
    pub message: String,
    /// Extra body fields (`reason`, `details`, `code`).
    pub extra: Option<Value>,
}

impl ServiceError {
    /// A status and message.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            extra: None,
        }
    }
}

impl Service {
    /// A service over `data_dir` (profile directories are created below it on use).
    pub fn new(settings: BrowserSettings, data_dir: &Path, env: HashMap<String, String>) -> Self {
        let policy = NavPolicy {
            allow_private_network: settings.allow_private_network,
            allowed_hostnames: settings.allowed_hostnames.clone(),
            allowed_schemes: settings.allowed_schemes.clone(),
        };
        let mut names = vec![DEFAULT_PROFILE.to_string()];
        names.extend(settings.profiles.iter().cloned());
        let profiles = names
            .into_iter()
            .map(|name| {
                let p = Profile {
                    dir: data_dir.join(&name),
                    name: name.clone(),
                    running: tokio::sync::Mutex::new(None),
                    book: Arc::new(Mutex::new(TabBook::default())),
                    changed: Arc::new(Notify::new()),
                    headless_override: Mutex::new(None),
                };
                (name, Arc::new(p))
            })
            .collect();
        Self {
            settings,
            policy,
            profiles,
            env,
        }
    }

    /// The default profile's name.
    pub fn default_profile(&self) -> &str {
        self.settings
            .default_profile
            .as_deref()
            .unwrap_or(DEFAULT_PROFILE)
    }

    /// A profile by name.
    pub fn profile(&self, name: &str) -> Result<Arc<Profile>, ServiceError> {
        self.profiles
            .get(name)
            .cloned()
            .ok_or_else(|| ServiceError::new(404, format!("browser profile \"{name}\" not found")))
    }

    /// The browser binary for this machine.
    pub fn detect(&self) -> Result<Detected, String> {
        launch::detect(
            self.settings.executable_path.as_deref(),
            self.env.get("PATH").map(String::as_str),
        )
    }

    /// Whether a display is available (Linux; always true elsewhere).
    pub fn display_present(&self) -> bool {
        if !cfg!(target_os = "linux") {
            return true;
        }
        ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| self.env.get(*v).is_some_and(|s| !s.is_empty()))
    }

    /// Headless or not for `profile`, and why.
    pub fn headless(&self, profile: &Profile) -> (bool, HeadlessSource) {
        if let Some(h) = *profile.headless_override.lock().expect("headless lock") {
            return (h, HeadlessSource::Request);
        }
        if let Some(v) = self.env.get("OPENCLAW_BROWSER_HEADLESS") {
            match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => return (true, HeadlessSource::Env),
                "0" | "false" | "no" => return (false, HeadlessSource::Env),
                _ => {}
            }
        }
        if let Some(h) = self.settings.headless {
            return (h, HeadlessSource::Config);
        }
        if cfg!(target_os = "linux") && !self.display_present() {
            return (true, HeadlessSource::LinuxDisplayFallback);
        }
        (false, HeadlessSource::Default)
    }

    /// `--no-sandbox`: configured, else on when running as root (Chromium refuses to start
    /// as root with its sandbox).
    pub fn no_sandbox(&self) -> bool {
        self.settings.no_sandbox.unwrap_or_else(is_root)
    }

    /// The running browser of `profile`, started if needed.
    pub async fn ensure_running(
        &self,
        profile: &Arc<Profile>,
    ) -> Result<Arc<Browser>, ServiceError> {
        let mut guard = profile.running.lock().await;
        if let Some(r) = guard.as_mut() {
            if r.alive() {
                return Ok(r.browser.clone());
            }
            tracing::warn!(target: "browser", profile = %profile.name, "browser died; starting a new one");
            if let Some(dead) = guard.take() {
                dead.stop().await;
            }
            *profile.book.lock().expect("book lock") = TabBook::default();
        }
        let detected = self.detect().map_err(|e| ServiceError::new(503, e))?;
        let (headless, source) = self.headless(profile);
        if !headless && !self.display_present() {
            let mut e = ServiceError::new(
                409,
                format!(
                    "browser profile \"{}\" is headed but no display is available",
                    profile.name
                ),
            );
            e.extra = Some(json!({
                "reason": "no_display_for_headed_profile",
                "details": {"profile": profile.name, "requestedHeadless": false, "headlessSource": source.as_str(), "displayPresent": false}
            }));
            return Err(e);
        }
        let spec = LaunchSpec {
            executable: detected.path,
            user_data_dir: profile.user_data_dir(),
            headless,
            no_sandbox: self.no_sandbox(),
            extra_args: self.settings.extra_args.clone(),
        };
        let started = std::time::Instant::now();
        let launched = launch::launch(&spec)
            .await
            .map_err(|e| ServiceError::new(500, e))?;
        let config = HandlerConfig {
            viewport: None,
            ..Default::default()
        };
        let connected = Browser::connect_with_config(launched.ws_url.clone(), config).await;
        let (browser, mut handler) = match connected {
            Ok(pair) => pair,
            Err(e) => {
                launch::kill_tree(launched.pid, &launched.user_data_dir).await;
                return Err(ServiceError::new(
                    500,
                    format!(
                        "Chrome CDP websocket for profile \"{}\" is not reachable after start: {e}",
                        profile.name
                    ),
                ));
            }
        };
        let handler_task = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(e) = event {
                    tracing::debug!(target: "browser", "cdp handler: {e}");
                }
            }
        });
        let browser = Arc::new(browser);
        let mut tasks = vec![handler_task];
        let downloads = profile.downloads_dir();
        let _ = std::fs::create_dir_all(&downloads);
        let _ = browser_call(
            &browser,
            "Browser.setDownloadBehavior",
            json!({"behavior": "allowAndName", "downloadPath": downloads, "eventsEnabled": true}),
        )
        .await;
        tasks.extend(spawn_download_listeners(&browser, profile).await);
        tracing::info!(target: "browser", profile = %profile.name, pid = launched.pid, port = launched.port, headless,
            ms = started.elapsed().as_millis() as u64, "browser started");
        *guard = Some(Running {
            browser: browser.clone(),
            pid: launched.pid,
            port: launched.port,
            child: launched.child,
            tasks,
            user_data_dir: launched.user_data_dir,
            headless,
        });
        Ok(browser)
    }

    /// The running browser of `profile`, without starting one.
    pub async fn running(&self, profile: &Profile) -> Option<Arc<Browser>> {
        let mut guard = profile.running.lock().await;
        let r = guard.as_mut()?;
        r.alive().then(|| r.browser.clone())
    }

    /// Stops `profile`'s browser; true if one was running.
    pub async fn stop(&self, profile: &Profile) -> bool {
        let taken = profile.running.lock().await.take();
        *profile.book.lock().expect("book lock") = TabBook::default();
        match taken {
            Some(r) => {
                r.stop().await;
                true
            }
            None => false,
        }
    }

    /// Stops every browser (node shutdown).
    pub async fn stop_all(&self) {
        for p in self.profiles.values() {
            self.stop(p).await;
        }
    }

    /// Page targets of a running browser, in tab order, with their info.
    pub async fn page_targets(
        &self,
        profile: &Profile,
        browser: &Browser,
    ) -> Result<Vec<Value>, ServiceError> {
        let r = browser_call(browser, "Target.getTargets", json!({}))
            .await
            .map_err(|e| ServiceError::new(500, e.0))?;
        let infos: Vec<Value> = r
            .get("targetInfos")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.get("type").and_then(Value::as_str) == Some("page"))
            .collect();
        let mut book = profile.book.lock().expect("book lock");
        let live: Vec<String> = infos
            .iter()
            .filter_map(|t| t.get("targetId")?.as_str().map(String::from))
            .collect();
        book.tabs.retain(|id, _| live.contains(id));
        if book.sticky.as_ref().is_some_and(|s| !live.contains(s)) {
            book.sticky = None;
        }
        let mut with_no: Vec<(u32, Value)> = infos
            .into_iter()
            .map(|t| {
                let id = t
                    .get("targetId")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let state = book.tab(&id);
                let no = state.tab_id[1..].parse().unwrap_or(u32::MAX);
                (no, t)
            })
            .collect();
        with_no.sort_by_key(|(no, _)| *no);
        Ok(with_no.into_iter().map(|(_, t)| t).collect())
    }

    /// The tab record of the wire (`suggestedTargetId`, `targetId`, `tabId`, …).
    pub fn tab_record(
        &self,
        profile: &Profile,
        port: u16,
        info: &Value,
        url_visible: bool,
    ) -> Value {
        let id = info.get("targetId").and_then(Value::as_str).unwrap_or("");
        let mut book = profile.book.lock().expect("book lock");
        let state = book.tab(id);
        let suggested = state.label.clone().unwrap_or_else(|| state.tab_id.clone());
        let mut v = json!({
            "suggestedTargetId": suggested,
            "targetId": id,
            "tabId": state.tab_id,
            "title": info.get("title").and_then(Value::as_str).unwrap_or(""),
            "url": if url_visible { info.get("url").and_then(Value::as_str).unwrap_or("") } else { "" },
            "wsUrl": format!("ws://127.0.0.1:{port}/devtools/page/{id}"),
            "type": "page",
        });
        if let Some(l) = &state.label {
            v["label"] = json!(l);
        }
        v
    }

    /// The port of a running profile (0 when stopped).
    pub async fn port(&self, profile: &Profile) -> u16 {
        profile.running.lock().await.as_ref().map_or(0, |r| r.port)
    }

    /// The pid of a running profile.
    pub async fn pid(&self, profile: &Profile) -> Option<u32> {
        profile.running.lock().await.as_ref().map(|r| r.pid)
    }

    /// Resolves a caller's tab reference (raw id, tab id, label, or unique raw-id prefix)
    /// among `targets`; `None` picks the sticky tab, else the first.
    pub fn resolve_ref(
        &self,
        profile: &Profile,
        targets: &[Value],
        wanted: Option<&str>,
    ) -> Result<String, ServiceError> {
        let ids: Vec<String> = targets
            .iter()
            .filter_map(|t| t.get("targetId")?.as_str().map(String::from))
            .collect();
        let book = profile.book.lock().expect("book lock");
        let Some(wanted) = wanted.map(str::trim).filter(|w| !w.is_empty()) else {
            if let Some(s) = book.sticky.as_ref().filter(|s| ids.contains(s)) {
                return Ok(s.clone());
            }
            return ids
                .first()
                .cloned()
                .ok_or_else(|| ServiceError::new(404, "tab not found"));
        };
        if ids.iter().any(|i| i == wanted) {
            return Ok(wanted.to_string());
        }
        let by_handle: Vec<&String> = ids
            .iter()
            .filter(|id| {
                book.tabs
                    .get(*id)
                    .is_some_and(|t| t.tab_id == wanted || t.label.as_deref() == Some(wanted))
            })
            .collect();
        if by_handle.len() == 1 {
            return Ok(by_handle[0].clone());
        }
        let lower = wanted.to_ascii_lowercase();
        let by_prefix: Vec<&String> = ids
            .iter()
            .filter(|id| id.to_ascii_lowercase().starts_with(&lower))
            .collect();
        match by_prefix.len() {
            1 => Ok(by_prefix[0].clone()),
            0 if by_handle.is_empty() => {
                let hint = if wanted.chars().all(|c| c.is_ascii_digit()) {
                    " Numbers are not tab targets; use a tabId such as t1."
                } else {
                    ""
                };
                Err(ServiceError::new(
                    404,
                    format!(
                        "tab not found: browser tab \"{wanted}\" not found. Use action=tabs and pass suggestedTargetId, tabId, label, or raw targetId.{hint}"
                    ),
                ))
            }
            _ => Err(ServiceError::new(409, "ambiguous browser tab reference")),
        }
    }

    /// The page of `target`, with its listeners running; makes it the sticky tab.
    pub async fn page(
        &self,
        profile: &Arc<Profile>,
        browser: &Browser,
        target: &str,
    ) -> Result<Page, ServiceError> {
        let deadline = tokio::time::Instant::now() + ATTACH_TIMEOUT;
        let page = loop {
            match browser.get_page(TargetId::from(target.to_string())).await {
                Ok(p) => break p,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(25)).await
                }
                Err(e) => {
                    return Err(ServiceError::new(
                        404,
                        format!("tab not found: {target}: {e}"),
                    ));
                }
            }
        };
        let start_listening = {
            let mut book = profile.book.lock().expect("book lock");
            book.sticky = Some(target.to_string());
            let tab = book.tab(target);
            !std::mem::replace(&mut tab.listening, true)
        };
        if start_listening {
            let _ = page_call(&page, "Network.enable", json!({})).await;
            let _ = page_call(&page, "Runtime.enable", json!({})).await;
            let _ = page_call(&page, "Page.enable", json!({})).await;
            // Headless windows include invisible browser chrome: pin the viewport so
            // screenshots and coordinates match the size agents expect.
            let headless = profile
                .running
                .lock()
                .await
                .as_ref()
                .is_some_and(|r| r.headless);
            if headless {
                let _ = page_call(
                    &page,
                    "Emulation.setDeviceMetricsOverride",
                    json!({"width": VIEWPORT.0, "height": VIEWPORT.1, "deviceScaleFactor": 1, "mobile": false}),
                )
                .await;
            }
            spawn_tab_listeners(&page, profile, target).await;
        }
        Ok(page)
    }

    /// Opens a new background tab at `url` and returns its target id.
    pub async fn open_tab(&self, browser: &Browser, url: &str) -> Result<String, ServiceError> {
        let r = browser_call(
            browser,
            "Target.createTarget",
            json!({"url": url, "background": true}),
        )
        .await
        .map_err(|e| ServiceError::new(500, e.0))?;
        r.get("targetId")
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| ServiceError::new(500, "Target.createTarget returned no targetId"))
    }

    /// A page tab to work on: the referenced one, else sticky/first, opening `about:blank`
    /// when the browser has none. Starts the browser if needed.
    pub async fn tab_for(
        &self,
        profile: &Arc<Profile>,
        wanted: Option<&str>,
    ) -> Result<(Arc<Browser>, Page, String), ServiceError> {
        let browser = self.ensure_running(profile).await?;
        let mut targets = self.page_targets(profile, &browser).await?;
        if targets.is_empty() {
            if wanted.is_some() {
                return Err(ServiceError::new(
                    404,
                    format!(
                        "tab not found: browser tab \"{}\" not found. Use action=tabs and pass suggestedTargetId, tabId, label, or raw targetId.",
                        wanted.unwrap_or("")
                    ),
                ));
            }
            self.open_tab(&browser, "about:blank").await?;
            targets = self.page_targets(profile, &browser).await?;
        }
        let target = self.resolve_ref(profile, &targets, wanted)?;
        let page = self.page(profile, &browser, &target).await?;
        Ok((browser, page, target))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // `Running`'s own Drop kills each browser tree synchronously.
        for p in self.profiles.values() {
            if let Ok(mut g) = p.running.try_lock() {
                g.take();
            }
        }
    }
}

/// Whether the node runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Now as ISO 8601 UTC (millisecond precision).
pub fn now_iso() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    iso_from_millis(now.as_millis() as i64)
}

/// Milliseconds since the epoch as ISO 8601 UTC.
pub fn iso_from_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn push_capped(buf: &mut VecDeque<Value>, v: Value) {
    if buf.len() >= BUFFER_LIMIT {
        buf.pop_front();
    }
    buf.push_back(v);
}

async fn listen<E>(
    stream: chromiumoxide::Result<EventStream<E>>,
    mut f: impl FnMut(Value) + Send + 'static,
) -> Option<tokio::task::JoinHandle<()>>
where
    E: chromiumoxide::cdp::IntoEventKind + serde::Serialize + Unpin + Send + Sync + 'static,
{
    let mut stream = stream.ok()?;
    Some(tokio::spawn(async move {
        while let Some(ev) = stream.next().await {
            if let Ok(v) = serde_json::to_value(&*ev) {
                f(v);
            }
        }
    }))
}

async fn spawn_download_listeners(
    browser: &Browser,
    profile: &Arc<Profile>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let (book, changed) = (profile.book.clone(), profile.changed.clone());
    tasks.extend(
        listen(
            browser.event_listener::<EventDownloadWillBegin>().await,
            move |v| {
                let d = Download {
                    guid: v["guid"].as_str().unwrap_or("").into(),
                    frame_id: v["frameId"].as_str().unwrap_or("").into(),
                    url: v["url"].as_str().unwrap_or("").into(),
                    suggested_filename: v["suggestedFilename"]
                        .as_str()
                        .unwrap_or("download")
                        .into(),
                    state: "inProgress".into(),
                    claimed: false,
                };
                book.lock().expect("book lock").downloads.push(d);
                changed.notify_waiters();
            },
        )
        .await,
    );
    let (book, changed) = (profile.book.clone(), profile.changed.clone());
    tasks.extend(
        listen(
            browser.event_listener::<EventDownloadProgress>().await,
            move |v| {
                let guid = v["guid"].as_str().unwrap_or("");
                let state = v["state"].as_str().unwrap_or("inProgress");
                if let Some(d) = book
                    .lock()
                    .expect("book lock")
                    .downloads
                    .iter_mut()
                    .find(|d| d.guid == guid)
                {
                    d.state = state.to_string();
                }
                changed.notify_waiters();
            },
        )
        .await,
    );
    tasks
}

async fn spawn_tab_listeners(page: &Page, profile: &Arc<Profile>, target: &str) {
    let t = target.to_string();
    let (book, changed) = (profile.book.clone(), profile.changed.clone());
    let answer_page = page.clone();
    listen(
        page.event_listener::<EventJavascriptDialogOpening>().await,
        move |v| {
            let mut b = book.lock().expect("book lock");
            b.next_dialog += 1;
            let dialog = Dialog {
                id: format!("d{}", b.next_dialog),
                kind: v["type"].as_str().unwrap_or("alert").into(),
                message: v["message"].as_str().unwrap_or("").into(),
                opened_at: now_iso(),
                default_value: v["defaultPrompt"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            };
            let tab = b.tab(&t);
            if let Some((accept, text)) = tab.dialog_hook.take() {
                let mut rec = dialog.to_json();
                rec["accepted"] = json!(accept);
                rec["closedAt"] = json!(now_iso());
                push_capped(&mut tab.recent_dialogs, rec);
                let page = answer_page.clone();
                tokio::spawn(async move {
                    let mut params = json!({"accept": accept});
                    if let Some(t) = text {
                        params["promptText"] = json!(t);
                    }
                    let _ = page_call(&page, "Page.handleJavaScriptDialog", params).await;
                });
            } else {
                tab.pending_dialogs.push(dialog);
            }
            drop(b);
            changed.notify_waiters();
        },
    )
    .await;
    let t = target.to_string();
    let book = profile.book.clone();
    listen(page.event_listener::<EventConsoleApiCalled>().await, move |v| {
        let text = v["args"]
            .as_array()
            .map(|a| a.iter().map(remote_text).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        let ts = v["timestamp"].as_f64().map(|t| iso_from_millis(t as i64)).unwrap_or_else(now_iso);
        let mut msg = json!({"type": v["type"].as_str().unwrap_or("log"), "text": text, "timestamp": ts});
        if let Some(frame) = v.pointer("/stackTrace/callFrames/0") {
            msg["location"] = json!({"url": frame["url"], "lineNumber": frame["lineNumber"], "columnNumber": frame["columnNumber"]});
        }
        push_capped(&mut book.lock().expect("book lock").tab(&t).console, msg);
    })
    .await;
    let t = target.to_string();
    let book = profile.book.clone();
    listen(
        page.event_listener::<EventExceptionThrown>().await,
        move |v| {
            let d = &v["exceptionDetails"];
            let description = d.pointer("/exception/description").and_then(Value::as_str);
            let message = description
                .and_then(|s| s.lines().next())
                .or_else(|| d["text"].as_str())
                .unwrap_or("error")
                .to_string();
            let mut e = json!({"message": message, "timestamp": now_iso()});
            if let Some(name) = d.pointer("/exception/className").and_then(Value::as_str) {
                e["name"] = json!(name);
            }
            if let Some(stack) = description {
                e["stack"] = json!(stack);
            }
            push_capped(&mut book.lock().expect("book lock").tab(&t).errors, e);
        },
    )
    .await;
    let t = target.to_string();
    let book = profile.book.clone();
    listen(page.event_listener::<EventRequestWillBeSent>().await, move |v| {
        let r = json!({
            "id": v["requestId"], "timestamp": now_iso(), "method": v.pointer("/request/method"),
            "url": v.pointer("/request/url"), "resourceType": v["type"],
        });
        push_capped(&mut book.lock().expect("book lock").tab(&t).requests, r);
    })
    .await;
    let t = target.to_string();
    let book = profile.book.clone();
    listen(
        page.event_listener::<EventResponseReceived>().await,
        move |v| {
            let status = v
                .pointer("/response/status")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            update_request(&book, &t, &v, |r| {
                r["status"] = json!(status as i64);
                r["ok"] = json!((200.0..400.0).contains(&status));
            });
        },
    )
    .await;
    let t = target.to_string();
    let book = profile.book.clone();
    listen(
        page.event_listener::<EventLoadingFailed>().await,
        move |v| {
            update_request(&book, &t, &v, |r| {
                r["ok"] = json!(false);
                r["failureText"] = v["errorText"].clone();
            });
        },
    )
    .await;
    let t = target.to_string();
    let book = profile.book.clone();
    let chooser_page = page.clone();
    listen(
        page.event_listener::<EventFileChooserOpened>().await,
        move |v| {
            let files = book.lock().expect("book lock").tab(&t).chooser_hook.take();
            if let (Some(files), Some(node)) = (files, v["backendNodeId"].as_i64()) {
                let page = chooser_page.clone();
                tokio::spawn(async move {
                    let _ = page_call(
                        &page,
                        "DOM.setFileInputFiles",
                        json!({"files": files, "backendNodeId": node}),
                    )
                    .await;
                    let _ = page_call(
                        &page,
                        "Page.setInterceptFileChooserDialog",
                        json!({"enabled": false}),
                    )
                    .await;
                });
            }
        },
    )
    .await;
}

/// Applies `f` to the buffered request that `event` reports on.
fn update_request(book: &Mutex<TabBook>, target: &str, event: &Value, f: impl FnOnce(&mut Value)) {
    let mut b = book.lock().expect("book lock");
    if let Some(r) = b
        .tab(target)
        .requests
        .iter_mut()
        .rev()
        .find(|r| r["id"] == event["requestId"])
    {
        f(r);
    }
}

/// A console argument as text.
fn remote_text(arg: &Value) -> String {
    match &arg["value"] {
        Value::String(s) => s.clone(),
        Value::Null => arg["description"]
            .as_str()
            .or(arg["type"].as_str())
            .unwrap_or("")
            .to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(env: &[(&str, &str)], settings: BrowserSettings) -> (Service, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (Service::new(settings, dir.path(), env), dir)
    }

    #[test]
    fn headless_precedence() {
        let (s, _d) = service(&[], BrowserSettings::default());
        let p = s.profile(DEFAULT_PROFILE).unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(s.headless(&p), (true, HeadlessSource::LinuxDisplayFallback));
        }
        let (s, _d) = service(&[("DISPLAY", ":99")], BrowserSettings::default());
        let p = s.profile(DEFAULT_PROFILE).unwrap();
        assert_eq!(s.headless(&p), (false, HeadlessSource::Default));
        let (s, _d) = service(
            &[("DISPLAY", ":99"), ("OPENCLAW_BROWSER_HEADLESS", "1")],
            BrowserSettings {
                headless: Some(false),
                ..Default::default()
            },
        );
        let p = s.profile(DEFAULT_PROFILE).unwrap();
        assert_eq!(s.headless(&p), (true, HeadlessSource::Env));
        *p.headless_override.lock().unwrap() = Some(false);
        assert_eq!(s.headless(&p), (false, HeadlessSource::Request));
        assert!(
            s.profile("nope")
                .err()
                .unwrap()
                .message
                .contains("not found")
        );
    }

    #[test]
    fn tab_references_resolve_by_id_handle_label_and_prefix() {
        let (s, _d) = service(&[], BrowserSettings::default());
        let p = s.profile(DEFAULT_PROFILE).unwrap();
        let targets = vec![json!({"targetId": "ABC123"}), json!({"targetId": "ABD456"})];
        {
            let mut b = p.book.lock().unwrap();
            b.tab("ABC123");
            b.tab("ABD456").label = Some("research".into());
        }
        assert_eq!(s.resolve_ref(&p, &targets, Some("t1")).unwrap(), "ABC123");
        assert_eq!(
            s.resolve_ref(&p, &targets, Some("research")).unwrap(),
            "ABD456"
        );
        assert_eq!(s.resolve_ref(&p, &targets, Some("abc")).unwrap(), "ABC123");
        assert_eq!(
            s.resolve_ref(&p, &targets, Some("AB")).unwrap_err().status,
            409
        );
        let e = s.resolve_ref(&p, &targets, Some("zz")).unwrap_err();
        assert_eq!(e.status, 404);
        assert!(
            e.message
                .starts_with("tab not found: browser tab \"zz\" not found.")
        );
        assert!(
            s.resolve_ref(&p, &targets, Some("7"))
                .unwrap_err()
                .message
                .contains("Numbers are not tab targets")
        );
        assert_eq!(s.resolve_ref(&p, &targets, None).unwrap(), "ABC123");
        p.book.lock().unwrap().sticky = Some("ABD456".into());
        assert_eq!(s.resolve_ref(&p, &targets, None).unwrap(), "ABD456");
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso_from_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso_from_millis(1_795_000_000_123),
            "2026-11-18T11:06:40.123Z"
        );
    }
}
