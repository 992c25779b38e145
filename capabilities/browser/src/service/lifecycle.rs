//! Starting and stopping a profile's browser: launch (through `launch.rs`), connect CDP,
//! route downloads into the profile, and the `running`/`stop`/`port`/`pid` views of the
//! slot. Browsers start lazily on the first route that needs a tab and stop on `/stop`,
//! when the service is dropped (node shutdown), and — on Linux — when the node dies.
//! Does not own tabs (`tabs.rs`) or what the listeners record (`events.rs`).

use std::sync::Arc;

use chromiumoxide::Browser;
use chromiumoxide::handler::HandlerConfig;
use futures_util::StreamExt as _;
use serde_json::json;

use crate::cdp::browser_call;
use crate::cdp_events::EventHub;
use crate::error::ServiceError;
use crate::launch::{self, LaunchSpec};
use crate::service::Service;
use crate::service::events::spawn_download_listeners;
use crate::service::profile::{Profile, TabBook};
use crate::service::running::Running;

impl Service {
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
        // Undecodable events come back as handler errors carrying their text, which the
        // hub hands to the listeners (cdp_events.rs); ignoring them would drop them.
        let config = HandlerConfig {
            viewport: None,
            ignore_invalid_messages: false,
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
        let events = EventHub::default();
        let hub = events.clone();
        let handler_task = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(e) = event {
                    hub.on_handler_error(&e);
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
        tasks.extend(spawn_download_listeners(&browser, profile, &events).await);
        tracing::info!(target: "browser", profile = %profile.name, pid = launched.pid, port = launched.port, headless,
            ms = started.elapsed().as_millis() as u64, "browser started");
        *guard = Some(Running {
            browser: browser.clone(),
            pid: launched.pid,
            port: launched.port,
            child: launched.child,
            tasks,
            events,
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

    /// The port of a running profile (0 when stopped).
    pub async fn port(&self, profile: &Profile) -> u16 {
        profile.running.lock().await.as_ref().map_or(0, |r| r.port)
    }

    /// The pid of a running profile.
    pub async fn pid(&self, profile: &Profile) -> Option<u32> {
        profile.running.lock().await.as_ref().map(|r| r.pid)
    }
}
