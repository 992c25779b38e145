//! Options of well-known tools that run other programs (issue 17): with only `git` allowed,
//! `git -c alias.x=!id x` runs `id`. One table, tool → the options (or program text) that
//! make it run, write files or read commands from elsewhere. The policy refuses a segment
//! that uses one unless the allowlist entry that matched it has an `argPattern` (an
//! explicit permission); an entry without one only trusts the tool to do its own job.
//! The reference has the same hole and no such table: this is a deliberate difference.
//!
//! Long options are matched by prefix as the tools accept them (`--to-com` is
//! `--to-command` to GNU tar), and getopt clusters are read letter by letter (`-vo
//! ProxyCommand=…`). Not covered, and said so in docs/exec-approvals.md: what a tool reads
//! from configuration files someone else controls (a repository's `.git/config`), and
//! interactive shell escapes in PTY mode (`vim`, `less`, `man`).

use super::analysis::{SHELLS, exe_name};

/// A use of an exec-capable option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Escape {
    /// The tool as the table names it (`git`).
    pub tool: &'static str,
    /// The option or program construct, as the refusal names it (`-c`, `system(`).
    pub option: String,
    /// What it can do.
    pub why: &'static str,
}

/// One row of the table.
pub(crate) struct Rule {
    /// Executable names (compared with the lower-cased base name).
    pub tools: &'static [&'static str],
    /// What it can do.
    pub why: &'static str,
    /// The first exec-capable option in the arguments (argv without argv[0]).
    pub find: fn(&[String]) -> Option<String>,
}

/// The table (documented in docs/exec-approvals.md; keep both in step).
pub(crate) const RULES: &[Rule] = &[
    // A shell as a command of its own (`./sh -c …` matched by a path entry such as
    // `/usr/bin/*`): a trusted transport is analysed instead and never reaches this table.
    Rule {
        tools: SHELLS,
        why: "is a shell: it runs whatever it is given",
        find: any_use,
    },
    Rule {
        tools: &["busybox", "toybox"],
        why: "runs any of its applets, a shell among them",
        find: any_use,
    },
    Rule {
        tools: &["git"],
        why: "runs commands named in configuration (`!` aliases, hooks, core.sshCommand) or on the command line",
        find: git,
    },
    Rule {
        tools: &["find", "gfind"],
        why: "runs a command per file or writes files",
        find,
    },
    Rule {
        tools: &[
            "xargs", "gxargs", "watch", "parallel", "strace", "ltrace", "time", "command", "exec",
            "builtin",
        ],
        why: "runs its arguments as a command",
        find: any_use,
    },
    Rule {
        tools: &["tar", "gtar", "bsdtar"],
        why: "runs a filter, checkpoint, volume script or remote shell",
        find: tar,
    },
    Rule {
        tools: &["rsync"],
        why: "runs a remote shell or remote rsync command of the caller's choice",
        find: rsync,
    },
    Rule {
        tools: &["ssh"],
        why: "runs local commands from options or a config file",
        find: ssh,
    },
    Rule {
        tools: &["scp"],
        why: "runs a program in place of ssh, or local commands from options or a config file",
        find: scp,
    },
    Rule {
        tools: &["sftp"],
        why: "runs a program in place of ssh or the server, local `!` commands from a batch file, or commands from options",
        find: sftp,
    },
    Rule {
        tools: &["awk", "gawk", "mawk", "nawk", "busybox-awk"],
        why: "its program can run commands (`system(`, pipes) or write files",
        find: awk,
    },
    Rule {
        tools: &["sed", "gsed"],
        why: "its program can run commands (`e`, `s///e`) or write files (`w`, `W`)",
        find: sed,
    },
];

/// The first exec-capable option this argv uses, if its tool is in the table.
pub(crate) fn find_escape(argv: &[String]) -> Option<Escape> {
    let name = exe_name(argv.first()?);
    let rule = RULES.iter().find(|r| r.tools.contains(&name.as_str()))?;
    let option = (rule.find)(&argv[1..])?;
    Some(Escape {
        tool: rule.tools.iter().find(|t| **t == name).copied()?,
        option,
        why: rule.why,
    })
}

/// Harmless long options whose full name abbreviates a dangerous one.
const SHADOWING: &[&str] = &["checkpoint"];

