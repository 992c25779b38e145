//! The process table from `ps(1)`, for Unixes without `/proc` (macOS). `lstart` (the start
//! time, to the second) is folded into a number that only identity checks compare;
//! `args` joins the arguments with spaces.

use std::process::{Command, Stdio};

use super::info::Info;

const COLUMNS: &str = "pid=,ppid=,pgid=,stat=,lstart=";

pub(super) fn all() -> Vec<Info> {
    ps(&["-A", "-o", COLUMNS])
        .map(|out| parse_table(&out))
        .unwrap_or_default()
}

pub(super) fn info(pid: i32) -> Option<Info> {
    if pid <= 0 {
        return None;
    }
    let out = ps(&["-o", COLUMNS, "-p", &pid.to_string()])?;
    parse_table(&out).into_iter().find(|i| i.pid == pid)
}

pub(super) fn cmdline(pid: i32) -> Option<Vec<u8>> {
    if pid <= 0 {
        return None;
    }
    let out = ps(&["-ww", "-o", "args=", "-p", &pid.to_string()])?;
    let line = out.lines().next()?.trim_end();
    (!line.is_empty()).then(|| line.as_bytes().to_vec())
}

/// `ps` shows another process's environment only mixed into its command line (`-E`),
/// which cannot be split back reliably: no environment here.
pub(super) fn environ(_pid: i32) -> Option<Vec<u8>> {
    None
}

/// Runs `ps` with a fixed locale (so `lstart` has one format); `None` when it cannot run
/// or exits non-zero (as it does for a pid that does not exist).
fn ps(args: &[&str]) -> Option<String> {
    let out = Command::new("ps")
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `pid ppid pgid stat lstart…` per line; lines that do not parse are skipped.
fn parse_table(text: &str) -> Vec<Info> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Info> {
    let mut words = line.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    let ppid = words.next()?.parse().ok()?;
    let pgid = words.next()?.parse().ok()?;
    let stat = words.next()?;
    let lstart: Vec<&str> = words.collect();
    if lstart.is_empty() {
        return None;
    }
    Some(Info {
        pid,
        ppid,
        pgid,
        zombie: stat.starts_with('Z'),
        started: fold(&lstart.join(" ")),
    })
}

/// FNV-1a: a stable number for a start-time text.
fn fold(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_the_start_time_tells_processes_apart() {
        let text = "    1     0     1 Ss   Tue Dec  1 20:01:32 2026\n\
                    4242     1  4242 Z+   Tue Dec  1 20:05:59 2026\n\
                    garbage\n";
        let t = parse_table(text);
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[0].pid, t[0].ppid, t[0].pgid, t[0].zombie),
            (1, 0, 1, false)
        );
        assert_eq!(
            (t[1].pid, t[1].ppid, t[1].pgid, t[1].zombie),
            (4242, 1, 4242, true)
        );
        assert_ne!(t[0].started, t[1].started);
        assert_eq!(
            parse_line("7 1 7 S Tue Dec  1 20:01:32 2026")
                .unwrap()
                .started,
            t[0].started,
            "the same start text folds to the same number"
        );
        assert!(parse_line("7 1 7 S").is_none());
    }
}
