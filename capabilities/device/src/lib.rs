//! Host figures: the `node.host.stats` sample a node publishes after each connect and
//! every minute, and the `device.info` / `device.status` commands (shapes of the Windows
//! node host). Sampling refreshes only what it reports (memory, the CPU list, the disks),
//! never the process table.
//!
//! The commands are served only when the node's config enables them
//! ([`DeviceConfig::enabled`]); the host stats event is independent of that switch: it is
//! the capability's per-connection background task ([`Capability::background`]), on when
//! built [`DeviceCapability::with_host_stats`].

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use openclaw_capability_api::{
    Availability, BackgroundContext, BoxFuture, CallContext, Capability, CapabilityError, Command,
    Handler, erase,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sysinfo::{CpuRefreshKind, Disks, System};

/// The `node.host.stats` event name.
pub const HOST_STATS_EVENT: &str = "node.host.stats";
/// How often a connected node publishes host stats.
pub const HOST_STATS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// The `node.host.stats` payload (a closed object on the gateway; the disk fields come
/// together or not at all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostStats {
    /// Logical CPUs.
    pub cpu_count: u64,
    /// 1, 5 and 15 minute load averages (not on every OS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_average: Option<[f64; 3]>,
    /// Physical memory.
    pub memory_total_bytes: u64,
    /// Memory available to new work (the kernel's "available", not just "free").
    pub memory_free_bytes: u64,
    /// Size of the filesystem holding the node's state directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_total_bytes: Option<u64>,
    /// Space available to the node on that filesystem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_available_bytes: Option<u64>,
}

/// Total and available bytes of the filesystem that holds `path`.
pub fn disk_for(path: &Path) -> Option<(u64, u64)> {
    let path = std::fs::canonicalize(path).ok()?;
    let disks = Disks::new_with_refreshed_list().ok()?;
    disks
        .iter()
        .filter(|d| path.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .map(|d| (d.total_space(), d.available_space()))
        .filter(|(total, _)| *total > 0)
}

fn load_average() -> Option<[f64; 3]> {
    System::load_average()
        .ok()
        .map(|l| [l.one, l.five, l.fifteen])
        .filter(|l| l.iter().all(|v| v.is_finite() && *v >= 0.0))
}

fn cpu_count(sys: &mut System) -> u64 {
    sys.refresh_cpu_list(CpuRefreshKind::nothing());
    match sys.cpus().len() {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()) as u64,
        n => n as u64,
    }
}

/// Samples host stats for the filesystem of `state_dir` (blocking, a few syscalls).
pub fn sample_host_stats(state_dir: &Path) -> Result<HostStats, String> {
    let mut sys = System::new().map_err(|e| format!("cannot read system figures: {e}"))?;
    sys.refresh_memory();
    let disk = disk_for(state_dir);
    Ok(HostStats {
        cpu_count: cpu_count(&mut sys),
        load_average: load_average(),
        memory_total_bytes: sys.total_memory(),
        memory_free_bytes: sys.available_memory().min(sys.total_memory()),
        disk_total_bytes: disk.map(|d| d.0),
        disk_available_bytes: disk.map(|d| d.1),
    })
}

/// Settings of the device commands.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// Serve `device.info` and `device.status` (off by default).
    pub enabled: bool,
    /// The node's state directory (its filesystem is the `disk` section).
    pub state_dir: PathBuf,
    /// The node's version, reported as `appVersion`.
    pub app_version: String,
}

/// The `device` capability.
#[derive(Debug, Clone)]
pub struct DeviceCapability {
    config: Arc<DeviceConfig>,
    /// Publish `node.host.stats` this often on every connection (`None`: never).
    host_stats_interval: Option<std::time::Duration>,
}

impl DeviceCapability {
    /// A capability with this config (no host stats published).
    pub fn new(config: DeviceConfig) -> Self {
        Self {
            config: Arc::new(config),
            host_stats_interval: None,
        }
    }

    /// The same capability, publishing `node.host.stats` for the state directory's
    /// filesystem after each connect, every `interval`, and again when the gateway
    /// approves the command surface.
    pub fn with_host_stats(mut self, interval: std::time::Duration) -> Self {
        self.host_stats_interval = Some(interval);
        self
    }
}

/// Logs a sampling failure once per connection.
fn warn_once(warned: &mut bool, error: &str) {
    if !*warned {
        *warned = true;
        tracing::warn!(error, "cannot sample host stats; not publishing them");
    }
}