/// `--name[=value]` that the tool would read as one of `long` (exact or an abbreviation):
/// the option as the refusal names it.
fn long(arg: &str, long: &[&'static str]) -> Option<String> {
    let name = arg.strip_prefix("--")?.split('=').next()?;
    // An exact match of a harmless option wins over an abbreviation of a dangerous one.
    if name.is_empty() || SHADOWING.contains(&name) {
        return None;
    }
    long.iter()
        .find(|l| l.strip_prefix("--").is_some_and(|l| l.starts_with(name)))
        .map(|l| l.to_string())
}

/// Where short options end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Operands {
    /// GNU getopt permutes: options may follow operands (tar, rsync).
    Permuted,
    /// BSD getopt (OpenSSH): the first operand ends the options; what follows is the
    /// remote command or the file list.
    End,
}

/// Reads getopt-style short options: `letters_with_value` take the rest of the cluster or
/// the next argument. Calls `hit(letter, value)` for each; stops at `--`. Long options are
/// skipped; operands too, or they end the options.
fn short_options(
    args: &[String],
    letters_with_value: &str,
    operands: Operands,
    mut hit: impl FnMut(char, Option<&str>) -> Option<String>,
) -> Option<String> {
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            return None;
        }
        if !a.starts_with('-') || a.starts_with("--") || a.len() < 2 {
            if operands == Operands::End && !a.starts_with('-') {
                return None;
            }
            continue;
        }
        for (at, letter) in a.char_indices().skip(1) {
            if letters_with_value.contains(letter) {
                let rest = &a[at + letter.len_utf8()..];
                let value = if rest.is_empty() {
                    i += 1;
                    args.get(i - 1).map(String::as_str)
                } else {
                    Some(rest)
                };
                if let Some(found) = hit(letter, value) {
                    return Some(found);
                }
                break;
            }
            if let Some(found) = hit(letter, None) {
                return Some(found);
            }
        }
    }
    None
}

fn any_use(_: &[String]) -> Option<String> {
    Some(String::new())
}

/// git: `-c`/`--config-env` (any config, so any alias or hook), `--exec-path=`, the
/// transport commands of fetch/push/clone/ls-remote/archive, and subcommands that run a
/// command they are given (`rebase -x`, `bisect run`, …) or write configuration that
/// names one (`config` other than its read forms).
fn git(args: &[String]) -> Option<String> {
    // Global options come before the subcommand.
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if !a.starts_with('-') {
            break;
        }
        if a == "-c" || (a.starts_with("-c") && !a.starts_with("--")) {
            return Some("-c".into());
        }
        if a.starts_with("--config-env") {
            return Some("--config-env".into());
        }
        if a.starts_with("--exec-path=") {
            return Some("--exec-path".into());
        }
        // Global options that take a separate value.
        if matches!(
            a.as_str(),
            "-C" | "--git-dir" | "--work-tree" | "--namespace"
        ) {
            i += 1;
        }
        i += 1;
    }
    let sub = args.get(i).map(String::as_str).unwrap_or("");
    let rest = args.get(i + 1..).unwrap_or_default();
    let transport = ["--upload-pack", "--receive-pack", "--exec"];
    for a in rest {
        if a == "--" {
            break;
        }
        if let Some(o) = long(a, &transport) {
            return Some(o);
        }
    }
    let has = |short: &[&str], longs: &[&'static str]| -> Option<String> {
        rest.iter().find_map(|a| {
            short
                .iter()
                .find(|s| a == *s || (a.starts_with(*s) && !a.starts_with("--")))
                .map(|s| s.to_string())
                .or_else(|| long(a, longs))
        })
    };
    match sub {
        "clone" | "ls-remote" | "fetch-pack" | "send-pack" => has(&["-u"], &[]),
        "rebase" => has(&["-x"], &["--exec"]),
        "difftool" | "mergetool" => has(&["-x", "-t"], &["--extcmd", "--tool"]),
        "grep" => has(&["-O"], &["--open-files-in-pager"]),
        "bisect" if rest.first().is_some_and(|r| r == "run") => Some("bisect run".into()),
        "submodule" if rest.iter().any(|r| r == "foreach") => Some("submodule foreach".into()),
        "filter-branch" | "filter-repo" | "instaweb" | "daemon" | "send-email" | "p4" | "svn" => {
            Some(sub.to_string())
        }
        "config" => {
            let read = rest.iter().any(|a| {
                matches!(
                    a.as_str(),
                    "get" | "list" | "-l" | "--list" | "--get" | "--get-all" | "--get-regexp"
                )
            });
            (!read).then(|| "config".to_string())
        }
        _ => None,
    }
}

