//! The process table from `/proc` (Linux): `/proc/<pid>/stat` for parent, group, state and
//! start time (in clock ticks since boot), `/proc/<pid>/cmdline` for the arguments,
//! `/proc/<pid>/environ` for the initial environment.

use super::info::Info;

pub(super) fn all() -> Vec<Info> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(info)
        .collect()
}

pub(super) fn info(pid: i32) -> Option<Info> {
    if pid <= 0 {
        return None;
    }
    parse_stat(
        pid,
        &std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?,
    )
}

/// `pid (comm) state ppid pgrp session tty tpgid flags … starttime(22) …`; `comm` may hold
/// spaces and parentheses, so the fields start after the last `)`.
fn parse_stat(pid: i32, stat: &str) -> Option<Info> {
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Info {
        pid,
        zombie: *fields.first()? == "Z",
        ppid: fields.get(1)?.parse().ok()?,
        pgid: fields.get(2)?.parse().ok()?,
        started: fields.get(19)?.parse().ok()?,
    })
}

pub(super) fn cmdline(pid: i32) -> Option<Vec<u8>> {
    std::fs::read(format!("/proc/{pid}/cmdline")).ok()
}

pub(super) fn environ(pid: i32) -> Option<Vec<u8>> {
    std::fs::read(format!("/proc/{pid}/environ")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_name_with_spaces_and_parens_does_not_shift_the_fields() {
        let stat = "42 (a) b (c) Z 7 42 42 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 9876 0 0";
        let i = parse_stat(42, stat).unwrap();
        assert_eq!(
            i,
            Info {
                pid: 42,
                ppid: 7,
                pgid: 42,
                zombie: true,
                started: 9876
            }
        );
        assert!(parse_stat(1, "1 (x").is_none());
        assert!(parse_stat(1, "1 (x) S").is_none());
    }
}
