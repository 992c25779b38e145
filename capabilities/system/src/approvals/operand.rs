//! The mutable file an approval binds (`plan.mutableFileOperand`): which argv word of a
//! prepared command names a file whose bytes decide what runs (a script given to a shell
//! or an interpreter, or a writable executable), its real path and its sha256, so that
//! an edit between approval and execution is caught. Commands whose code-loading cannot
//! be pinned to one file (`node --require x.js app.js`, `bash --rcfile`, `env -C`, opaque
//! multiplexers, shell payloads that run scripts) are refused with the reference's
//! `SYSTEM_RUN_DENIED` messages.
//!
//! Facts (name sets, option tables, messages, decision order) follow the reference node
//! host 2026.9.6 (`src/infra/system-run-mutable-file-*.ts`, `system-run-file-snapshot.ts`,
//! `system-run-shell-file-operand.ts`, `system-run-runtime-file-options.ts` and the
//! dispatch-wrapper, shell-multiplexer and package-manager unwrapping they use). This
//! module owns only that decision and the snapshot; it does not decide whether a command
//! may run (that is [`super::policy`]) and reads the file system only through `Host`.

use std::fs;
use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::analysis::exe_name;

/// The file an approval is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOperand {
    /// The argv word that names it.
    pub argv_index: usize,
    /// Its real path (symlinks resolved).
    pub path: PathBuf,
    /// Lower-case hex sha256 of its contents.
    pub sha256: String,
}

/// Why a command cannot be bound to an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The text after `SYSTEM_RUN_DENIED: `.
    pub detail: &'static str,
    /// The command's shape is unsupported (the reference's `unsupported-command-shape`,
    /// whose prepare answer carries an extra hint).
    pub unsupported_shape: bool,
}

impl Refusal {
    const fn new(detail: &'static str) -> Self {
        Self {
            detail,
            unsupported_shape: false,
        }
    }

    /// The whole message, `SYSTEM_RUN_DENIED: …`.
    pub fn message(&self) -> String {
        format!("SYSTEM_RUN_DENIED: {}", self.detail)
    }

    /// The message `system.run.prepare` answers with (`INVALID_REQUEST`): an unsupported
    /// shape gets the reference's hint that no approval request was created.
    pub fn prepare_message(&self) -> String {
        if self.unsupported_shape {
            format!("{}\n{PREPARE_HINT}", self.message())
        } else {
            self.message()
        }
    }
}

/// The reference's second line for an unsupported command shape in prepare.
const PREPARE_HINT: &str = "No approval request was created for this attempt; this is not a \
    user denial. Retry a supported single executable with an absolute path through the \
    normal approval flow. This node approval path cannot bind script/interpreter payloads \
    nested in its shell wrapper.";

impl FileOperand {
    /// The plan's `mutableFileOperand`: `{argvIndex, path, sha256}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "argvIndex": self.argv_index,
            "path": self.path.display().to_string(),
            "sha256": self.sha256,
        })
    }

    /// Reads a plan's `mutableFileOperand`; `None` when a field is missing or mistyped.
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        Some(Self {
            argv_index: usize::try_from(v.get("argvIndex")?.as_u64()?).ok()?,
            path: PathBuf::from(v.get("path")?.as_str()?),
            sha256: v.get("sha256")?.as_str()?.to_string(),
        })
    }
}

const DISPATCH_CWD: Refusal = Refusal::new("approval cannot safely bind dispatch cwd options");
const SHELL_STARTUP_FILES: Refusal =
    Refusal::new("approval cannot safely bind shell startup files");
const SHELL_STARTUP_ENV: Refusal =
    Refusal::new("approval cannot safely bind shell startup environment");
const RUNTIME_OPTIONS: Refusal =
    Refusal::new("approval cannot safely bind runtime code-loading or cwd options");
const UNSUPPORTED_SHAPE: Refusal = Refusal {
    detail: "approval cannot safely bind this interpreter/runtime command",
    unsupported_shape: true,
};
const UNSTABLE_OPERAND: Refusal = Refusal::new("approval requires a stable script operand");
const MISSING_OPERAND: Refusal = Refusal::new("approval requires an existing script operand");
const NOT_A_FILE: Refusal = Refusal::new("approval requires a file script operand");
const UNREADABLE: Refusal = Refusal::new("approval requires a readable script operand");

/// What the decision needs from the machine: the node's own environment (a shell reads
/// `BASH_ENV`/`ENV` from it) and whether this process could change a path.
pub trait Host {
    /// A variable of the node's own environment.
    fn env(&self, key: &str) -> Option<String>;
    /// Whether this process could change `path`: write access, or ownership.
    fn can_modify(&self, path: &Path) -> bool;
}

/// The running node: its environment, `access(W_OK)` and its uid.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThisProcess;

impl Host for ThisProcess {
    fn env(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }

    fn can_modify(&self, path: &Path) -> bool {
        nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).is_ok()
            || owned_by_uid(path, nix::unistd::getuid().as_raw())
    }
}

/// Whether `path` (followed) belongs to `uid`.
fn owned_by_uid(path: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata(path).is_ok_and(|m| m.uid() == uid)
}

/// The file `argv` (run in `cwd`) must be bound to, if any. `shell_payload` is the inline
/// program when argv is a shell wrapper (`sh -c PAYLOAD`).
pub fn mutable_file_operand(
    argv: &[String],
    cwd: &Path,
    shell_payload: Option<&str>,
    host: &impl Host,
) -> Result<Option<FileOperand>, Refusal> {
    let Some(index) = operand_target(argv, cwd, shell_payload, host)? else {
        return Ok(None);
    };
    let operand = argv.get(index).map(|a| a.trim()).unwrap_or_default();
    if operand.is_empty() {
        return Err(UNSTABLE_OPERAND);
    }
    snapshot(index, &resolve(cwd, operand)).map(Some)
}

/// Whether the file bound at prepare time is still the one `argv` names, byte for byte.
pub fn operand_unchanged(bound: &FileOperand, argv: &[String], cwd: &Path) -> bool {
    let Some(operand) = argv
        .get(bound.argv_index)
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
    else {
        return false;
    };
    match fs::canonicalize(resolve(cwd, operand)) {
        Ok(real) if real == bound.path => sha256_file(&real).is_ok_and(|h| h == bound.sha256),
        _ => false,
    }
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    Ok(hex::encode(Sha256::digest(fs::read(path)?)))
}

/// Real path, must be a file, hash of its contents.
fn snapshot(argv_index: usize, path: &Path) -> Result<FileOperand, Refusal> {
    let real = fs::canonicalize(path).map_err(|_| MISSING_OPERAND)?;
    let meta = fs::metadata(&real).map_err(|_| MISSING_OPERAND)?;
    if !meta.is_file() {
        return Err(NOT_A_FILE);
    }
    let sha256 = sha256_file(&real).map_err(|_| UNREADABLE)?;
    Ok(FileOperand {
        argv_index,
        path: real,
        sha256,
    })
}