/// find: `-exec`, `-execdir`, `-ok`, `-okdir` run commands; `-fprint*`/`-fls` write
/// files. (`-delete` destroys but runs nothing, and is find's own job.)
fn find(args: &[String]) -> Option<String> {
    const ACTIONS: &[&str] = &[
        "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf", "-fls",
    ];
    args.iter()
        .find(|a| ACTIONS.contains(&a.as_str()))
        .map(|a| a.to_string())
}

/// tar: a filter or compressor program, checkpoint actions, volume scripts, a remote shell.
fn tar(args: &[String]) -> Option<String> {
    const LONG: &[&str] = &[
        "--to-command",
        "--use-compress-program",
        "--checkpoint-action",
        "--info-script",
        "--new-volume-script",
        "--rsh-command",
        "--rmt-command",
    ];
    if let Some(o) = args
        .iter()
        .take_while(|a| *a != "--")
        .find_map(|a| long(a, LONG))
    {
        return Some(o);
    }
    // Old-style first word (`tar xIf prog a.tar`): letters only, values come after.
    if let Some(first) = args.first()
        && !first.starts_with('-')
        && let Some(l) = first.chars().find(|c| matches!(c, 'I' | 'F'))
    {
        return Some(format!("-{l}"));
    }
    short_options(args, "bCfFgHIKLNTVX", Operands::Permuted, |l, _| {
        matches!(l, 'I' | 'F').then(|| format!("-{l}"))
    })
}

/// rsync: the remote shell and the remote rsync command.
fn rsync(args: &[String]) -> Option<String> {
    if let Some(o) = args
        .iter()
        .take_while(|a| *a != "--")
        .find_map(|a| long(a, &["--rsh", "--rsync-path"]))
    {
        return Some(o);
    }
    short_options(args, "eBfMT@", Operands::Permuted, |l, _| {
        (l == 'e').then(|| "-e".to_string())
    })
}

/// `-o Key=value` / `-oKey value` options that run local commands.
fn ssh_option(value: Option<&str>) -> Option<String> {
    const KEYS: &[&str] = &[
        "proxycommand",
        "localcommand",
        "permitlocalcommand",
        "knownhostscommand",
        "include",
        "match",
    ];
    let name = value?.trim_start().split(['=', ' ', '\t']).next()?;
    KEYS.contains(&name.to_ascii_lowercase().as_str())
        .then(|| format!("-o {name}"))
}

fn ssh(args: &[String]) -> Option<String> {
    short_options(
        args,
        "BbcDEeFIiJLlmOoPpQRSWw",
        Operands::End,
        |l, v| match l {
            'o' => ssh_option(v),
            'F' => Some("-F".into()),
            _ => None,
        },
    )
}

fn scp(args: &[String]) -> Option<String> {
    short_options(args, "cDFiJlOoPSX", Operands::End, |l, v| match l {
        'o' => ssh_option(v),
        'F' | 'S' => Some(format!("-{l}")),
        _ => None,
    })
}

fn sftp(args: &[String]) -> Option<String> {
    short_options(args, "aBbcDFiJlNoPRSsX", Operands::End, |l, v| match l {
        'o' => ssh_option(v),
        'F' | 'S' | 'D' | 'b' => Some(format!("-{l}")),
        _ => None,
    })
}

/// awk: a program from a file (the node cannot vouch for it), an extension library, or a
/// program text that calls `system(`, pipes to or from a command, or redirects output.
fn awk(args: &[String]) -> Option<String> {
    let mut program = None;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        i += 1;
        if a == "--" {
            break;
        }
        if !a.starts_with('-') || a == "-" {
            program.get_or_insert(a.as_str());
            break;
        }
        if let Some(o) = long(a, &["--file", "--include", "--load", "--exec", "--source"]) {
            if o != "--source" {
                return Some(o);
            }
            let v = a.split_once('=').map(|(_, v)| v).or_else(|| {
                i += 1;
                args.get(i - 1).map(String::as_str)
            });
            if let Some(found) = v.and_then(awk_program) {
                return Some(found);
            }
            program = Some("");
            continue;
        }
        if a.starts_with("--") {
            continue;
        }
        match a.chars().nth(1) {
            Some(l @ ('f' | 'i' | 'l' | 'E')) => return Some(format!("-{l}")),
            Some('e') => {
                let v = if a.len() > 2 {
                    Some(&a[2..])
                } else {
                    i += 1;
                    args.get(i - 1).map(String::as_str)
                };
                if let Some(found) = v.and_then(awk_program) {
                    return Some(found);
                }
                program = Some("");
            }
            // mawk -W exec FILE: a program from a file.
            Some('W') => {
                let v = if a.len() > 2 {
                    Some(&a[2..])
                } else {
                    i += 1;
                    args.get(i - 1).map(String::as_str)
                };
                if v.is_some_and(|v| v.starts_with('e')) {
                    return Some("-W exec".into());
                }
            }
            // -v var=value, -F sep: a value follows when not attached.
            Some('v' | 'F') if a.len() == 2 => i += 1,
            _ => {}
        }
    }
    if program.is_none() {
        program = args.get(i).map(String::as_str);
    }
    program.and_then(awk_program)
}