/// The host stats publisher of one connection (see [`DeviceCapability::with_host_stats`]).
/// A failed sample is reported once and the task keeps trying.
async fn publish_host_stats(
    state_dir: PathBuf,
    interval: std::time::Duration,
    ctx: BackgroundContext,
) {
    let mut warned = false;
    loop {
        let dir = state_dir.clone();
        let sample = tokio::task::spawn_blocking(move || sample_host_stats(&dir)).await;
        match sample {
            Ok(Ok(stats)) => match serde_json::to_value(&stats) {
                Ok(payload) => ctx.events.emit(HOST_STATS_EVENT, payload),
                Err(e) => warn_once(&mut warned, &e.to_string()),
            },
            Ok(Err(e)) => warn_once(&mut warned, &e),
            Err(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = ctx.surface_approved.notified() => {}
            _ = ctx.stop.cancelled() => return,
        }
    }
}

impl Capability for DeviceCapability {
    fn caps(&self) -> Vec<&'static str> {
        vec!["device"]
    }

    fn handlers(&self) -> Vec<Arc<dyn Handler>> {
        vec![
            erase(DeviceInfo(self.config.clone())),
            erase(DeviceStatus(self.config.clone())),
        ]
    }

    fn availability(&self) -> Availability {
        if self.config.enabled {
            Availability::Available
        } else {
            Availability::Unavailable(
                "disabled by config (set [device] enabled = true to serve device.info and device.status)"
                    .into(),
            )
        }
    }

    fn background(&self, ctx: BackgroundContext) -> Option<BoxFuture<()>> {
        let interval = self.host_stats_interval?;
        Some(Box::pin(publish_host_stats(
            self.config.state_dir.clone(),
            interval,
            ctx,
        )))
    }
}

/// No params.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// `device.info`.
struct DeviceInfo(Arc<DeviceConfig>);

/// `device.info` result (the Windows node's shape).
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfoResult {
    /// Host name.
    pub device_name: String,
    /// Hardware model (DMI product name), else the CPU architecture.
    pub model_identifier: String,
    /// OS name, e.g. `Debian GNU/Linux`.
    pub system_name: String,
    /// OS version, e.g. `Linux 12 Debian GNU/Linux`.
    pub system_version: String,
    /// Node version.
    pub app_version: String,
    /// Node build.
    pub app_build: String,
    /// Locale from the environment, e.g. `en_US`.
    pub locale: String,
}

/// The hardware model the OS reports, else the CPU architecture.
pub fn model_identifier() -> String {
    std::fs::read_to_string("/sys/devices/virtual/dmi/id/product_name")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s != "None")
        .unwrap_or_else(System::cpu_arch)
}

fn locale() -> String {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty() && v != "C" && v != "POSIX")
        .map(|v| v.split(['.', '@']).next().unwrap_or_default().to_string())
        .unwrap_or_else(|| "en_US".into())
}

impl Command for DeviceInfo {
    type Params = NoParams;
    type Output = DeviceInfoResult;

    fn name(&self) -> &'static str {
        "device.info"
    }

    async fn run(&self, _: NoParams, _: CallContext) -> Result<DeviceInfoResult, CapabilityError> {
        Ok(DeviceInfoResult {
            device_name: System::host_name().unwrap_or_else(|_| "unknown".into()),
            model_identifier: model_identifier(),
            system_name: System::name().unwrap_or_else(|_| std::env::consts::OS.into()),
            system_version: System::long_os_version()
                .or_else(|_| System::os_version())
                .unwrap_or_else(|_| "unknown".into()),
            app_version: self.0.app_version.clone(),
            app_build: self.0.app_version.clone(),
            locale: locale(),
        })
    }
}

/// `device.status`.
struct DeviceStatus(Arc<DeviceConfig>);

/// `device.status` params.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusParams {
    /// Which sections (`os`, `cpu`, `memory`, `disk`, `battery`, `thermal`); all if absent.
    pub sections: Option<Vec<String>>,
}

const SECTIONS: &[&str] = &["os", "cpu", "memory", "disk", "battery", "thermal"];