/// The refusals first, then the operand's argv index.
fn operand_target(
    argv: &[String],
    cwd: &Path,
    shell_payload: Option<&str>,
    host: &impl Host,
) -> Result<Option<usize>, Refusal> {
    if has_dispatch_cwd_option(argv) {
        return Err(DISPATCH_CWD);
    }
    let inner = unwrap_for_operand(argv);
    let exe = exe(inner.argv.first().map(String::as_str).unwrap_or_default());
    if loads_shell_startup_code(&inner.argv, &exe) {
        return Err(SHELL_STARTUP_FILES);
    }
    if has_shell_startup_env(argv, &exe, host) {
        return Err(SHELL_STARTUP_ENV);
    }
    if has_unbindable_runtime_option(&inner.argv, &exe) {
        return Err(RUNTIME_OPTIONS);
    }
    match operand_index(argv, cwd, host) {
        // `env -S` can shift the index before the start of argv.
        Some(index) => usize::try_from(index)
            .ok()
            .filter(|&i| !word(argv, i).is_empty())
            .map(Some)
            .ok_or(UNSTABLE_OPERAND),
        None if needs_stable_binding(argv, shell_payload, cwd, host) => Err(UNSUPPORTED_SHAPE),
        None => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------
// Words, names, paths.

fn word(argv: &[String], index: usize) -> &str {
    argv.get(index).map(|a| a.trim()).unwrap_or_default()
}

/// The reference's `normalizeExecutableToken`: lower-case base name, no Windows suffix.
fn exe(token: &str) -> String {
    exe_name(token.trim())
}

/// The name of an option word (`--flag=value` → `--flag`).
fn option_name(token: &str) -> &str {
    token.split_once('=').map_or(token, |(name, _)| name)
}

/// `option_name`, trimmed and lower-cased.
fn option_key(token: &str) -> String {
    option_name(token).trim().to_lowercase()
}

/// `path.resolve(cwd, raw)`: absolute, `.` and `..` folded lexically.
fn resolve(cwd: &Path, raw: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    for part in cwd.join(raw).components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

fn is_existing_file(raw: &str, cwd: &Path) -> bool {
    !raw.is_empty() && fs::metadata(resolve(cwd, raw)).is_ok_and(|m| m.is_file())
}

/// Starts like a path or has a file extension.
fn looks_like_path(token: &str) -> bool {
    looks_like_explicit_path(token) || token.contains('.')
}

fn looks_like_explicit_path(token: &str) -> bool {
    token.starts_with(['.', '/', '\\']) || token.contains(['/', '\\'])
}

fn is_env_assignment(token: &str) -> bool {
    let Some((name, _)) = token.split_once('=') else {
        return false;
    };
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The reference's `splitShellArgs`: words of a shell-like string, `None` on an
/// unterminated quote or escape; a `#` at a word start ends the line.
fn split_shell_words(raw: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut buf = String::new();
    let (mut single, mut double, mut escaped) = (false, false, false);
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if escaped {
            buf.push(c);
            escaped = false;
        } else if single {
            if c == '\'' {
                single = false;
            } else {
                buf.push(c);
            }
        } else if double {
            match (c, chars.peek()) {
                ('\\', Some(&n @ ('\\' | '"' | '$' | '`' | '\n' | '\r'))) => {
                    buf.push(n);
                    chars.next();
                }
                ('"', _) => double = false,
                _ => buf.push(c),
            }
        } else {
            match c {
                '\\' => escaped = true,
                '\'' => single = true,
                '"' => double = true,
                '#' if buf.is_empty() => break,
                c if c.is_whitespace() => {
                    if !buf.is_empty() {
                        words.push(std::mem::take(&mut buf));
                    }
                }
                c => buf.push(c),
            }
        }
    }
    if escaped || single || double {
        return None;
    }
    if !buf.is_empty() {
        words.push(buf);
    }
    Some(words)
}

// ---------------------------------------------------------------------------------------
// Unwrapping: dispatch wrappers, busybox/toybox, package-manager exec.

/// argv with its wrappers taken off.
struct Inner {
    /// What the wrappers run.
    argv: Vec<String>,
    /// Where `argv[0]` sits in the original argv (the reference's arithmetic: `env -S`
    /// can make it negative).
    base: isize,
    /// A busybox/toybox applet was unwrapped on the way.
    opaque: bool,
}

/// Shells the reference recognises as wrappers.
const POSIX_SHELLS: &[&str] = &[
    "ash", "bash", "csh", "dash", "elvish", "fish", "ksh", "mksh", "nu", "osh", "sh", "tcsh",
    "xonsh", "yash", "zsh",
];
/// The shells whose options it can parse for a script operand.
const PARSEABLE_SHELLS: &[&str] = &[
    "ash", "bash", "dash", "fish", "ksh", "mksh", "sh", "yash", "zsh",
];
/// Multiplexers whose applets are opaque.
const OPAQUE_RUNNERS: &[&str] = &["busybox", "toybox"];

fn unwrap_for_operand(argv: &[String]) -> Inner {
    let mut inner = Inner {
        argv: argv.to_vec(),
        base: 0,
        opaque: false,
    };
    loop {
        let next = if let Some(next) = unwrap_dispatch(&inner.argv) {
            next
        } else if let Some(next) = unwrap_multiplexer(&inner.argv) {
            inner.opaque = true;
            next
        } else if let Some(next) = unwrap_package_exec(&inner.argv) {
            next
        } else {
            return inner;
        };
        inner.base += inner.argv.len() as isize - next.len() as isize;
        inner.argv = next;
    }
}

/// `busybox sh …` / `toybox sh …`: the shell applet's argv; anything else stays.
fn unwrap_multiplexer(argv: &[String]) -> Option<Vec<String>> {
    if !OPAQUE_RUNNERS.contains(&exe(argv.first()?).as_str()) {
        return None;
    }
    let applet = if word(argv, 1) == "--" { 2 } else { 1 };
    let name = exe(word(argv, applet));
    let shell = POSIX_SHELLS.contains(&name.as_str())
        || ["cmd", "powershell", "pwsh"].contains(&name.as_str());
    (!word(argv, applet).is_empty() && shell).then(|| argv[applet..].to_vec())
}

/// What a wrapper's option scanner says about one word.
enum Step {
    Next,
    Stop,
    Invalid,
    TakesValue,
}

/// Scans a wrapper's options up to its command (after `--` or the first operand) and
/// returns the command's argv; `pick` may move the command index (timeout's duration,
/// flock's lock file).
fn scan_wrapper(
    argv: &[String],
    mut step: impl FnMut(&str, &str) -> Step,
    pick: impl Fn(usize, &[String]) -> Option<usize>,
) -> Option<Vec<String>> {
    let mut i = 1;
    let mut value_pending = false;
    while i < argv.len() {
        let token = argv[i].trim();
        if token.is_empty() {
        } else if value_pending {
            value_pending = false;
        } else if token == "--" {
            i += 1;
            break;
        } else {
            match step(token, &token.to_lowercase()) {
                Step::Stop => break,
                Step::Invalid => return None,
                Step::TakesValue => value_pending = true,
                Step::Next => {}
            }
        }
        i += 1;
    }
    if value_pending {
        return None;
    }
    let command = pick(i, argv)?;
    (command < argv.len()).then(|| argv[command..].to_vec())
}

fn here(i: usize, _: &[String]) -> Option<usize> {
    Some(i)
}

/// A wrapper whose options all start with `-`; `flag` sees the lower-cased option name
/// and the lower-cased word.
fn scan_dash_options(
    argv: &[String],
    flag: impl Fn(&str, &str) -> Step,
    pick: impl Fn(usize, &[String]) -> Option<usize>,
) -> Option<Vec<String>> {
    scan_wrapper(
        argv,
        |token, lower| {
            if !token.starts_with('-') || token == "-" {
                Step::Stop
            } else {
                flag(option_name(lower), lower)
            }
        },
        pick,
    )
}

/// An option with a value: attached (`-n5`, `--x=1`) or in the next word.
fn value_option(flag: &str, lower: &str) -> Step {
    if lower != flag || lower.contains('=') {
        Step::Next
    } else {
        Step::TakesValue
    }
}

/// A long or separate-value option (`--x=1` or `--x 1`; `-o0` is not understood).
fn separate_value_option(lower: &str) -> Step {
    if lower.contains('=') {
        Step::Next
    } else {
        Step::TakesValue
    }
}

/// The transparent dispatch wrappers the reference unwraps (the others, `sudo`,
/// `setsid`, `chroot` …, are never unwrapped). Returns the carried argv.
fn unwrap_dispatch(argv: &[String]) -> Option<Vec<String>> {
    let first = argv.first().map(|a| a.trim()).filter(|a| !a.is_empty())?;
    match exe(first).as_str() {
        "env" => env_carried(argv, 0),
        "nice" => scan_dash_options(
            argv,
            |flag, lower| {
                if lower.len() > 1 && lower[1..].bytes().all(|b| b.is_ascii_digit()) {
                    Step::Next
                } else if ["-n", "--adjustment", "--priority"].contains(&flag) {
                    value_option(flag, lower)
                } else if lower.starts_with("-n") && lower.len() > 2 {
                    Step::Next
                } else {
                    Step::Invalid
                }
            },
            here,
        ),
        "nohup" => scan_wrapper(
            argv,
            |token, lower| {
                if !token.starts_with('-') || token == "-" {
                    Step::Stop
                } else if lower == "--help" || lower == "--version" {
                    Step::Next
                } else {
                    Step::Invalid
                }
            },
            here,
        ),
        "caffeinate" => scan_dash_options(
            argv,
            |flag, lower| match flag {
                "-d" | "-i" | "-m" | "-s" | "-u" => Step::Next,
                "-t" | "-w" => value_option(flag, lower),
                _ => Step::Invalid,
            },
            here,
        ),
        "sandbox-exec" => scan_dash_options(
            argv,
            |flag, lower| match flag {
                "-f" | "-p" | "-d" => value_option(flag, lower),
                _ => Step::Invalid,
            },
            here,
        ),
        "stdbuf" => scan_dash_options(
            argv,
            |flag, lower| match flag {
                "-i" | "--input" | "-o" | "--output" | "-e" | "--error" => {
                    separate_value_option(lower)
                }
                _ => Step::Invalid,
            },
            here,
        ),
        "time" => scan_dash_options(
            argv,
            |flag, lower| match flag {
                "-a" | "--append" | "-h" | "--help" | "-l" | "-p" | "-q" | "--quiet" | "-v"
                | "--verbose" | "-V" | "--version" => Step::Next,
                "-f" | "--format" | "-o" | "--output" => separate_value_option(lower),
                _ => Step::Invalid,
            },
            here,
        ),
        "timeout" => scan_dash_options(
            argv,
            |flag, lower| match flag {
                "--foreground" | "--preserve-status" | "-v" | "--verbose" => Step::Next,
                "-k" | "--kill-after" | "-s" | "--signal" => separate_value_option(lower),
                _ => Step::Invalid,
            },
            // The duration comes first.
            |i, argv| (i + 1 < argv.len()).then_some(i + 1),
        ),
        "flock" => scan_wrapper(argv, flock_option, |i, argv| {
            // The lock file comes first.
            let command = word(argv, i + 1);
            (!command.is_empty() && (!command.starts_with('-') || command == "-")).then_some(i + 1)
        }),
        _ => None,
    }
}

fn flock_option(token: &str, lower: &str) -> Step {
    if !token.starts_with('-') || token == "-" {
        return Step::Stop;
    }
    let name = option_name(token);
    let inline = name.len() != token.len();
    let long = option_name(lower);
    if [
        "--close",
        "--exclusive",
        "--nb",
        "--no-fork",
        "--nonblock",
        "--shared",
        "--verbose",
    ]
    .contains(&long)
    {
        return Step::Next;
    }
    if ["--conflict-exit-code", "--timeout", "--wait"].contains(&long) {
        return if inline { Step::Next } else { Step::TakesValue };
    }
    let cluster = token.len() > 1 && token[1..].bytes().all(|b| b"eFnsxo".contains(&b));
    if cluster || ["-e", "-F", "-n", "-o", "-s", "-x"].contains(&name) {
        return Step::Next;
    }
    if ["-E", "-w"].contains(&name) {
        return if inline { Step::Next } else { Step::TakesValue };
    }
    Step::Invalid
}

const ENV_OPTIONS_WITH_VALUE: &[&str] = &[
    "-C",
    "-P",
    "-S",
    "-s",
    "-u",
    "--argv0",
    "--block-signal",
    "--chdir",
    "--default-signal",
    "--ignore-signal",
    "--split-string",
    "--unset",
];
const ENV_STANDALONE_OPTIONS: &[&str] = &["-0", "-i", "--ignore-environment", "--null"];
/// How deep `env -S 'env -S …'` is followed.
const MAX_ENV_SPLIT_DEPTH: usize = 32;

/// One parsed option of a carrier (`env`): its name and whether its value is attached.
struct CarrierOption {
    name: String,
    inline_value: Option<String>,
}

/// Options of one word (`--long[=v]` or a cluster of short flags, the last one maybe
/// taking the rest of the word as its value); `None` for an unknown option.
fn carrier_options(token: &str) -> Option<Vec<CarrierOption>> {
    let known =
        |n: &str| ENV_STANDALONE_OPTIONS.contains(&n) || ENV_OPTIONS_WITH_VALUE.contains(&n);
    if token.starts_with("--") {
        let name = option_name(token);
        return known(name).then(|| {
            vec![CarrierOption {
                name: name.to_string(),
                inline_value: token.split_once('=').map(|(_, v)| v.to_string()),
            }]
        });
    }
    if !token
        .chars()
        .nth(1)
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        return None;
    }
    let mut options = Vec::new();
    for (at, c) in token.char_indices().skip(1) {
        let name = format!("-{c}");
        let rest = &token[at + c.len_utf8()..];
        if ENV_OPTIONS_WITH_VALUE.contains(&name.as_str()) {
            options.push(CarrierOption {
                name,
                inline_value: (!rest.is_empty()).then(|| rest.to_string()),
            });
            return Some(options);
        }
        if !known(&name) {
            return None;
        }
        options.push(CarrierOption {
            name,
            inline_value: None,
        });
    }
    (!options.is_empty()).then_some(options)
}

/// The argv `env` runs (assignments and known options skipped; `-S` split and
/// followed), or `None` when it cannot be told.
fn env_carried(argv: &[String], depth: usize) -> Option<Vec<String>> {
    if depth > MAX_ENV_SPLIT_DEPTH || exe(argv.first()?) != "env" {
        return None;
    }
    let mut i = 1;
    while i < argv.len() {
        let token = argv[i].as_str();
        if token.is_empty() {
            return None;
        }
        if is_env_assignment(token) {
        } else if token == "--" || token == "-" {
            return (i + 1 < argv.len()).then(|| argv[i + 1..].to_vec());
        } else if token.starts_with('-') {
            let options = carrier_options(token)?;
            if let Some(split) = options
                .iter()
                .find(|o| ["-S", "-s", "--split-string"].contains(&o.name.as_str()))
            {
                let payload_at = if split.inline_value.is_some() {
                    i
                } else {
                    i + 1
                };
                let payload = split
                    .inline_value
                    .clone()
                    .or_else(|| argv.get(payload_at).cloned())?;
                let mut carried = split_shell_words(&payload).filter(|w| !w.is_empty())?;
                carried.extend(argv.iter().skip(payload_at + 1).cloned());
                let mut again = vec!["env".to_string()];
                again.extend(carried.iter().cloned());
                return Some(env_carried(&again, depth + 1).unwrap_or(carried));
            }
            if options.iter().any(|o| {
                ENV_OPTIONS_WITH_VALUE.contains(&o.name.as_str()) && o.inline_value.is_none()
            }) {
                i += 1;
            }
        } else {
            return Some(argv[i..].to_vec());
        }
        i += 1;
    }
    None
}

/// `env -C DIR` / `env --chdir=DIR`: the command would run somewhere else.
fn has_dispatch_cwd_option(argv: &[String]) -> bool {
    if argv.first().is_none_or(|a| exe(a) != "env") {
        return false;
    }
    for token in &argv[1..] {
        let t = token.trim().to_lowercase();
        if t == "-c" || t.starts_with("-c=") || t == "--chdir" || t.starts_with("--chdir=") {
            return true;
        }
        if !t.starts_with('-') && !t.contains('=') {
            return false;
        }
    }
    false
}

/// A package manager's option table for finding its subcommand or carried command.
struct PmOptions {
    with_value: &'static [&'static str],
    /// Matched without lower-casing (`-C`).
    with_value_exact: &'static [&'static str],
    flags: &'static [&'static str],
}

