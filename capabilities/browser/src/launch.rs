//! Finding, starting and stopping one Chromium per profile.
//!
//! The node spawns the browser itself (not through chromiumoxide's launcher) so that it
//! owns the whole process tree: Chromium starts in its own process group, with
//! `--remote-debugging-port=0` (the kernel picks a free port, printed on stderr), and on
//! Linux with a parent-death signal so a crashed node does not leave it running. Stopping
//! signals the group, waits a grace period, kills what is left, then sweeps `/proc` for any
//! process still naming the profile's user-data-dir. The same sweep runs before each
//! launch, which cleans up after a node that was killed with `SIGKILL`. Signals go through
//! `nix`; what is alive comes from `openclaw_capability_api::process`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use openclaw_capability_api::process;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long Chromium may take to print its DevTools address.
pub const LAUNCH_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a stopping browser gets between `SIGTERM` and `SIGKILL`.
pub const STOP_GRACE: Duration = Duration::from_millis(1500);

/// Executable names tried on `PATH`, in order.
const PATH_CANDIDATES: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "brave-browser",
    "microsoft-edge",
];

/// macOS application bundles, in order.
const MAC_CANDIDATES: &[&str] = &[
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Brave Browser.app/Contents/MacOS/Brave Browser",
    "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
    "/Applications/Google Chrome Canary.app/Contents/MacOS/Google Chrome Canary",
];

/// Environment variables removed from Chromium's environment: a proxy would route the
/// browser around the node's navigation policy.
const PROXY_ENV: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

/// A browser binary that was found, and how it is called in status bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// Absolute path.
    pub path: PathBuf,
    /// Short kind: `chromium`, `chrome`, `brave`, `edge`, `custom`.
    pub kind: &'static str,
}

fn kind_of(path: &Path) -> &'static str {
    let name = path.to_string_lossy().to_lowercase();
    if name.contains("brave") {
        "brave"
    } else if name.contains("edge") {
        "edge"
    } else if name.contains("chromium") {
        "chromium"
    } else if name.contains("chrome") {
        "chrome"
    } else {
        "custom"
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds the browser: the configured path (which must exist), else the usual names on
/// `path_var`, else the macOS bundles.
pub fn detect(configured: Option<&Path>, path_var: Option<&str>) -> Result<Detected, String> {
    if let Some(p) = configured {
        return if is_executable(p) {
            Ok(Detected {
                path: p.to_path_buf(),
                kind: kind_of(p),
            })
        } else {
            Err(format!(
                "the configured browser {} is not an executable file",
                p.display()
            ))
        };
    }
    for dir in path_var.unwrap_or("").split(':').filter(|d| !d.is_empty()) {
        for name in PATH_CANDIDATES {
            let p = Path::new(dir).join(name);
            if is_executable(&p) {
                return Ok(Detected {
                    kind: kind_of(&p),
                    path: p,
                });
            }
        }
    }
    for p in MAC_CANDIDATES {
        let p = Path::new(p);
        if is_executable(p) {
            return Ok(Detected {
                path: p.to_path_buf(),
                kind: kind_of(p),
            });
        }
    }
    Err(format!(
        "no Chromium-based browser found (tried {} on PATH and the macOS app bundles); install chromium or set [browser] executable_path",
        PATH_CANDIDATES.join(", ")
    ))
}

/// How to start one profile's browser.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The binary.
    pub executable: PathBuf,
    /// The profile's user-data-dir (created if missing).
    pub user_data_dir: PathBuf,
    /// Headless (`--headless=new`).
    pub headless: bool,
    /// `--no-sandbox` (needed when running as root).
    pub no_sandbox: bool,
    /// Extra flags from the config, appended last.
    pub extra_args: Vec<String>,
}