fn battery() -> Option<Value> {
    let dir = std::fs::read_dir("/sys/class/power_supply").ok()?;
    let bat = dir
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| std::fs::read_to_string(p.join("type")).is_ok_and(|t| t.trim() == "Battery"))?;
    let read = |f: &str| {
        std::fs::read_to_string(bat.join(f))
            .ok()
            .map(|s| s.trim().to_string())
    };
    let level = read("capacity")
        .and_then(|c| c.parse::<f64>().ok())
        .map(|c| c / 100.0);
    let state = match read("status").as_deref() {
        Some("Charging") => "charging",
        Some("Discharging") => "unplugged",
        Some("Full") => "full",
        _ => "unknown",
    };
    Some(json!({"level": level, "state": state, "lowPowerModeEnabled": false}))
}

fn thermal() -> Option<Value> {
    let dir = std::fs::read_dir("/sys/class/thermal").ok()?;
    let max_milli = dir
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("thermal_zone"))
        .filter_map(|e| std::fs::read_to_string(e.path().join("temp")).ok())
        .filter_map(|t| t.trim().parse::<i64>().ok())
        .max()?;
    let celsius = max_milli as f64 / 1000.0;
    let state = match celsius {
        c if c >= 95.0 => "critical",
        c if c >= 85.0 => "serious",
        c if c >= 70.0 => "fair",
        _ => "nominal",
    };
    Some(json!({"state": state, "maxCelsius": celsius}))
}

impl Command for DeviceStatus {
    type Params = StatusParams;
    type Output = Value;

    fn name(&self) -> &'static str {
        "device.status"
    }

    async fn run(&self, p: StatusParams, _: CallContext) -> Result<Value, CapabilityError> {
        let wanted: Vec<String> = match p.sections {
            Some(list) => {
                if let Some(bad) = list.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                    return Err(CapabilityError::invalid_request(format!(
                        "INVALID_REQUEST: unknown section {bad:?} (known: {})",
                        SECTIONS.join(", ")
                    )));
                }
                list
            }
            None => SECTIONS.iter().map(|s| s.to_string()).collect(),
        };
        let state_dir = self.0.state_dir.clone();
        let value = tokio::task::spawn_blocking(move || status_document(&wanted, &state_dir))
            .await
            .map_err(|e| CapabilityError::unavailable(format!("device.status failed: {e}")))?;
        Ok(value)
    }
}

