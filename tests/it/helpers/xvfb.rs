//! A private X server per test: `Xvfb -displayfd` picks a free display number and prints
//! it when ready, so tests that draw on or capture a screen never share one (a headed
//! browser or another test on the same display made captures flaky under load). Stopped
//! on drop.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long Xvfb may take to come up on a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running Xvfb, killed on drop.
pub(crate) struct Xvfb {
    child: Child,
    /// Its `DISPLAY` name, e.g. `:3`.
    pub display: String,
}

impl Xvfb {
    /// Starts one 1280×720×24 screen; panics with the provisioning command if Xvfb is missing.
    pub(crate) fn start() -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x720x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("this test needs Xvfb ({e}): run scripts/test, which installs xvfb")
            });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) if !line.trim().is_empty() => line,
            _ => {
                let _ = child.kill();
                let status = child.wait();
                panic!("Xvfb did not report a display within {START_TIMEOUT:?} ({status:?})");
            }
        };
        let number: u32 = line.trim().parse().expect("Xvfb printed a display number");
        let xvfb = Xvfb {
            child,
            display: format!(":{number}"),
        };
        let socket = format!("/tmp/.X11-unix/X{number}");
        let deadline = Instant::now() + START_TIMEOUT;
        while !std::path::Path::new(&socket).exists() {
            assert!(
                Instant::now() < deadline,
                "Xvfb's socket {socket} never appeared"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        xvfb
    }

    /// An environment naming only this display (what a capability is built with).
    pub(crate) fn env(&self) -> std::collections::HashMap<String, String> {
        [("DISPLAY".to_string(), self.display.clone())].into()
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