/// Scans awk program text outside strings and regex literals.
fn awk_program(text: &str) -> Option<String> {
    let c: Vec<char> = text.chars().collect();
    let mut i = 0;
    // The last significant character, to tell a regex literal from a division.
    let mut prev = ' ';
    let mut word = String::new();
    // Inside a print/printf statement, at this paren depth.
    let mut print_depth: Option<usize> = None;
    let mut depth = 0usize;
    while i < c.len() {
        let ch = c[i];
        if ch.is_alphanumeric() || ch == '_' {
            word.push(ch);
            i += 1;
            prev = ch;
            continue;
        }
        if !word.is_empty() {
            match word.as_str() {
                "system" => return Some("system(".into()),
                "print" | "printf" => print_depth = Some(depth),
                _ => {}
            }
            word.clear();
        }
        match ch {
            '"' => {
                i += 1;
                while i < c.len() && c[i] != '"' {
                    i += if c[i] == '\\' { 2 } else { 1 };
                }
            }
            '/' if !(prev.is_alphanumeric() || matches!(prev, '_' | ')' | ']' | '$')) => {
                i += 1;
                while i < c.len() && c[i] != '/' && c[i] != '\n' {
                    if c[i] == '[' {
                        while i < c.len() && c[i] != ']' {
                            i += 1;
                        }
                    }
                    i += if c.get(i) == Some(&'\\') { 2 } else { 1 };
                }
            }
            '#' => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '|' if c.get(i + 1) == Some(&'|') => i += 1,
            '|' => {
                return Some(
                    if c.get(i + 1) == Some(&'&') {
                        "|&"
                    } else {
                        "|"
                    }
                    .into(),
                );
            }
            '>' if print_depth == Some(depth) => return Some("print >".into()),
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ';' | '\n' | '{' | '}' => print_depth = None,
            '@' => return Some("@".into()),
            _ => {}
        }
        if !ch.is_whitespace() {
            prev = ch;
        }
        i += 1;
    }
    if word == "system" {
        return Some("system(".into());
    }
    None
}

/// sed: a script from a file (the node cannot vouch for it), or a script with the `e`
/// command, the `e` or `w` flag of `s`, or the `w`/`W` commands.
fn sed(args: &[String]) -> Option<String> {
    let mut scripts = Vec::new();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        i += 1;
        if a == "--" {
            break;
        }
        if let Some(o) = long(a, &["--file", "--expression"]) {
            if o == "--file" {
                return Some("-f".into());
            }
            match a.split_once('=') {
                Some((_, v)) => scripts.push(v.to_string()),
                None => {
                    scripts.extend(args.get(i).cloned());
                    i += 1;
                }
            }
            continue;
        }
        if a.starts_with("--") || !a.starts_with('-') || a == "-" {
            continue;
        }
        for (at, l) in a.char_indices().skip(1) {
            match l {
                'f' => return Some("-f".into()),
                'e' => {
                    let rest = &a[at + 1..];
                    if rest.is_empty() {
                        scripts.extend(args.get(i).cloned());
                        i += 1;
                    } else {
                        scripts.push(rest.to_string());
                    }
                    break;
                }
                // -l N, -i[SUFFIX] (the suffix is attached), -s, -E …
                'l' if at + 1 == a.len() => i += 1,
                'i' => break,
                _ => {}
            }
        }
    }
    if scripts.is_empty() {
        // The first operand is the script.
        let mut j = 0;
        while let Some(a) = args.get(j) {
            j += 1;
            if a == "-l" {
                j += 1;
            } else if !a.starts_with('-') || a == "-" {
                scripts.push(a.clone());
                break;
            }
        }
    }
    scripts.iter().find_map(|s| sed_script(s))
}