/// What a `--` does while looking for the first operand.
#[derive(Clone, Copy, PartialEq)]
enum DoubleDash {
    Skip,
    Stop,
    Reject,
}

const NPM_EXEC_OPTIONS: PmOptions = PmOptions {
    with_value: &[
        "--cache",
        "--loglevel",
        "--package",
        "--prefix",
        "--script-shell",
        "--userconfig",
        "--workspace",
        "-p",
        "-w",
    ],
    with_value_exact: &["-C"],
    flags: &[
        "--no",
        "--quiet",
        "--ws",
        "--workspaces",
        "--yes",
        "-q",
        "-y",
    ],
};
const NPM_DIRECT_EXEC_OPTIONS: PmOptions = PmOptions {
    with_value_exact: &[],
    ..NPM_EXEC_OPTIONS
};
const PNPM_OPTIONS_WITH_VALUE: &[&str] = &[
    "--config",
    "--dir",
    "--filter",
    "--reporter",
    "--stream",
    "--test-pattern",
    "--workspace-concurrency",
];
const PNPM_DLX_OPTIONS_WITH_VALUE: &[&str] = &["--allow-build", "--package", "-p"];
const PNPM_FLAG_OPTIONS: &[&str] = &[
    "--aggregate-output",
    "--color",
    "--parallel",
    "--recursive",
    "--silent",
    "--workspace-root",
    "-r",
    "-s",
    "-w",
];
const PNPM_EXEC_OPTIONS: PmOptions = PmOptions {
    with_value: &[
        "--config",
        "--dir",
        "--filter",
        "--reporter",
        "--stream",
        "--test-pattern",
        "--workspace-concurrency",
        "--allow-build",
        "--package",
        "-p",
    ],
    with_value_exact: &["-C"],
    flags: PNPM_FLAG_OPTIONS,
};
const PNPM_DLX_OPTIONS: PmOptions = PmOptions {
    with_value_exact: &[],
    ..PNPM_EXEC_OPTIONS
};
const YARN_OPTIONS: PmOptions = PmOptions {
    with_value: &["--cwd"],
    with_value_exact: &[],
    flags: &["--immutable", "--silent", "-s"],
};
const YARN_DLX_OPTIONS: PmOptions = PmOptions {
    with_value: &["--package", "-p"],
    with_value_exact: &[],
    flags: &["--quiet", "-q"],
};