impl LaunchSpec {
    /// The command line after the executable.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--remote-debugging-port=0".to_string(),
            "--remote-debugging-address=127.0.0.1".to_string(),
            format!("--user-data-dir={}", self.user_data_dir.display()),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-sync".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-features=Translate,MediaRouter".into(),
            "--disable-session-crashed-bubble".into(),
            "--hide-crash-restore-bubble".into(),
            "--password-store=basic".into(),
            "--window-size=1280,720".into(),
        ];
        if cfg!(target_os = "linux") {
            args.push("--disable-dev-shm-usage".into());
        }
        if self.headless {
            args.push("--headless=new".into());
            args.push("--disable-gpu".into());
        }
        if self.no_sandbox {
            args.push("--no-sandbox".into());
        }
        if !self
            .extra_args
            .iter()
            .any(|a| a.starts_with("--proxy-server") || a.starts_with("--proxy-pac-url"))
        {
            args.push("--no-proxy-server".into());
        }
        args.extend(self.extra_args.iter().cloned());
        args.push("about:blank".into());
        args
    }
}

/// A running browser process.
#[derive(Debug)]
pub struct Launched {
    /// The child (its own process group leader).
    pub child: Child,
    /// Its pid (also the process group id).
    pub pid: u32,
    /// The browser-level DevTools WebSocket URL.
    pub ws_url: String,
    /// The DevTools port.
    pub port: u16,
    /// The profile's user-data-dir (for the sweep on stop).
    pub user_data_dir: PathBuf,
}

/// Starts the browser and waits for its DevTools address.
pub async fn launch(spec: &LaunchSpec) -> Result<Launched, String> {
    std::fs::create_dir_all(&spec.user_data_dir).map_err(|e| {
        format!(
            "cannot create the browser profile directory {}: {e}",
            spec.user_data_dir.display()
        )
    })?;
    sweep(&spec.user_data_dir, Signal::SIGKILL);
    // A lock left by a killed browser would make the new one hand off to a dead instance.
    for lock in ["SingletonLock", "SingletonSocket", "SingletonCookie"] {
        let _ = std::fs::remove_file(spec.user_data_dir.join(lock));
    }
    let mut cmd = Command::new(&spec.executable);
    cmd.args(spec.args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for var in PROXY_ENV
        .iter()
        .chain(openclaw_capability_api::NODE_SECRET_ENV)
    {
        cmd.env_remove(var);
    }
    #[cfg(target_os = "linux")]
    // `pre_exec` is the one unsafe call left: std cannot know what a closure run between
    // fork and exec does. SAFETY: this one only calls prctl(2), which is
    // async-signal-safe, and touches no memory of the parent.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        format!(
            "cannot start the browser {}: {e}",
            spec.executable.display()
        )
    })?;
    let pid = child.id().unwrap_or(0);
    let stderr = child.stderr.take().ok_or("browser stderr not captured")?;
    let mut lines = BufReader::new(stderr).lines();
    let mut tail: Vec<String> = Vec::new();
    let found = tokio::time::timeout(LAUNCH_TIMEOUT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = devtools_url(&line) {
                return Some(url);
            }
            tail.push(line);
            if tail.len() > 8 {
                tail.remove(0);
            }
        }
        None
    })
    .await;
    let ws_url = match found {
        Ok(Some(url)) => url,
        Ok(None) => {
            kill_tree(pid, &spec.user_data_dir).await;
            let _ = child.wait().await;
            return Err(format!(
                "the browser exited before it was ready: {}",
                tail.join(" | ")
            ));
        }
        Err(_) => {
            kill_tree(pid, &spec.user_data_dir).await;
            let _ = child.wait().await;
            return Err(format!(
                "the browser did not open its DevTools port within {} s: {}",
                LAUNCH_TIMEOUT.as_secs(),
                tail.join(" | ")
            ));
        }
    };
    // Keep draining stderr: a full pipe would block the browser.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::trace!(target: "browser", "{line}");
        }
    });
    let port = port_of(&ws_url).unwrap_or(0);
    Ok(Launched {
        child,
        pid,
        ws_url,
        port,
        user_data_dir: spec.user_data_dir.clone(),
    })
}