/// Walks a sed script command by command; fails closed on what it cannot read.
fn sed_script(script: &str) -> Option<String> {
    let c: Vec<char> = script.chars().collect();
    let mut i = 0;
    let unreadable = || Some("a script this node cannot read".to_string());
    // Skips a delimited part (`/re/`), honouring backslashes; returns false if unterminated.
    let delimited = |i: &mut usize, d: char| -> bool {
        while *i < c.len() && c[*i] != d {
            if c[*i] == '\\' {
                *i += 1;
            }
            if c.get(*i) == Some(&'\n') && d != '\n' {
                // GNU sed allows newlines in some places; stay simple and refuse.
                return false;
            }
            *i += 1;
        }
        if *i >= c.len() {
            return false;
        }
        *i += 1;
        true
    };
    let to_eol = |i: &mut usize| {
        while *i < c.len() && c[*i] != '\n' {
            *i += 1;
        }
    };
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() || ch == ';' || ch == '}' {
            i += 1;
            continue;
        }
        // Addresses: numbers, $, /re/, \cREc, first~step, addr1,addr2, +N, ~N, then !.
        loop {
            match c.get(i) {
                Some(d) if d.is_ascii_digit() || matches!(d, '$' | ',' | '~' | '+' | '!' | ' ') => {
                    i += 1
                }
                Some('/') => {
                    i += 1;
                    if !delimited(&mut i, '/') {
                        return unreadable();
                    }
                    while matches!(c.get(i), Some('I' | 'M')) {
                        i += 1;
                    }
                }
                Some('\\') => {
                    let Some(&d) = c.get(i + 1) else {
                        return unreadable();
                    };
                    i += 2;
                    if !delimited(&mut i, d) {
                        return unreadable();
                    }
                }
                _ => break,
            }
        }
        let &cmd = c.get(i)?;
        i += 1;
        match cmd {
            '{' | '=' | 'd' | 'D' | 'g' | 'G' | 'h' | 'H' | 'n' | 'N' | 'p' | 'P' | 'x' | 'z'
            | 'F' | '}' => {}
            'e' => return Some("e".into()),
            'w' | 'W' => return Some(cmd.to_string()),
            // Text, labels, read files, exit codes: to the end of the line (labels and
            // numbers also end at `;`).
            'a' | 'i' | 'c' | 'r' | 'R' => to_eol(&mut i),
            ':' | 'b' | 't' | 'T' | 'q' | 'Q' | 'l' | 'L' | 'v' => {
                while i < c.len() && !matches!(c[i], '\n' | ';' | '}') {
                    i += 1;
                }
            }
            '#' => to_eol(&mut i),
            's' | 'y' => {
                let Some(&d) = c.get(i) else {
                    return unreadable();
                };
                if d == '\n' || d == '\\' {
                    return unreadable();
                }
                i += 1;
                if !delimited(&mut i, d) || !delimited(&mut i, d) {
                    return unreadable();
                }
                if cmd == 's' {
                    while let Some(&f) = c.get(i) {
                        match f {
                            'e' => return Some("s///e".into()),
                            'w' => return Some("s///w".into()),
                            'g' | 'p' | 'i' | 'I' | 'm' | 'M' | '0'..='9' => i += 1,
                            _ => break,
                        }
                    }
                }
            }
            _ => return unreadable(),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    /// Every row: uses that are refused (with the option named) and harmless uses that are
    /// not. The policy tests check that an argPattern entry permits them.
    #[test]
    fn the_table() {
        let refused: &[(&[&str], &str)] = &[
            (&["git", "-c", "alias.x=!id", "x"], "-c"),
            (&["git", "-ccore.pager=id", "log"], "-c"),
            (&["git", "-C", "/repo", "-c", "x=y", "status"], "-c"),
            (
                &["git", "--config-env", "core.pager=E", "log"],
                "--config-env",
            ),
            (&["git", "--exec-path=/tmp/evil", "status"], "--exec-path"),
            (&["git", "fetch", "--upload-pack=id", "o"], "--upload-pack"),
            (&["git", "ls-remote", "--upload-p=id", "o"], "--upload-pack"),
            (&["git", "clone", "-u", "id", "o"], "-u"),
            (&["git", "push", "--receive-pack=id", "o"], "--receive-pack"),
            (&["git", "archive", "--remote=o", "--exec=id"], "--exec"),
            (&["git", "rebase", "-x", "id", "main"], "-x"),
            (&["git", "rebase", "--exec=id", "main"], "--exec"),
            (&["git", "difftool", "--extcmd=id"], "--extcmd"),
            (&["git", "grep", "-Oid", "x"], "-O"),
            (&["git", "bisect", "run", "id"], "bisect run"),
            (&["git", "submodule", "foreach", "id"], "submodule foreach"),
            (
                &["git", "filter-branch", "--tree-filter", "id"],
                "filter-branch",
            ),
            (&["git", "config", "alias.x", "!id"], "config"),
            (
                &["git", "config", "--global", "core.fsmonitor", "id"],
                "config",
            ),
            (&["find", ".", "-exec", "id", ";"], "-exec"),
            (&["find", ".", "-execdir", "id", "+"], "-execdir"),
            (&["find", ".", "-ok", "id", ";"], "-ok"),
            (&["find", ".", "-okdir", "id", ";"], "-okdir"),
            (&["find", ".", "-fprint", "/home/u/.bashrc"], "-fprint"),
            (&["find", ".", "-fprintf", "f", "x"], "-fprintf"),
            (&["find", ".", "-fls", "f"], "-fls"),
            (&["xargs"], ""),
            (&["xargs", "-0", "rm"], ""),
            (&["watch", "id"], ""),
            (&["time", "id"], ""),
            (&["strace", "id"], ""),
            (&["command", "id"], ""),
            (&["./sh", "-c", "id"], ""),
            (&["busybox", "sh"], ""),
            (
                &["tar", "-cf", "a.tar", "--to-command=id", "."],
                "--to-command",
            ),
            (&["tar", "-xf", "a.tar", "--to-com=id"], "--to-command"),
            (
                &["tar", "--use-compress-program", "id", "-xf", "a"],
                "--use-compress-program",
            ),
            (&["tar", "-xIid", "-f", "a"], "-I"),
            (&["tar", "-xvI", "id", "-f", "a"], "-I"),
            (&["tar", "xIf", "id", "a.tar"], "-I"),
            (
                &[
                    "tar",
                    "-cf",
                    "a",
                    "--checkpoint=1",
                    "--checkpoint-action=exec=id",
                    ".",
                ],
                "--checkpoint-action",
            ),
            (
                &["tar", "--info-script=id", "-cf", "a", "."],
                "--info-script",
            ),
            (
                &["tar", "--new-volume-script=id", "-cf", "a", "."],
                "--new-volume-script",
            ),
            (&["tar", "-F", "id", "-cf", "a", "."], "-F"),
            (&["tar", "--rsh-command=id", "-xf", "h:a"], "--rsh-command"),
            (&["rsync", "-e", "id", "a", "h:b"], "-e"),
            (&["rsync", "-avze", "id", "a", "h:b"], "-e"),
            (&["rsync", "--rsh=id", "a", "h:b"], "--rsh"),
            (&["rsync", "--rsync-path=id", "a", "h:b"], "--rsync-path"),
            (&["ssh", "-o", "ProxyCommand=id", "h"], "-o ProxyCommand"),
            (&["ssh", "-oProxyCommand id", "h"], "-o ProxyCommand"),
            (&["ssh", "-vo", "proxycommand=id", "h"], "-o proxycommand"),
            (
                &[
                    "ssh",
                    "-o",
                    "LocalCommand=id",
                    "-o",
                    "PermitLocalCommand=yes",
                    "h",
                ],
                "-o LocalCommand",
            ),
            (
                &["ssh", "-o", "PermitLocalCommand=yes", "h"],
                "-o PermitLocalCommand",
            ),
            (
                &["ssh", "-o", "KnownHostsCommand=id", "h"],
                "-o KnownHostsCommand",
            ),
            (&["ssh", "-F", "/tmp/evil_config", "h"], "-F"),
            (&["scp", "-S", "id", "a", "h:b"], "-S"),
            (
                &["scp", "-o", "ProxyCommand=id", "a", "h:b"],
                "-o ProxyCommand",
            ),
            (&["sftp", "-b", "batch", "h"], "-b"),
            (&["sftp", "-D", "id"], "-D"),
            (&["awk", "BEGIN{system(\"id\")}"], "system("),
            (&["awk", "BEGIN { system (\"id\") }"], "system("),
            (&["awk", "{ print | \"sh\" }"], "|"),
            (&["awk", "BEGIN { \"id\" | getline x }"], "|"),
            (&["gawk", "BEGIN { print |& \"id\" }"], "|&"),
            (&["awk", "{ print > \"/home/u/.bashrc\" }"], "print >"),
            (&["awk", "{ printf \"%s\", $0 >> \"f\" }"], "print >"),
            (&["awk", "-f", "prog.awk"], "-f"),
            (&["gawk", "-l", "evil"], "-l"),
            (&["mawk", "-W", "exec", "prog.awk"], "-W exec"),
            (&["gawk", "@load \"x\"; BEGIN {}"], "@"),
            (&["gawk", "-e", "BEGIN{system(\"id\")}"], "system("),
            (&["mawk", "-F:", "BEGIN{system(\"id\")}"], "system("),
            (&["awk", "-v", "x=1", "BEGIN{system(\"id\")}"], "system("),
            (&["sed", "1e id", "f"], "e"),
            (&["sed", "-n", "s/x/id/e", "f"], "s///e"),
            (&["sed", "s/x/y/w /home/u/.bashrc", "f"], "s///w"),
            (&["sed", "-e", "p", "-e", "w /tmp/x", "f"], "w"),
            (&["sed", "--expression=1W /tmp/x", "f"], "W"),
            (&["sed", "/a/,/b/{e id\n}", "f"], "e"),
            (&["sed", "-ne", "s/a/b/e", "f"], "s///e"),
            (&["sed", "-f", "script.sed", "f"], "-f"),
            (&["sed", "s/a/b/gpe"], "s///e"),
        ];
        for (argv, option) in refused {
            let e = find_escape(&v(argv));
            assert_eq!(
                e.as_ref().map(|e| e.option.as_str()),
                Some(*option),
                "{argv:?}"
            );
        }
        let harmless: &[&[&str]] = &[
            &["git", "status"],
            &["git", "log", "-c", "--oneline"],
            &["git", "-C", "/repo", "log", "--oneline"],
            &["git", "--exec-path"],
            &["git", "config", "--get", "user.name"],
            &["git", "commit", "-m", "use -c and --exec-path"],
            &["git", "grep", "-n", "TODO"],
            &["find", ".", "-name", "*.rs", "-print"],
            &["find", ".", "-type", "f", "-delete"],
            &["tar", "-czf", "a.tgz", "dir"],
            &["tar", "xzf", "a.tgz"],
            &["tar", "-tf", "Image.tar"],
            &["tar", "-xf", "a.tar", "--to-stdout"],
            &["tar", "-cf", "a.tar", "--checkpoint=100", "."],
            &["mawk", "-W", "version"],
            &["rsync", "-avz", "a/", "b/"],
            &["ssh", "-o", "BatchMode=yes", "-p", "2222", "h", "uptime"],
            &["ssh", "-i", "key_F", "h"],
            &["ssh", "h", "ls", "-F", "-o", "ProxyCommand=x"],
            &["scp", "-P", "22", "a", "h:b"],
            &["sftp", "-P", "22", "h"],
            &["awk", "{ print $1 }"],
            &["awk", "-F:", "{ print $1 }", "/etc/passwd"],
            &["awk", "/a|b/ { n++ } END { print n }"],
            &["awk", "$3 > 100 { print $1 }"],
            &["awk", "{ print ($1 > 2) }"],
            &["awk", "a || b { x = 4 / 2; print x }"],
            &["awk", "{ s = \"|\"; print s }"],
            &["sed", "-n", "s/a/b/gp"],
            &["sed", "s/x/y/", "f"],
            &["sed", "-i", "s/a/b/", "f"],
            &["sed", "-e", "1d", "-e", "$d"],
            &["sed", "/^#/d;s/[[:space:]]*$//"],
            &["sed", "1i hello w world", "f"],
            &["sed", ":a;N;$!ba;s/\\n/ /g"],
            &["sed", "y/abc/xyz/"],
            &["echo", "-exec"],
        ];
        for argv in harmless {
            assert_eq!(find_escape(&v(argv)), None, "{argv:?}");
        }
    }

    #[test]
    fn every_rule_names_its_tools_once() {
        let mut all: Vec<&str> = RULES.iter().flat_map(|r| r.tools.iter().copied()).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