/// The first word from `start` that is not a known option (or its value).
fn first_operand(argv: &[String], start: usize, o: &PmOptions, dd: DoubleDash) -> Option<usize> {
    let mut i = start;
    while i < argv.len() {
        let token = argv[i].trim();
        let step = if token.is_empty() {
            1
        } else if token == "--" {
            match dd {
                DoubleDash::Reject => return None,
                DoubleDash::Stop => return (i + 1 < argv.len()).then_some(i + 1),
                DoubleDash::Skip => 1,
            }
        } else if !token.starts_with('-') {
            return Some(i);
        } else if o.with_value_exact.contains(&option_name(token))
            || o.with_value.contains(&option_key(token).as_str())
        {
            if token.contains('=') { 1 } else { 2 }
        } else if o.flags.contains(&option_key(token).as_str()) {
            1
        } else {
            return None;
        };
        i += step;
    }
    None
}

/// `npm exec`, `npx`, `bunx`, `pnpm exec|dlx|node`, `yarn exec|dlx`: the carried argv.
fn unwrap_package_exec(argv: &[String]) -> Option<Vec<String>> {
    let tail_after = |at: usize| {
        let tail = &argv[at..];
        let tail = if tail.first().is_some_and(|t| t == "--") {
            &tail[1..]
        } else {
            tail
        };
        (!tail.is_empty()).then(|| tail.to_vec())
    };
    let from = |start, o, dd| first_operand(argv, start, o, dd).map(|i| argv[i..].to_vec());
    match package_manager(argv.first()?).as_str() {
        "npm" => {
            let i = first_operand(argv, 1, &NPM_EXEC_OPTIONS, DoubleDash::Reject)?;
            if !["exec", "x"].contains(&word(argv, i)) {
                return None;
            }
            if argv.get(i + 1).is_some_and(|t| t == "--") {
                return (argv.len() > i + 2).then(|| argv[i + 2..].to_vec());
            }
            from(i + 1, &NPM_DIRECT_EXEC_OPTIONS, DoubleDash::Reject)
        }
        "npx" | "bunx" => from(1, &NPM_DIRECT_EXEC_OPTIONS, DoubleDash::Reject),
        "pnpm" => {
            let i = first_operand(argv, 1, &PNPM_EXEC_OPTIONS, DoubleDash::Skip)?;
            match word(argv, i) {
                "exec" => {
                    let tail = tail_after(i + 1)?;
                    let first = option_key(&tail[0]);
                    (first != "-c" && first != "--shell-mode").then_some(tail)
                }
                "dlx" => from(i + 1, &PNPM_DLX_OPTIONS, DoubleDash::Stop),
                "node" => {
                    let mut out = vec!["node".to_string()];
                    out.extend(tail_after(i + 1).unwrap_or_default());
                    Some(out)
                }
                _ => None,
            }
        }
        "yarn" => {
            let i = first_operand(argv, 1, &YARN_OPTIONS, DoubleDash::Skip)?;
            match word(argv, i) {
                "exec" => tail_after(i + 1),
                "dlx" => from(i + 1, &YARN_DLX_OPTIONS, DoubleDash::Stop),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A package manager's name (`pnpm.cjs` → `pnpm`).
fn package_manager(token: &str) -> String {
    let name = exe(token);
    for suffix in [".js", ".cjs", ".mjs"] {
        if let Some(stripped) = name.strip_suffix(suffix) {
            return stripped.to_string();
        }
    }
    name
}

/// `pnpm [opts] dlx …` where the reference fails closed: an option it cannot read, or a
/// dlx tail that names a mutable operand.
fn pnpm_dlx_fails_closed(argv: &[String], cwd: &Path, host: &impl Host) -> bool {
    if argv.first().is_none_or(|a| package_manager(a) != "pnpm") {
        return false;
    }
    let mut i = 1;
    while i < argv.len() {
        let token = word(argv, i);
        if token.is_empty() || token == "--" {
            i += 1;
            continue;
        }
        if !token.starts_with('-') {
            return token == "dlx" && pnpm_dlx_tail_fails_closed(&argv[i + 1..], cwd, host);
        }
        match pnpm_option_width(token) {
            Some(width) => i += width,
            None => return true,
        }
    }
    false
}

fn pnpm_dlx_tail_fails_closed(tail: &[String], cwd: &Path, host: &impl Host) -> bool {
    let mut i = 0;
    while i < tail.len() {
        let token = word(tail, i);
        if token.is_empty() {
            i += 1;
            continue;
        }
        if token == "--" {
            return operand_index(&tail[i + 1..], cwd, host).is_some();
        }
        if !token.starts_with('-') {
            return operand_index(&tail[i..], cwd, host).is_some();
        }
        let key = option_key(token);
        if key == "-c" || key == "--shell-mode" {
            return false;
        }
        match pnpm_option_width(token) {
            Some(width) => i += width,
            None => return true,
        }
    }
    true
}

/// How many words a pnpm option takes, `None` if unknown.
fn pnpm_option_width(token: &str) -> Option<usize> {
    let key = option_key(token);
    let with_value = |w: usize| Some(if token.contains('=') { 1 } else { w });
    if PNPM_OPTIONS_WITH_VALUE.contains(&key.as_str())
        || PNPM_DLX_OPTIONS_WITH_VALUE.contains(&key.as_str())
        || option_name(token) == "-C"
    {
        with_value(2)
    } else if PNPM_FLAG_OPTIONS.contains(&key.as_str()) {
        Some(1)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------
// Shells.

/// Shells that take `+o` style options.
const PLUS_OPTION_SHELLS: &[&str] = &[
    "ash", "bash", "dash", "ksh", "mksh", "osh", "sh", "yash", "zsh",
];
/// Flags that introduce an inline program.
const INLINE_COMMAND_FLAGS: &[&str] = &["-lc", "-c", "--command", "--commands", "--cmdline"];
/// Shell options that take the next word as a value.
const SHELL_OPTIONS_WITH_VALUE: &[&str] = &[
    "--init-file",
    "--rcfile",
    "--startup-script",
    "-O",
    "-o",
    "+O",
    "+o",
];
const SHELL_CODE_LOADING_OPTIONS: &[&str] = &["--init-file", "--rcfile", "--startup-script"];

/// `o`/`O` letters of a short-option cluster: each takes a following word.
fn cluster_value_count(token: &str) -> usize {
    token[1..]
        .chars()
        .filter(|c| matches!(c, 'o' | 'O'))
        .count()
}

/// How many words a shell option occupies while scanning.
fn shell_option_width(token: &str) -> usize {
    let cluster = token.len() >= 2 && token.starts_with(['-', '+']) && !token[1..].contains('-');
    let values = if cluster {
        cluster_value_count(token)
    } else {
        0
    };
    if values > 0 {
        1 + values
    } else if ["--init-file", "--rcfile", "-O", "-o", "+O", "+o"].contains(&token) {
        2
    } else {
        1
    }
}

/// A short-option cluster containing `c` (`-ec`, `-xc`), i.e. an inline program.
fn is_combined_command_flag(token: &str) -> bool {
    token.len() >= 2
        && token.starts_with('-')
        && !token[1..].starts_with('-')
        && token[1..].contains('c')
        && !token[1..].contains('-')
}

/// Whether the shell's options include an inline program flag before its first operand.
fn has_inline_command(argv: &[String], plus_options: bool) -> bool {
    let mut i = 1;
    while i < argv.len() {
        let token = argv[i].trim();
        if token.is_empty() {
            i += 1;
            continue;
        }
        if token == "--" {
            return false;
        }
        if INLINE_COMMAND_FLAGS.contains(&token) {
            return i + 1 < argv.len();
        }
        if is_combined_command_flag(token) {
            return true;
        }
        let option = token.starts_with('-') || (plus_options && token.starts_with('+'));
        if !option {
            return false;
        }
        i += shell_option_width(token);
    }
    false
}

/// The script a POSIX shell would read (`sh [options] FILE`), `None` for inline
/// programs, stdin (`-s`, `-`) or no operand.
fn shell_script_index(argv: &[String], shell: &str) -> Option<usize> {
    let plus_options = PLUS_OPTION_SHELLS.contains(&shell);
    if has_inline_command(argv, plus_options) {
        return None;
    }
    let mut after_dd = false;
    let mut i = 1;
    while i < argv.len() {
        let token = argv[i].trim();
        if token.is_empty() {
            i += 1;
            continue;
        }
        if token == "-" || (!after_dd && token == "-s") {
            return None;
        }
        if !after_dd && token == "--" {
            after_dd = true;
            i += 1;
            continue;
        }
        let option = token.starts_with('-') || (plus_options && token.starts_with('+'));
        if !after_dd && option {
            if SHELL_OPTIONS_WITH_VALUE.contains(&option_key(token).as_str()) {
                i += if token.contains('=') { 1 } else { 2 };
            } else {
                i += shell_option_width(token);
            }
            continue;
        }
        return Some(i);
    }
    None
}

/// `--rcfile`, `--init-file`, `-s`, `-i` …: the shell would run code besides the script.
fn loads_shell_startup_code(argv: &[String], shell: &str) -> bool {
    if !POSIX_SHELLS.contains(&shell) {
        return false;
    }
    for token in &argv[1..] {
        if token == "--" {
            return false;
        }
        if SHELL_CODE_LOADING_OPTIONS.contains(&option_key(token).as_str())
            || token == "-s"
            || token == "--stdin"
            || token == "--interactive"
        {
            return true;
        }
        // `-i`, or `i` in a short-option cluster before any `-`.
        let interactive = token.strip_prefix('-').is_some_and(|rest| {
            rest.split('-')
                .next()
                .is_some_and(|head| head.contains('i'))
        });
        if interactive && !token.contains('=') {
            return true;
        }
    }
    false
}

/// `BASH_ENV`/`ENV` in the node's environment or assigned in argv, for a shell.
fn has_shell_startup_env(argv: &[String], shell: &str, host: &impl Host) -> bool {
    if !POSIX_SHELLS.contains(&shell) {
        return false;
    }
    let set = |k| host.env(k).is_some_and(|v| !v.trim().is_empty());
    set("BASH_ENV")
        || set("ENV")
        || argv.iter().any(|t| {
            let t = t.trim();
            t.starts_with("BASH_ENV=") || t.starts_with("ENV=")
        })
}

// ---------------------------------------------------------------------------------------
// Interpreters and runtimes.

const BUN_SUBCOMMANDS: &[&str] = &[
    "add",
    "audit",
    "completions",
    "create",
    "exec",
    "help",
    "init",
    "install",
    "link",
    "outdated",
    "patch",
    "pm",
    "publish",
    "remove",
    "repl",
    "run",
    "test",
    "unlink",
    "update",
    "upgrade",
    "x",
];
const BUN_OPTIONS_WITH_VALUE: &[&str] = &[
    "--backend",
    "--bunfig",
    "--conditions",
    "--config",
    "--console-depth",
    "--cwd",
    "--define",
    "--elide-lines",
    "--env-file",
    "--extension-order",
    "--filter",
    "--hot",
    "--inspect",
    "--inspect-brk",
    "--inspect-wait",
    "--install",
    "--jsx-factory",
    "--jsx-fragment",
    "--jsx-import-source",
    "--loader",
    "--origin",
    "--port",
    "--preload",
    "--smol",
    "--tsconfig-override",
    "-c",
    "-e",
    "-p",
    "-r",
];
const BUN_UNBINDABLE_OPTIONS: &[&str] = &[
    "--bunfig",
    "--config",
    "--cwd",
    "--env-file",
    "--loader",
    "--preload",
    "--tsconfig-override",
    "-r",
];
const DENO_RUN_OPTIONS_WITH_VALUE: &[&str] = &[
    "--cached-only",
    "--cert",
    "--config",
    "--env-file",
    "--ext",
    "--harmony-import-attributes",
    "--import-map",
    "--inspect",
    "--inspect-brk",
    "--inspect-wait",
    "--location",
    "--log-level",
    "--lock",
    "--node-modules-dir",
    "--no-check",
    "--preload",
    "--reload",
    "--seed",
    "--strace-ops",
    "--unstable-bare-node-builtins",
    "--v8-flags",
    "--watch",
    "--watch-exclude",
    "-L",
];
const DENO_UNBINDABLE_OPTIONS: &[&str] = &[
    "--config",
    "--env-file",
    "--import-map",
    "--lock",
    "--node-modules-dir",
    "--preload",
];
/// Node options whose value is a file it loads.
const NODE_FILE_OPTIONS: &[&str] = &[
    "--env-file",
    "--env-file-if-exists",
    "-r",
    "--experimental-loader",
    "--import",
    "--loader",
    "--require",
];
/// Script runners whose operand is any existing file.
const GENERIC_SCRIPT_RUNNERS: &[&str] =
    &["esno", "jiti", "ts-node", "ts-node-esm", "tsx", "vite-node"];
/// Programs that interpret code (the reference's interpreter-like safe bins).
const INTERPRETER_LIKE: &[&str] = &[
    "ash",
    "awk",
    "bash",
    "busybox",
    "bun",
    "cmd",
    "cscript",
    "dash",
    "deno",
    "fish",
    "gawk",
    "gsed",
    "ksh",
    "lua",
    "mawk",
    "nawk",
    "node",
    "nodejs",
    "perl",
    "php",
    "powershell",
    "pypy",
    "pwsh",
    "python",
    "python2",
    "python3",
    "ruby",
    "sed",
    "sh",
    "toybox",
    "wscript",
    "zsh",
];
const PACKAGE_MANAGERS: &[&str] = &["corepack", "npm", "npx", "pnpm", "yarn"];

/// `name` followed by a version (`python3`, `python3.12`); `dots` allows more than one
/// dotted part.
fn versioned(exe: &str, name: &str, dots: bool) -> bool {
    let Some(version) = exe.strip_prefix(name) else {
        return false;
    };
    let mut parts = version.split('.');
    let major = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    !major.is_empty()
        && major.bytes().all(|b| b.is_ascii_digit())
        && (dots || rest.len() <= 1)
        && rest
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Interpreters whose first operand is the script (`node x`, `python3 x`).
fn takes_script_first(exe: &str) -> bool {
    ["node", "nodejs", "perl", "php", "ruby", "python"].contains(&exe)
        || versioned(exe, "python", true)
}

fn is_interpreter_like(exe: &str) -> bool {
    INTERPRETER_LIKE.contains(&exe)
        || ["python", "ruby", "perl", "php", "node"]
            .iter()
            .any(|n| versioned(exe, n, false))
}

fn is_script_runner(exe: &str) -> bool {
    GENERIC_SCRIPT_RUNNERS.contains(&exe)
        || OPAQUE_RUNNERS.contains(&exe)
        || is_interpreter_like(exe)
}

fn has_unbindable_runtime_option(argv: &[String], exe: &str) -> bool {
    let listed = |set: &[&str]| {
        argv[1..]
            .iter()
            .any(|t| set.contains(&option_key(t).as_str()))
    };
    match exe {
        "bun" => listed(BUN_UNBINDABLE_OPTIONS),
        "deno" => listed(DENO_UNBINDABLE_OPTIONS),
        "php" => argv[1..].iter().any(|t| {
            let t = t.trim().to_lowercase();
            t == "-c"
                || t.starts_with("-c=")
                || t == "--php-ini"
                || t.starts_with("--php-ini=")
                || t.starts_with("-d")
        }),
        _ => false,
    }
}

/// `ruby -I`, `-r`, `-C`, `-S` …: code or cwd from elsewhere.
fn ruby_unsafe(argv: &[String]) -> bool {
    for token in argv[1..].iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if token == "--" {
            return false;
        }
        if token == "-S"
            || token == "--chdir"
            || ["-C", "-I", "-r", "--chdir=", "--require="]
                .iter()
                .any(|p| token.starts_with(p))
            || ["-I", "-r", "--require"].contains(&token.to_lowercase().as_str())
        {
            return true;
        }
    }
    false
}

/// `perl -I`, `-M`, `-m`, `-S`.
fn perl_unsafe(argv: &[String]) -> bool {
    for token in argv[1..].iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if token == "--" {
            return false;
        }
        if token == "-S" || ["-I", "-M", "-m"].iter().any(|p| token.starts_with(p)) {
            return true;
        }
    }
    false
}

/// The first operand after options (`options_with_value` take the next word).
fn first_positional(argv: &[String], start: usize, options_with_value: &[&str]) -> Option<usize> {
    let mut after_dd = false;
    let mut i = start;
    while i < argv.len() {
        let token = word(argv, i);
        if token.is_empty() {
        } else if after_dd {
            return Some(i);
        } else if token == "--" {
            after_dd = true;
        } else if token == "-" {
            return None;
        } else if token.starts_with('-') {
            if !token.contains('=') && options_with_value.contains(&token) {
                i += 1;
            }
        } else {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// [`first_positional`], if it is an existing file.
fn first_file(argv: &[String], start: usize, cwd: &Path, with_value: &[&str]) -> Option<usize> {
    first_positional(argv, start, with_value).filter(|&i| is_existing_file(word(argv, i), cwd))
}

fn bun_script_index(argv: &[String], cwd: &Path) -> Option<usize> {
    let i = first_positional(argv, 1, BUN_OPTIONS_WITH_VALUE)?;
    let token = word(argv, i);
    if token == "run" {
        first_file(argv, i + 1, cwd, BUN_OPTIONS_WITH_VALUE)
    } else if BUN_SUBCOMMANDS.contains(&token) || !looks_like_path(token) {
        None
    } else {
        Some(i)
    }
}

fn deno_script_index(argv: &[String], cwd: &Path) -> Option<usize> {
    (word(argv, 1) == "run")
        .then(|| first_file(argv, 2, cwd, DENO_RUN_OPTIONS_WITH_VALUE))
        .flatten()
}

/// The one existing file among an interpreter's operands; none when there are several,
/// or when a file-loading option (`file_options`) names an existing file.
fn generic_script_index(argv: &[String], cwd: &Path, file_options: &[&str]) -> Option<usize> {
    let mut hits = Vec::new();
    let mut after_dd = false;
    for i in 1..argv.len() {
        let token = word(argv, i);
        if token.is_empty() {
            continue;
        }
        if after_dd {
            if is_existing_file(token, cwd) {
                hits.push(i);
            }
            continue;
        }
        if token == "--" {
            after_dd = true;
            continue;
        }
        if token == "-" {
            return None;
        }
        if token.starts_with('-') {
            if file_options.contains(&option_key(token).as_str()) {
                // An empty inline value (`--require=`) falls back to the next word.
                let loads_file = match token.split_once('=') {
                    Some((_, value)) if !value.is_empty() => is_existing_file(value, cwd),
                    _ => is_existing_file(word(argv, i + 1), cwd),
                };
                if loads_file {
                    return None;
                }
            }
            continue;
        }
        if is_existing_file(token, cwd) {
            hits.push(i);
        }
    }
    match hits[..] {
        [one] => Some(one),
        _ => None,
    }
}

/// `./tool` or `/abs/tool` that this process could change: the executable itself.
fn direct_executable_index(argv: &[String], cwd: &Path, host: &impl Host) -> Option<isize> {
    let inner = unwrap_for_operand(argv);
    let executable = word(&inner.argv, 0);
    if PACKAGE_MANAGERS.contains(&exe(executable).as_str())
        || !looks_like_explicit_path(executable)
        || !is_existing_file(executable, cwd)
    {
        return None;
    }
    path_looks_mutable(&resolve(cwd, executable), host).then_some(inner.base)
}

/// Where in `argv` the bound file is named.
fn operand_index(argv: &[String], cwd: &Path, host: &impl Host) -> Option<isize> {
    let inner = unwrap_for_operand(argv);
    let exe = exe(inner.argv.first().map(String::as_str).unwrap_or_default());
    if exe.is_empty() || inner.opaque || OPAQUE_RUNNERS.contains(&exe.as_str()) {
        return None;
    }
    let at = |i: usize| inner.base + i as isize;
    if POSIX_SHELLS.contains(&exe.as_str()) {
        if !PARSEABLE_SHELLS.contains(&exe.as_str()) {
            return None;
        }
        return shell_script_index(&inner.argv, &exe).map(at);
    }
    if takes_script_first(&exe) {
        let operand = word(&inner.argv, 1);
        if !operand.is_empty() && !operand.starts_with('-') {
            return Some(at(1));
        }
    }
    if exe == "bun"
        && let Some(i) = bun_script_index(&inner.argv, cwd)
    {
        return Some(at(i));
    }
    if exe == "deno"
        && let Some(i) = deno_script_index(&inner.argv, cwd)
    {
        return Some(at(i));
    }
    if (exe == "ruby" && ruby_unsafe(&inner.argv)) || (exe == "perl" && perl_unsafe(&inner.argv)) {
        return None;
    }
    if !is_script_runner(&exe) {
        return direct_executable_index(argv, cwd, host);
    }
    let file_options = if exe == "node" || exe == "nodejs" {
        NODE_FILE_OPTIONS
    } else {
        &[]
    };
    generic_script_index(&inner.argv, cwd, file_options).map(at)
}

/// No operand was found: whether that is because the command's shape cannot be bound
/// (an interpreter without a clear script, a shell payload that runs files …).
fn needs_stable_binding(
    argv: &[String],
    shell_payload: Option<&str>,
    cwd: &Path,
    host: &impl Host,
) -> bool {
    let inner = unwrap_for_operand(argv);
    if inner.opaque {
        return true;
    }
    if let Some(payload) = shell_payload {
        return payload_needs_stable_binding(payload, cwd, host);
    }
    if pnpm_dlx_fails_closed(argv, cwd, host) {
        return true;
    }
    let direct = word(&inner.argv, 0);
    if looks_like_explicit_path(direct) && !is_existing_file(direct, cwd) {
        return true;
    }
    let exe = exe(inner.argv.first().map(String::as_str).unwrap_or_default());
    !exe.is_empty() && !POSIX_SHELLS.contains(&exe.as_str()) && is_script_runner(&exe)
}

/// A shell payload that chains, redirects, sources or runs a file cannot be bound.
fn payload_needs_stable_binding(payload: &str, cwd: &Path, host: &impl Host) -> bool {
    if payload.contains([';', '&', '|', '<', '>']) {
        return true;
    }
    let Some(argv) = split_shell_words(payload).filter(|a| !a.is_empty()) else {
        return false;
    };
    if operand_index(&argv, cwd, host).is_some() || needs_stable_binding(&argv, None, cwd, host) {
        return true;
    }
    let first = word(&argv, 0);
    if first == "." || first == "source" {
        return true;
    }
    if !is_existing_file(first, cwd) {
        return false;
    }
    if !Path::new(first).is_absolute() {
        return true;
    }
    let path = resolve(cwd, first);
    path_looks_mutable(&path, host) || looks_like_script(&path)
}

// ---------------------------------------------------------------------------------------
// File-system heuristics.

/// The path, its directory, or a symlink on the way (before or after resolving) could
/// be changed by this process.
fn path_looks_mutable(path: &Path, host: &impl Host) -> bool {
    let exposed = |p: &Path| {
        host.can_modify(p)
            || p.parent().is_some_and(|d| host.can_modify(d))
            || has_mutable_symlink_component(p, host)
    };
    if exposed(path) {
        return true;
    }
    match fs::canonicalize(path) {
        Ok(real) => exposed(&real),
        Err(_) => true,
    }
}

/// A symlink among `/`, `/a`, `/a/b` … whose directory this process could change; an
/// unreadable component counts as one.
fn has_mutable_symlink_component(path: &Path, host: &impl Host) -> bool {
    path.ancestors()
        .any(|component| match fs::symlink_metadata(component) {
            Err(_) => true,
            Ok(m) => {
                m.file_type().is_symlink() && component.parent().is_some_and(|d| host.can_modify(d))
            }
        })
}

/// Not a known binary executable (ELF, Mach-O, fat, PE): a script, or unknown.
fn looks_like_script(path: &Path) -> bool {
    if !fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return true;
    }
    let mut header = Vec::with_capacity(1024);
    let read = fs::File::open(path).and_then(|f| f.take(1024).read_to_end(&mut header));
    if read.is_err() || header.is_empty() || header.starts_with(b"#!") {
        return true;
    }
    !is_binary_executable(&header)
}

fn is_binary_executable(h: &[u8]) -> bool {
    const MAGICS: [u32; 9] = [
        0x7F45_4C46, // ELF
        0xFEED_FACE,
        0xCEFA_EDFE,
        0xFEED_FACF,
        0xCFFA_EDFE, // Mach-O
        0xCAFE_BABE,
        0xBEBA_FECA,
        0xCAFE_BABF,
        0xBFBA_FECA, // fat
    ];
    let be32 = |at: usize| {
        h.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    if be32(0).is_some_and(|m| MAGICS.contains(&m)) {
        return true;
    }
    if h.len() < 64 || !h.starts_with(b"MZ") {
        return false;
    }
    let pe = u32::from_le_bytes([h[60], h[61], h[62], h[63]]) as usize;
    pe <= h.len() - 4 && be32(pe) == Some(0x5045_0000)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host with a fixed environment and a chosen "could this process change it".
    struct TestHost {
        env: &'static [(&'static str, &'static str)],
        can_modify: fn(&Path) -> bool,
    }

    impl Host for TestHost {
        fn env(&self, key: &str) -> Option<String> {
            self.env
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }

        fn can_modify(&self, path: &Path) -> bool {
            (self.can_modify)(path)
        }
    }

    /// The node's own predicate with an empty environment.
    const REAL: TestHost = TestHost {
        env: &[],
        can_modify: |p| ThisProcess.can_modify(p),
    };
    /// A process that can change nothing (an unprivileged user on system paths).
    const UNPRIVILEGED: TestHost = TestHost {
        env: &[],
        can_modify: |_| false,
    };

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    /// The files the table's commands name.
    fn fixture() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let cwd = fs::canonicalize(dir.path()).unwrap();
        for (name, body) in [
            ("s.sh", "echo hi\n"),
            ("script.py", "print(1)\n"),
            ("x.js", "x\n"),
            ("script.js", "console.log(1)\n"),
            ("a.ts", "x\n"),
            ("a.rb", "x\n"),
            ("a.php", "x\n"),
            ("a.pl", "x\n"),
        ] {
            fs::write(cwd.join(name), body).unwrap();
        }
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(cwd.join("s.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir(cwd.join("adir")).unwrap();
        (dir, cwd)
    }

    /// What the table expects.
    #[derive(Debug)]
    enum Want {
        /// No operand.
        Unbound,
        /// This argv index, naming this file of the fixture.
        At(usize, &'static str),
        /// Refused with this detail.
        Refused(&'static str),
    }

    const SHAPE: &str = "approval cannot safely bind this interpreter/runtime command";

    /// Every row was checked against the reference node host 2026.9.6
    /// (`resolveMutableFileOperandSnapshotSync` imported from its bundle and run as root
    /// on the same fixture, `BASH_ENV`/`ENV` unset).
    #[test]
    fn operands_match_the_reference() {
        use Want::*;
        let (_dir, cwd) = fixture();
        let rows: &[(&[&str], Option<&str>, Want)] = &[
            (&["sh", "s.sh"], None, At(1, "s.sh")),
            (&["bash", "-x", "s.sh"], None, At(2, "s.sh")),
            (&["bash", "s.sh", "arg"], None, At(1, "s.sh")),
            (&["bash", "--", "s.sh"], None, At(2, "s.sh")),
            (&["bash", "-o", "errexit", "s.sh"], None, At(3, "s.sh")),
            (&["bash", "+x", "s.sh"], None, At(2, "s.sh")),
            (&["bash", "-", "s.sh"], None, Unbound),
            (&["fish", "s.sh"], None, At(1, "s.sh")),
            (&["csh", "s.sh"], None, Unbound),
            (&["python3", "script.py"], None, At(1, "script.py")),
            (&["python3.12", "script.py"], None, At(1, "script.py")),
            (&["python3", "-u", "script.py"], None, At(2, "script.py")),
            (&["python3", "-m", "http.server"], None, Refused(SHAPE)),
            (&["python3", "-", "script.py"], None, Refused(SHAPE)),
            (&["python3"], None, Refused(SHAPE)),
            (&["node", "script.js"], None, At(1, "script.js")),
            (&["node22", "script.js"], None, At(1, "script.js")),
            (
                &["node", "--inspect", "script.js"],
                None,
                At(2, "script.js"),
            ),
            (
                &["node", "--require", "x.js", "script.js"],
                None,
                Refused(SHAPE),
            ),
            (&["node", "-e", "1"], None, Refused(SHAPE)),
            (&["ruby", "a.rb"], None, At(1, "a.rb")),
            (&["ruby", "-I", "lib", "a.rb"], None, Refused(SHAPE)),
            (&["perl", "a.pl"], None, At(1, "a.pl")),
            (&["perl", "-w", "a.pl"], None, At(2, "a.pl")),
            (&["perl", "-Mstrict", "a.pl"], None, Refused(SHAPE)),
            (&["php", "a.php"], None, At(1, "a.php")),
            (&["lua", "a.ts"], None, At(1, "a.ts")),
            (&["awk", "-f", "x.js"], None, At(2, "x.js")),
            (&["sed", "-f", "x.js", "a.ts"], None, Refused(SHAPE)),
            (&["tsx", "a.ts"], None, At(1, "a.ts")),
            (
                &["ts-node", "--require", "x.js", "a.ts"],
                None,
                Refused(SHAPE),
            ),
            (&["bun", "a.ts"], None, At(1, "a.ts")),
            (&["bun", "run", "a.ts"], None, At(2, "a.ts")),
            (&["bun", "install"], None, Refused(SHAPE)),
            (&["deno", "run", "a.ts"], None, At(2, "a.ts")),
            // Wrappers: unwrapped, the index shifted.
            (&["env", "FOO=1", "sh", "s.sh"], None, At(3, "s.sh")),
            (&["env", "sh", "s.sh"], None, At(2, "s.sh")),
            (
                &["timeout", "5", "python3", "script.py"],
                None,
                At(3, "script.py"),
            ),
            (&["nice", "-n", "5", "sh", "s.sh"], None, At(4, "s.sh")),
            (&["nohup", "sh", "s.sh"], None, At(2, "s.sh")),
            (&["time", "sh", "s.sh"], None, At(2, "s.sh")),
            (&["flock", "/tmp/l", "sh", "s.sh"], None, At(3, "s.sh")),
            (&["stdbuf", "-o0", "sh", "s.sh"], None, Unbound),
            (&["sudo", "sh", "s.sh"], None, Unbound),
            (&["npx", "tsx", "a.ts"], None, At(2, "a.ts")),
            (
                &["npm", "exec", "--", "node", "script.js"],
                None,
                At(4, "script.js"),
            ),
            (
                &["pnpm", "exec", "node", "script.js"],
                None,
                At(3, "script.js"),
            ),
            (&["pnpm", "node", "script.js"], None, At(2, "script.js")),
            (&["pnpm", "dlx", "tsx", "a.ts"], None, At(3, "a.ts")),
            (
                &["yarn", "exec", "node", "script.js"],
                None,
                At(3, "script.js"),
            ),
            // Opaque multiplexers.
            (&["busybox", "sh", "s.sh"], None, Refused(SHAPE)),
            (&["busybox", "ls"], None, Refused(SHAPE)),
            (&["toybox", "sh", "-c", "x"], Some("x"), Refused(SHAPE)),
            // Direct executables (the fixture is this process's own).
            (&["./s.sh"], None, At(0, "s.sh")),
            (&["s.sh"], None, Unbound),
            (&["git", "status"], None, Unbound),
            (&["./adir"], None, Refused(SHAPE)),
            (&["./missing"], None, Refused(SHAPE)),
            // Shell payloads.
            (&["sh", "-c", "echo hi"], Some("echo hi"), Unbound),
            (&["sh", "-lc", "echo hi"], Some("echo hi"), Unbound),
            (&["bash", "-c", "x", "s.sh"], Some("x"), Unbound),
            (
                &["sh", "-c", "echo hi; ls"],
                Some("echo hi; ls"),
                Refused(SHAPE),
            ),
            (&["sh", "-c", "cat <x"], Some("cat <x"), Refused(SHAPE)),
            (&["sh", "-c", "./s.sh"], Some("./s.sh"), Refused(SHAPE)),
            (&["sh", "-c", "s.sh"], Some("s.sh"), Refused(SHAPE)),
            (
                &["sh", "-c", "source s.sh"],
                Some("source s.sh"),
                Refused(SHAPE),
            ),
            (
                &["sh", "-c", "python3 script.py"],
                Some("python3 script.py"),
                Refused(SHAPE),
            ),
            (
                &["sh", "-c", "/usr/bin/echo hi"],
                Some("/usr/bin/echo hi"),
                Refused(SHAPE),
            ),
            // The other refusals.
            (
                &["sh", "-s"],
                None,
                Refused("approval cannot safely bind shell startup files"),
            ),
            (
                &["bash", "-i", "s.sh"],
                None,
                Refused("approval cannot safely bind shell startup files"),
            ),
            (
                &["bash", "--rcfile", "x.js", "s.sh"],
                None,
                Refused("approval cannot safely bind shell startup files"),
            ),
            (
                &["env", "-C", "/tmp", "sh", "s.sh"],
                None,
                Refused("approval cannot safely bind dispatch cwd options"),
            ),
            (
                &["env", "--chdir=/tmp", "sh", "s.sh"],
                None,
                Refused("approval cannot safely bind dispatch cwd options"),
            ),
            (
                &["bun", "--preload", "x.js", "a.ts"],
                None,
                Refused("approval cannot safely bind runtime code-loading or cwd options"),
            ),
            (
                &["deno", "run", "--config", "x", "a.ts"],
                None,
                Refused("approval cannot safely bind runtime code-loading or cwd options"),
            ),
            (
                &["php", "-d", "x=1", "a.php"],
                None,
                Refused("approval cannot safely bind runtime code-loading or cwd options"),
            ),
            // The snapshot's own refusals.
            (
                &["sh", "missing.sh"],
                None,
                Refused("approval requires an existing script operand"),
            ),
            (
                &["python3", "missing.py"],
                None,
                Refused("approval requires an existing script operand"),
            ),
            (
                &["env", "-S", "sh s.sh"],
                None,
                Refused("approval requires an existing script operand"),
            ),
            (
                &["sh", "adir"],
                None,
                Refused("approval requires a file script operand"),
            ),
        ];
        for (argv, payload, want) in rows {
            let got = mutable_file_operand(&v(argv), &cwd, *payload, &REAL);
            let ok = match (want, &got) {
                (Unbound, Ok(None)) => true,
                (At(i, file), Ok(Some(op))) => {
                    let path = cwd.join(file);
                    op.argv_index == *i
                        && op.path == path
                        && op.sha256 == sha256_file(&path).unwrap()
                }
                (Refused(detail), Err(r)) => r.detail == *detail,
                _ => false,
            };
            assert!(ok, "{argv:?} {payload:?}: want {want:?}, got {got:?}");
        }
    }

    #[test]
    fn the_hash_is_the_reference_sha256_of_the_contents() {
        let (_dir, cwd) = fixture();
        let op = mutable_file_operand(&v(&["sh", "s.sh"]), &cwd, None, &REAL)
            .unwrap()
            .unwrap();
        // The reference's sha256 of "echo hi\n".
        assert!(op.sha256.starts_with("ab08508fdf5c"), "{}", op.sha256);
        assert!(operand_unchanged(&op, &v(&["sh", "s.sh"]), &cwd));
        fs::write(cwd.join("s.sh"), "echo pwned\n").unwrap();
        assert!(!operand_unchanged(&op, &v(&["sh", "s.sh"]), &cwd));
    }

    #[test]
    fn an_executable_this_process_can_change_is_bound_and_a_system_one_otherwise_not() {
        let argv = v(&["/usr/bin/echo", "hi"]);
        let cwd = Path::new("/");
        // As root (here and in CI) /usr/bin/echo is writable, so the reference binds it:
        // `{argvIndex: 0, path: "/usr/bin/echo", sha256: <its hash>}`.
        let as_root = mutable_file_operand(&argv, cwd, None, &REAL).unwrap();
        if nix::unistd::getuid().is_root() {
            let op = as_root.expect("root can change /usr/bin/echo");
            assert_eq!(op.argv_index, 0);
            assert_eq!(op.path, fs::canonicalize("/usr/bin/echo").unwrap());
        }
        // A process that can change neither it, its directory nor a symlink on the way:
        // no operand, and no refusal either (a plain executable is not an interpreter).
        assert_eq!(
            mutable_file_operand(&argv, cwd, None, &UNPRIVILEGED),
            Ok(None)
        );
    }

    #[test]
    fn bash_env_in_the_node_environment_refuses_shells_only() {
        let (_dir, cwd) = fixture();
        let host = TestHost {
            env: &[("BASH_ENV", "/tmp/rc")],
            can_modify: |p| ThisProcess.can_modify(p),
        };
        let e = mutable_file_operand(&v(&["sh", "s.sh"]), &cwd, None, &host).unwrap_err();
        assert_eq!(
            e.message(),
            "SYSTEM_RUN_DENIED: approval cannot safely bind shell startup environment"
        );
        assert!(!e.unsupported_shape);
        let e = mutable_file_operand(&v(&["env", "ENV=/x", "sh", "s.sh"]), &cwd, None, &REAL);
        assert_eq!(
            e.unwrap_err().detail,
            "approval cannot safely bind shell startup environment"
        );
        assert!(mutable_file_operand(&v(&["python3", "script.py"]), &cwd, None, &host).is_ok());
    }

    #[test]
    fn ownership_counts_as_being_able_to_change() {
        let (_dir, cwd) = fixture();
        let file = cwd.join("a.ts");
        let me = nix::unistd::getuid().as_raw();
        assert!(owned_by_uid(&file, me));
        if nix::unistd::getuid().is_root() {
            std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
            assert!(!owned_by_uid(&file, me));
            assert!(owned_by_uid(&file, 65534));
        }
        assert!(!owned_by_uid(&cwd.join("missing"), me));
    }

    #[test]
    fn binary_headers_are_told_from_scripts() {
        let (_dir, cwd) = fixture();
        assert!(looks_like_script(&cwd.join("s.sh")));
        assert!(!looks_like_script(
            &fs::canonicalize("/usr/bin/echo").unwrap()
        ));
        let mut pe = vec![0u8; 128];
        pe[..2].copy_from_slice(b"MZ");
        pe[60] = 64;
        pe[64..68].copy_from_slice(b"PE\0\0");
        assert!(is_binary_executable(&pe));
        assert!(!is_binary_executable(b"#!/bin/sh\n"));
    }

    #[test]
    fn shell_words_split_like_the_reference() {
        assert_eq!(
            split_shell_words("a 'b c' \"d\\\"e\" f\\ g"),
            Some(v(&["a", "b c", "d\"e", "f g"]))
        );
        assert_eq!(
            split_shell_words("echo hi # note"),
            Some(v(&["echo", "hi"]))
        );
        assert_eq!(split_shell_words("'open"), None);
    }
}