/// `DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID` → the URL.
pub fn devtools_url(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix("DevTools listening on ")?;
    rest.starts_with("ws://").then(|| rest.trim().to_string())
}

fn port_of(ws_url: &str) -> Option<u16> {
    let host_port = ws_url.strip_prefix("ws://")?.split('/').next()?;
    host_port.rsplit(':').next()?.parse().ok()
}

/// Stops a browser: `SIGTERM` to its group, a grace period, `SIGKILL`, then the sweep.
pub async fn kill_tree(pid: u32, user_data_dir: &Path) {
    if pid > 0 {
        signal_group(pid, Signal::SIGTERM);
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        while tokio::time::Instant::now() < deadline && group_alive(pid) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        signal_group(pid, Signal::SIGKILL);
    }
    sweep(user_data_dir, Signal::SIGKILL);
}

/// The synchronous last resort used on drop: `SIGKILL` to the group and the sweep.
pub fn kill_tree_now(pid: u32, user_data_dir: &Path) {
    if pid > 0 {
        signal_group(pid, Signal::SIGKILL);
    }
    sweep(user_data_dir, Signal::SIGKILL);
}

fn signal_group(pgid: u32, sig: Signal) {
    let _ = killpg(Pid::from_raw(pgid as i32), sig);
}

fn group_alive(pgid: u32) -> bool {
    killpg(Pid::from_raw(pgid as i32), None).is_ok()
}

/// Pids of live processes other than the node whose command line names `user_data_dir`.
pub fn processes_using(user_data_dir: &Path) -> Vec<i32> {
    process::pids_with_arg(&format!("--user-data-dir={}", user_data_dir.display()))
}

fn sweep(user_data_dir: &Path, sig: Signal) {
    for pid in processes_using(user_data_dir) {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devtools_line_is_parsed() {
        let line = "DevTools listening on ws://127.0.0.1:40123/devtools/browser/abc-def\n";
        let url = devtools_url(line).unwrap();
        assert_eq!(url, "ws://127.0.0.1:40123/devtools/browser/abc-def");
        assert_eq!(port_of(&url), Some(40123));
        assert_eq!(devtools_url("[1:2:ERROR] something else"), None);
    }

    #[test]
    fn flags_follow_the_profile() {
        let spec = LaunchSpec {
            executable: "/usr/bin/chromium".into(),
            user_data_dir: "/tmp/p/user-data".into(),
            headless: true,
            no_sandbox: true,
            extra_args: vec!["--lang=de".into()],
        };
        let args = spec.args();
        assert!(args.contains(&"--headless=new".to_string()));
        assert!(args.contains(&"--no-sandbox".to_string()));
        assert!(args.contains(&"--no-proxy-server".to_string()));
        assert!(args.contains(&"--user-data-dir=/tmp/p/user-data".to_string()));
        assert_eq!(args.last().unwrap(), "about:blank");
        let with_proxy = LaunchSpec {
            headless: false,
            no_sandbox: false,
            extra_args: vec!["--proxy-server=http://p:1".into()],
            ..spec
        };
        let args = with_proxy.args();
        assert!(
            !args
                .iter()
                .any(|a| a == "--no-proxy-server" || a == "--headless=new")
        );
    }

    #[test]
    fn detection_prefers_the_configured_path_and_explains_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("chromium");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let found = detect(None, Some(dir.path().to_str().unwrap())).unwrap();
        assert_eq!(found.path, fake);
        assert_eq!(found.kind, "chromium");
        let err = detect(Some(&dir.path().join("nope")), None).unwrap_err();
        assert!(err.contains("not an executable file"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        if !MAC_CANDIDATES.iter().any(|p| Path::new(p).exists()) {
            let err = detect(None, Some(empty.path().to_str().unwrap())).unwrap_err();
            assert!(err.contains("no Chromium-based browser found"), "{err}");
        }
    }
}