/// Builds the `device.status` document with the requested sections that the OS provides.
pub fn status_document(wanted: &[String], state_dir: &Path) -> Value {
    let mut out = Map::new();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    out.insert("collectedAt".into(), json!(now_ms));
    let want = |s: &str| wanted.iter().any(|w| w == s);
    let uptime = System::uptime().ok();
    if let Some(u) = uptime {
        out.insert("uptimeSeconds".into(), json!(u));
    }
    let mut sys = System::new().ok();
    if want("os") {
        out.insert(
            "os".into(),
            json!({
                "name": System::name().ok(),
                "version": System::os_version().ok(),
                "longVersion": System::long_os_version().ok(),
                "kernelVersion": System::kernel_version().ok(),
                "arch": System::cpu_arch(),
                "hostName": System::host_name().ok(),
                "uptimeSeconds": uptime,
            }),
        );
    }
    if want("cpu")
        && let Some(sys) = sys.as_mut()
    {
        out.insert(
            "cpu".into(),
            json!({"count": cpu_count(sys), "loadAverage": load_average()}),
        );
    }
    if want("memory")
        && let Some(sys) = sys.as_mut()
    {
        sys.refresh_memory();
        out.insert(
            "memory".into(),
            json!({
                "totalBytes": sys.total_memory(),
                "availableBytes": sys.available_memory(),
                "freeBytes": sys.free_memory(),
                "usedBytes": sys.total_memory().saturating_sub(sys.available_memory()),
            }),
        );
    }
    if want("disk")
        && let Some((total, available)) = disk_for(state_dir)
    {
        out.insert(
            "disk".into(),
            json!({
                "path": state_dir.display().to_string(),
                "totalBytes": total,
                "freeBytes": available,
                "usedBytes": total.saturating_sub(available),
            }),
        );
    }
    if want("battery")
        && let Some(b) = battery()
    {
        out.insert("battery".into(), b);
    }
    if want("thermal")
        && let Some(t) = thermal()
    {
        out.insert("thermal".into(), t);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meminfo_kb(key: &str) -> u64 {
        let text = std::fs::read_to_string("/proc/meminfo").unwrap();
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap()
    }

    #[test]
    fn host_stats_are_sane_and_match_proc() {
        let dir = tempfile::tempdir().unwrap();
        let s = sample_host_stats(dir.path()).unwrap();
        assert!(s.cpu_count >= 1);
        assert!(s.memory_free_bytes <= s.memory_total_bytes);
        assert_eq!(s.memory_total_bytes, meminfo_kb("MemTotal:") * 1024);
        let nproc = std::fs::read_to_string("/proc/cpuinfo")
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count() as u64;
        assert_eq!(s.cpu_count, nproc);
        let (total, avail) = (s.disk_total_bytes.unwrap(), s.disk_available_bytes.unwrap());
        assert!(avail <= total && total > 0);
        let json = serde_json::to_value(&s).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for k in &keys {
            assert!(
                [
                    "cpuCount",
                    "loadAverage",
                    "memoryTotalBytes",
                    "memoryFreeBytes",
                    "diskTotalBytes",
                    "diskAvailableBytes"
                ]
                .contains(k),
                "{k}"
            );
        }
        let load = std::fs::read_to_string("/proc/loadavg").unwrap();
        assert!(s.load_average.is_some(), "/proc/loadavg says {load}");
    }

    #[tokio::test]
    async fn device_info_matches_uname_and_hostname() {
        let cap = DeviceCapability::new(DeviceConfig {
            enabled: true,
            state_dir: std::env::temp_dir(),
            app_version: "9.9.9".into(),
        });
        assert_eq!(cap.availability(), Availability::Available);
        let info = DeviceInfo(cap.config.clone())
            .run(NoParams {}, CallContext::detached("t"))
            .await
            .unwrap();
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(info.device_name, host.trim());
        assert_eq!(info.app_version, "9.9.9");
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let status = status_document(&["os".into()], &std::env::temp_dir());
        assert_eq!(status["os"]["kernelVersion"], release.trim());
    }

    #[tokio::test]
    async fn device_status_sections_and_bad_section() {
        let config = Arc::new(DeviceConfig {
            enabled: true,
            state_dir: std::env::temp_dir(),
            app_version: "0".into(),
        });
        let only = DeviceStatus(config.clone())
            .run(
                StatusParams {
                    sections: Some(vec!["memory".into()]),
                },
                CallContext::detached("t"),
            )
            .await
            .unwrap();
        assert!(only.get("memory").is_some() && only.get("cpu").is_none());
        assert_eq!(only["memory"]["totalBytes"], meminfo_kb("MemTotal:") * 1024);
        let err = DeviceStatus(config)
            .run(
                StatusParams {
                    sections: Some(vec!["gpu".into()]),
                },
                CallContext::detached("t"),
            )
            .await
            .unwrap_err();
        assert!(err.message.contains("unknown section"), "{err}");
    }

    #[test]
    fn disabled_by_default_config_is_unavailable() {
        let cap = DeviceCapability::new(DeviceConfig {
            enabled: false,
            state_dir: std::env::temp_dir(),
            app_version: "0".into(),
        });
        assert!(
            matches!(cap.availability(), Availability::Unavailable(r) if r.contains("disabled"))
        );
    }
}

#[cfg(test)]
mod background_tests {
    use super::*;
    use openclaw_capability_api::{EventSink, NodeEvent};
    use std::time::Duration;
    use tokio::sync::mpsc;

    async fn next(rx: &mut mpsc::UnboundedReceiver<NodeEvent>) -> Option<NodeEvent> {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an event in time")
    }

    #[tokio::test]
    async fn host_stats_are_published_at_once_on_approval_and_stop_with_the_connection() {
        let dir = tempfile::tempdir().unwrap();
        let config = DeviceConfig {
            enabled: false,
            state_dir: dir.path().to_path_buf(),
            app_version: "t".into(),
        };
        assert!(
            DeviceCapability::new(config.clone())
                .background(BackgroundContext::detached())
                .is_none(),
            "no host stats unless asked for"
        );
        let cap = DeviceCapability::new(config).with_host_stats(Duration::from_secs(3600));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let ctx = BackgroundContext {
            events: EventSink::new(tx),
            ..BackgroundContext::detached()
        };
        let task = tokio::spawn(cap.background(ctx.clone()).expect("a publisher"));
        let first = next(&mut rx).await.unwrap();
        assert_eq!(first.event, HOST_STATS_EVENT);
        assert!(first.payload["cpuCount"].as_u64().unwrap() >= 1);
        // The interval is an hour: a second sample now comes from the approval alone.
        ctx.surface_approved.notify_one();
        assert_eq!(next(&mut rx).await.unwrap().event, HOST_STATS_EVENT);
        ctx.stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the publisher stops with the connection")
            .unwrap();
    }
}
