//! Running the node as a service: a systemd unit (user by default, system with
//! `--system`) or a launchd LaunchAgent on macOS, rendered from the templates in
//! `packaging/`. This module plans (pure: which files with which contents and modes, which
//! commands) and applies a plan; the `install`/`uninstall`/`start`/`stop`/`restart`
//! subcommands are thin wrappers.
//!
//! Secrets never go into a unit or plist: they go into an environment file created with
//! mode 0600 that the unit references (`EnvironmentFile=`) or the node reads
//! (`--env-file`, for launchd).

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use serde::Serialize;

use crate::credentials::write_secret_file;

/// The systemd unit name.
pub const UNIT_NAME: &str = "openclaw-node.service";
/// The launchd label.
pub const LAUNCHD_LABEL: &str = "ai.openclaw.node";
/// The dedicated account a system unit runs as.
pub const SYSTEM_USER: &str = "openclaw-node";
/// The first line of every file we write; files without it are someone else's.
pub const MANAGED_MARKER: &str = "Managed by openclaw-node";

const SYSTEMD_TEMPLATE: &str = include_str!("../../packaging/systemd/openclaw-node.service");
const LAUNCHD_TEMPLATE: &str = include_str!("../../packaging/launchd/ai.openclaw.node.plist");

/// Environment variables copied into the service's environment file at install time.
pub const SERVICE_ENV_KEYS: &[(&str, bool)] = &[
    ("OPENCLAW_GATEWAY_URL", false),
    ("OPENCLAW_GATEWAY_PORT", false),
    ("OPENCLAW_GATEWAY_TOKEN", true),
    ("OPENCLAW_GATEWAY_PASSWORD", true),
    ("OPENCLAW_ALLOW_INSECURE_PRIVATE_WS", false),
    ("OPENCLAW_NODE_HOME", false),
    ("RUST_LOG", false),
];

/// Which service manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Linux with systemd.
    Systemd,
    /// macOS launchd.
    Launchd,
}

impl Platform {
    /// The service manager of the machine this runs on.
    pub fn current() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::Launchd
        } else {
            Platform::Systemd
        }
    }
}

/// Per-user or system-wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The user's own service manager (default).
    User,
    /// The system service manager, running as a dedicated account.
    System,
}

/// What `install` needs to know.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// systemd or launchd.
    pub platform: Platform,
    /// User or system.
    pub scope: Scope,
    /// The `openclaw-node` binary the service runs.
    pub exec: PathBuf,
    /// The installing user's home directory.
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME`, if set.
    pub xdg_config_home: Option<PathBuf>,
    /// Extra arguments for `run` (e.g. `--state-dir`).
    pub run_args: Vec<String>,
    /// Environment (name, value, is-secret) for the environment file.
    pub env: Vec<(String, String, bool)>,
}

/// A file the plan writes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedFile {
    /// Where.
    pub path: PathBuf,
    /// Unix mode.
    pub mode: u32,
    /// Contents (secret values included; print with [`PlannedFile::display_contents`]).
    #[serde(skip)]
    pub contents: String,
    /// Contents with secrets masked, for `--dry-run` and `--json`.
    pub preview: String,
}

impl PlannedFile {
    /// The contents with secret values masked.
    pub fn display_contents(&self) -> &str {
        &self.preview
    }
}

/// Everything `install` would do.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallPlan {
    /// systemd or launchd.
    pub platform: Platform,
    /// User or system.
    pub scope: Scope,
    /// Files written, in order.
    pub files: Vec<PlannedFile>,
    /// Commands run afterwards.
    pub commands: Vec<Vec<String>>,
}

/// Paths of the files a service installation owns.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePaths {
    /// The unit or plist.
    pub unit: PathBuf,
    /// The 0600 environment file.
    pub env_file: PathBuf,
    /// launchd's log file.
    pub log_file: Option<PathBuf>,
}

/// Where the files go for this platform and scope.
pub fn paths(
    platform: Platform,
    scope: Scope,
    home: &Path,
    xdg_config_home: Option<&Path>,
) -> ServicePaths {
    let config = xdg_config_home
        .map(Path::to_path_buf)
        .unwrap_or_else(|| home.join(".config"));
    match (platform, scope) {
        (Platform::Systemd, Scope::User) => ServicePaths {
            unit: config.join("systemd/user").join(UNIT_NAME),
            env_file: config.join("openclaw-node/service.env"),
            log_file: None,
        },
        (Platform::Systemd, Scope::System) => ServicePaths {
            unit: PathBuf::from("/etc/systemd/system").join(UNIT_NAME),
            env_file: PathBuf::from("/etc/openclaw-node/service.env"),
            log_file: None,
        },
        (Platform::Launchd, _) => ServicePaths {
            unit: home
                .join("Library/LaunchAgents")
                .join(format!("{LAUNCHD_LABEL}.plist")),
            env_file: home.join("Library/Application Support/openclaw-node/service.env"),
            log_file: Some(home.join("Library/Logs/openclaw-node/node.log")),
        },
    }
}

/// Refuses a value with a control character: a newline would end the `ExecStart=` line
/// and start a directive of its own, and XML 1.0 cannot carry most of them at all.
fn printable(value: &str) -> Result<&str, ServiceError> {
    match value.chars().find(|c| c.is_control()) {
        None => Ok(value),
        Some(c) => Err(ServiceError::ControlCharacter {
            value: value.to_string(),
            char: format!("U+{:04X}", c as u32),
        }),
    }
}

/// Writes one word of a systemd `ExecStart=` line so that systemd reads back exactly
/// `arg` (systemd.syntax "Quoting", systemd.service "Command lines"): a word with
/// anything but plain characters goes in double quotes with `\` and `"` escaped; `%` is
/// written `%%` (else a specifier) and, in the arguments, `$` is written `$$` (else a
/// variable; systemd does not expand variables in the executable's path, so there `$`
/// stays as it is). Control characters are refused.
fn systemd_word(arg: &str, executable: bool) -> Result<String, ServiceError> {
    let arg = printable(arg)?;
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:@+,".contains(c))
    {
        return Ok(arg.to_string());
    }
    let mut out = String::from("\"");
    for c in arg.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' if !executable => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// Escapes text for an XML string; control characters are refused.
fn xml_escape(text: &str) -> Result<String, ServiceError> {
    Ok(printable(text)?
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;"))
}

/// Renders the environment file; returns (contents, masked preview).
fn render_env(env: &[(String, String, bool)]) -> (String, String) {
    let header = "# Managed by openclaw-node: environment for the node service (mode 0600).\n";
    let mut contents = header.to_string();
    let mut preview = header.to_string();
    for (key, value, secret) in env {
        let line = format!("{key}={}\n", value.replace('\n', ""));
        contents.push_str(&line);
        if *secret {
            preview.push_str(&format!("{key}=[redacted]\n"));
        } else {
            preview.push_str(&line);
        }
    }
    (contents, preview)
}

/// Plans an installation (pure: reads nothing, writes nothing). A path or argument with a
/// control character is refused ([`ServiceError::ControlCharacter`]).
pub fn plan_install(opts: &InstallOptions) -> Result<InstallPlan, ServiceError> {
    let p = paths(
        opts.platform,
        opts.scope,
        &opts.home,
        opts.xdg_config_home.as_deref(),
    );
    let (env_contents, env_preview) = render_env(&opts.env);
    let env_file = PlannedFile {
        path: p.env_file.clone(),
        mode: 0o600,
        contents: env_contents,
        preview: env_preview,
    };
    let exec = opts.exec.display().to_string();
    match opts.platform {
        Platform::Systemd => {
            let mut argv = vec![exec, "run".to_string()];
            argv.extend(opts.run_args.iter().cloned());
            let exec_start = argv
                .iter()
                .enumerate()
                .map(|(i, a)| systemd_word(a, i == 0))
                .collect::<Result<Vec<_>, _>>()?
                .join(" ");
            // `EnvironmentFile=` takes one path, with specifiers.
            let env_path = printable(&p.env_file.display().to_string())?.replace('%', "%%");
            let (extra, wanted_by, systemctl) = match opts.scope {
                Scope::User => (String::new(), "default.target", vec!["systemctl", "--user"]),
                Scope::System => (
                    format!(
                        "User={SYSTEM_USER}\nGroup={SYSTEM_USER}\nStateDirectory=openclaw-node\nEnvironment=OPENCLAW_NODE_HOME=/var/lib/openclaw-node\n"
                    ),
                    "multi-user.target",
                    vec!["systemctl"],
                ),
            };
            let unit = SYSTEMD_TEMPLATE
                .replace("{{exec_start}}", &exec_start)
                .replace("{{env_file}}", &env_path)
                .replace("{{service_extra}}", &extra)
                .replace("{{wanted_by}}", wanted_by);
            let cmd = |args: &[&str]| -> Vec<String> {
                systemctl
                    .iter()
                    .chain(args.iter())
                    .map(|s| s.to_string())
                    .collect()
            };
            Ok(InstallPlan {
                platform: opts.platform,
                scope: opts.scope,
                files: vec![
                    env_file,
                    PlannedFile {
                        path: p.unit,
                        mode: 0o644,
                        preview: unit.clone(),
                        contents: unit,
                    },
                ],
                commands: vec![cmd(&["daemon-reload"]), cmd(&["enable", UNIT_NAME])],
            })
        }
        Platform::Launchd => {
            let log = p
                .log_file
                .clone()
                .unwrap_or_else(|| PathBuf::from("/tmp/openclaw-node.log"));
            let mut argv = vec![
                exec,
                "run".to_string(),
                "--env-file".to_string(),
                p.env_file.display().to_string(),
            ];
            argv.extend(opts.run_args.iter().cloned());
            let program_arguments = argv
                .iter()
                .map(|a| Ok(format!("    <string>{}</string>", xml_escape(a)?)))
                .collect::<Result<Vec<_>, ServiceError>>()?
                .join("\n");
            let plist = LAUNCHD_TEMPLATE
                .replace("{{label}}", LAUNCHD_LABEL)
                .replace("{{program_arguments}}", &program_arguments)
                .replace("{{log_file}}", &xml_escape(&log.display().to_string())?);
            Ok(InstallPlan {
                platform: opts.platform,
                scope: opts.scope,
                files: vec![
                    env_file,
                    PlannedFile {
                        path: p.unit.clone(),
                        mode: 0o644,
                        preview: plist.clone(),
                        contents: plist,
                    },
                ],
                commands: vec![vec![
                    "launchctl".into(),
                    "bootstrap".into(),
                    "gui/$UID".into(),
                    p.unit.display().to_string(),
                ]],
            })
        }
    }
}

/// Why a plan could not be made or applied.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A path or argument holds a character a service file cannot carry as data.
    #[error(
        "cannot write {value:?} into the service file: it contains the control character {char}"
    )]
    ControlCharacter {
        /// The value, escaped.
        value: String,
        /// The first control character, as `U+XXXX`.
        char: String,
    },
    /// A file exists that we did not write.
    #[error(
        "{path} exists and was not written by openclaw-node; refusing to overwrite it (use --force to replace it)"
    )]
    Foreign {
        /// The file.
        path: String,
    },
    /// Writing failed.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A service-manager command failed.
    #[error("`{command}` failed: {reason}")]
    Command {
        /// The command line.
        command: String,
        /// Why.
        reason: String,
    },
}

/// Whether `path` holds a file we did not write.
pub fn is_foreign(path: &Path) -> bool {
    match std::fs::read_to_string(path) {
        Ok(text) => !text.contains(MANAGED_MARKER),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// Writes the plan's files (refusing foreign ones unless `force`).
pub fn write_files(plan: &InstallPlan, force: bool) -> Result<(), ServiceError> {
    if !force && let Some(f) = plan.files.iter().find(|f| is_foreign(&f.path)) {
        return Err(ServiceError::Foreign {
            path: f.path.display().to_string(),
        });
    }
    for f in &plan.files {
        let result = if f.mode == 0o600 {
            write_secret_file(&f.path, f.contents.as_bytes())
        } else {
            write_public_file(&f.path, f.contents.as_bytes(), f.mode)
        };
        result.map_err(|e| ServiceError::Write {
            path: f.path.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

fn write_public_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    write_secret_file(path, bytes)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Runs one command, substituting `$UID`; returns its trimmed stdout.
pub fn run_command(argv: &[String]) -> Result<String, ServiceError> {
    let uid = current_uid();
    let argv: Vec<String> = argv.iter().map(|a| a.replace("$UID", &uid)).collect();
    let line = argv.join(" ");
    let out = Process::new(&argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| ServiceError::Command {
            command: line.clone(),
            reason: e.to_string(),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(ServiceError::Command {
            command: line,
            reason: if stderr.is_empty() {
                format!("exit status {}", out.status)
            } else {
                stderr
            },
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The current user's numeric id (via `id -u`; no unsafe code needed).
pub fn current_uid() -> String {
    Process::new("id")
        .arg("-u")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "0".into())
}

/// Whether systemd is the running init (else `systemctl` cannot manage anything here).
pub fn systemd_running() -> bool {
    Path::new("/run/systemd/system").exists()
}

/// Linger state of a user (`Some(true)` = services survive logout).
pub fn linger_enabled(user: &str) -> Option<bool> {
    let out = Process::new("loginctl")
        .args(["show-user", user, "--property=Linger", "--value"])
        .output()
        .ok()?;
    match String::from_utf8_lossy(&out.stdout).trim() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// The service-manager command for a lifecycle action.
pub fn lifecycle_command(platform: Platform, scope: Scope, action: &str) -> Vec<String> {
    match platform {
        Platform::Systemd => {
            let mut v = vec!["systemctl".to_string()];
            if scope == Scope::User {
                v.push("--user".into());
            }
            v.push(action.into());
            v.push(UNIT_NAME.into());
            v
        }
        Platform::Launchd => {
            let target = format!("gui/$UID/{LAUNCHD_LABEL}");
            match action {
                "start" => vec!["launchctl".into(), "kickstart".into(), target],
                "restart" => vec!["launchctl".into(), "kickstart".into(), "-k".into(), target],
                // A stop that launchd will not undo: unload the job.
                _ => vec!["launchctl".into(), "bootout".into(), target],
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(platform: Platform, scope: Scope) -> InstallOptions {
        InstallOptions {
            platform,
            scope,
            exec: PathBuf::from("/opt/open claw/openclaw-node"),
            home: PathBuf::from("/home/ada"),
            xdg_config_home: None,
            run_args: vec![],
            env: vec![
                (
                    "OPENCLAW_GATEWAY_URL".into(),
                    "wss://gw.example".into(),
                    false,
                ),
                ("OPENCLAW_GATEWAY_TOKEN".into(), "tok-secret".into(), true),
            ],
        }
    }

    #[test]
    fn systemd_user_unit() {
        let plan = plan_install(&opts(Platform::Systemd, Scope::User)).unwrap();
        let unit = &plan.files[1];
        assert_eq!(
            unit.path,
            PathBuf::from("/home/ada/.config/systemd/user/openclaw-node.service")
        );
        let text = &unit.contents;
        assert!(
            text.contains("ExecStart=\"/opt/open claw/openclaw-node\" run\n"),
            "{text}"
        );
        assert!(text.contains("EnvironmentFile=-/home/ada/.config/openclaw-node/service.env"));
        assert!(text.contains("Restart=on-failure"));
        assert!(text.contains("\nRestartPreventExitStatus=78 2\n"), "{text}");
        assert!(text.contains("After=network-online.target"));
        assert!(text.contains("WantedBy=default.target"));
        assert!(!text.contains("User="));
        assert!(!text.contains("tok-secret"));
        assert!(!text.contains("{{"));
        assert_eq!(
            plan.commands,
            vec![
                vec!["systemctl", "--user", "daemon-reload"],
                vec!["systemctl", "--user", "enable", UNIT_NAME]
            ]
        );
    }

    #[test]
    fn systemd_system_unit_runs_as_dedicated_user() {
        let plan = plan_install(&opts(Platform::Systemd, Scope::System)).unwrap();
        let text = &plan.files[1].contents;
        assert_eq!(
            plan.files[1].path,
            PathBuf::from("/etc/systemd/system/openclaw-node.service")
        );
        assert!(text.contains("User=openclaw-node\nGroup=openclaw-node\n"));
        assert!(text.contains("StateDirectory=openclaw-node"));
        assert!(text.contains("WantedBy=multi-user.target"));
        assert!(text.contains("EnvironmentFile=-/etc/openclaw-node/service.env"));
        assert_eq!(plan.commands[0], vec!["systemctl", "daemon-reload"]);
    }

    #[test]
    fn env_file_is_0600_and_masked_in_previews() {
        let plan = plan_install(&opts(Platform::Systemd, Scope::User)).unwrap();
        let env = &plan.files[0];
        assert_eq!(env.mode, 0o600);
        assert!(env.contents.contains("OPENCLAW_GATEWAY_TOKEN=tok-secret"));
        assert!(
            env.display_contents()
                .contains("OPENCLAW_GATEWAY_TOKEN=[redacted]")
        );
        assert!(!env.display_contents().contains("tok-secret"));
        let json = serde_json::to_string(&plan).unwrap();
        assert!(!json.contains("tok-secret"), "{json}");
    }

    #[test]
    fn launchd_plist() {
        let plan = plan_install(&opts(Platform::Launchd, Scope::User)).unwrap();
        let plist = &plan.files[1];
        assert_eq!(
            plist.path,
            PathBuf::from("/home/ada/Library/LaunchAgents/ai.openclaw.node.plist")
        );
        let text = &plist.contents;
        assert!(text.contains("<key>RunAtLoad</key>\n  <true/>"));
        assert!(text.contains("<key>SuccessfulExit</key>\n    <false/>"));
        assert!(text.contains("<string>/opt/open claw/openclaw-node</string>"));
        assert!(text.contains("<string>--env-file</string>"));
        assert!(text.contains("/home/ada/Library/Logs/openclaw-node/node.log"));
        assert!(!text.contains("tok-secret"));
        assert!(!text.contains("{{"));
    }

    #[test]
    fn foreign_files_are_refused_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts(Platform::Systemd, Scope::User);
        o.home = dir.path().to_path_buf();
        let plan = plan_install(&o).unwrap();
        std::fs::create_dir_all(plan.files[1].path.parent().unwrap()).unwrap();
        std::fs::write(&plan.files[1].path, "[Unit]\nDescription=someone else's\n").unwrap();
        let err = write_files(&plan, false).unwrap_err();
        assert!(matches!(err, ServiceError::Foreign { .. }), "{err}");
        write_files(&plan, true).unwrap();
        // Ours now: a second install needs no --force.
        write_files(&plan, false).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&plan.files[0].path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(&plan.files[1].path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    /// Writes `plan`'s unit into `dir` and returns what `systemd-analyze verify` printed on
    /// stderr.
    fn verify_unit(dir: &std::path::Path, plan: &InstallPlan) -> String {
        let unit = dir.join(UNIT_NAME);
        std::fs::write(&unit, &plan.files[1].contents).unwrap();
        let out = Process::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&unit)
            .output()
            .unwrap_or_else(|e| panic!("systemd-analyze is needed ({e}): run scripts/test"));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    #[test]
    #[ignore = "needs systemd-analyze: scripts/test"]
    fn rendered_unit_passes_systemd_analyze_verify() {
        if let Err(e) = Process::new("systemd-analyze").arg("--version").output() {
            panic!("systemd-analyze is needed ({e}): run scripts/test, which installs systemd");
        }
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts(Platform::Systemd, Scope::System);
        o.exec = PathBuf::from("/bin/true");
        let stderr = verify_unit(dir.path(), &plan_install(&o).unwrap());
        // Offline (no running systemd) verify still parses the unit; only problems with
        // the unit itself fail the test.
        let bad: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains(UNIT_NAME) && !l.contains("User=") && !l.contains("Failed to"))
            .collect();
        assert!(bad.is_empty(), "systemd-analyze verify: {stderr}");
    }

    /// A display name and a state directory that systemd would otherwise expand
    /// (`$HOME`, `${USER}`, `%h`), with quotes, a backslash and a lone `;` (issue 17).
    fn hostile_run_args() -> Vec<String> {
        [
            "--state-dir",
            "/srv/$USER/%i/state dir",
            "--display-name",
            "$HOME %h \"quoted\" 'single' back\\slash ${USER} $$ %% ;",
            ";",
            "$PATH",
        ]
        .map(String::from)
        .to_vec()
    }

    /// Splits an `ExecStart=` value into argv the way systemd does (systemd.syntax
    /// "Quoting", systemd.service "Command lines"): whitespace-separated words, double or
    /// single quotes, C escapes; then in every word `%%` is `%` (any other `%x` is a
    /// specifier systemd would expand), and in every word but the executable `$$` is `$`
    /// (any other `$` starts a variable systemd would expand). What systemd would expand
    /// is an error here.
    fn systemd_argv(line: &str) -> Result<Vec<String>, String> {
        let mut words = Vec::new();
        let mut chars = line.chars().peekable();
        loop {
            while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
            if chars.peek().is_none() {
                break;
            }
            let mut word = String::new();
            let mut quote = None;
            while let Some(c) = chars.next() {
                match (c, quote) {
                    ('"' | '\'', None) => quote = Some(c),
                    (q, Some(open)) if q == open => quote = None,
                    (' ' | '\t', None) => break,
                    ('\\', _) => match chars.next() {
                        Some('n') => word.push('\n'),
                        Some('t') => word.push('\t'),
                        Some(e @ ('\\' | '"' | '\'' | ' ')) => word.push(e),
                        other => return Err(format!("unknown escape \\{other:?} in {line}")),
                    },
                    (c, _) => word.push(c),
                }
            }
            if quote.is_some() {
                return Err(format!("unterminated quote in {line}"));
            }
            words.push(word);
        }
        words
            .into_iter()
            .enumerate()
            .map(|(i, word)| {
                let mut out = String::new();
                let mut chars = word.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '%' => match chars.next() {
                            Some('%') => out.push('%'),
                            other => return Err(format!("specifier %{other:?} in {word:?}")),
                        },
                        '$' if i > 0 => match chars.next() {
                            Some('$') => out.push('$'),
                            other => return Err(format!("variable ${other:?} in {word:?}")),
                        },
                        c => out.push(c),
                    }
                }
                Ok(out)
            })
            .collect()
    }

    fn exec_start(unit: &str) -> &str {
        unit.lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap_or_else(|| panic!("no ExecStart= in {unit}"))
    }

    #[test]
    fn exec_start_arguments_reach_the_node_verbatim() {
        let mut o = opts(Platform::Systemd, Scope::User);
        o.exec = PathBuf::from("/opt/open claw/$bin/100%/openclaw-node");
        o.run_args = hostile_run_args();
        let plan = plan_install(&o).unwrap();
        let line = exec_start(&plan.files[1].contents);
        let mut want = vec![o.exec.display().to_string(), "run".into()];
        want.extend(hostile_run_args());
        assert_eq!(systemd_argv(line), Ok(want), "ExecStart={line}");
    }

    #[test]
    fn a_newline_or_control_character_in_an_argument_is_refused() {
        for bad in ["x\nExecStartPre=/bin/sh -c id", "x\ry", "x\u{7}y", "x\0y"] {
            let mut o = opts(Platform::Systemd, Scope::User);
            o.run_args = vec!["--display-name".into(), bad.into()];
            let err = plan_install(&o).unwrap_err();
            assert!(
                matches!(err, ServiceError::ControlCharacter { .. }),
                "{bad:?}: {err}"
            );
            assert!(err.to_string().contains("control character U+00"), "{err}");
            let mut o = opts(Platform::Launchd, Scope::User);
            o.run_args = vec!["--display-name".into(), bad.into()];
            assert!(plan_install(&o).is_err(), "{bad:?} reached the plist");
        }
        // A state path too (the env file's path lands in `EnvironmentFile=`).
        let mut o = opts(Platform::Systemd, Scope::User);
        o.home = PathBuf::from("/home/ada\nExecStartPre=/bin/id");
        assert!(plan_install(&o).is_err());
    }

    #[test]
    #[ignore = "needs systemd-analyze: scripts/test"]
    fn a_unit_with_hostile_arguments_passes_systemd_analyze_verify() {
        let dir = tempfile::tempdir().unwrap();
        // The executable must exist for verify; its path goes through specifiers only.
        let exec = dir.path().join("100%-node");
        std::fs::copy("/bin/true", &exec).unwrap();
        let mut o = opts(Platform::Systemd, Scope::User);
        o.exec = exec.clone();
        o.run_args = hostile_run_args();
        let stderr = verify_unit(dir.path(), &plan_install(&o).unwrap());
        let bad: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains(UNIT_NAME) && !l.contains("Failed to"))
            .collect();
        assert!(bad.is_empty(), "systemd-analyze verify: {stderr}");

        // A missing executable makes verify print argv[0] as systemd resolved it.
        let missing = dir.path().join("100% $HOME-node");
        o.exec = missing.clone();
        let stderr = verify_unit(dir.path(), &plan_install(&o).unwrap());
        assert!(
            stderr.contains(&format!("Command {} is not executable", missing.display())),
            "systemd-analyze verify: {stderr}"
        );
    }

    #[test]
    #[ignore = "needs python3 (plistlib): scripts/test"]
    fn plist_program_arguments_parse_back_verbatim() {
        let mut o = opts(Platform::Launchd, Scope::User);
        o.exec = PathBuf::from("/opt/a&b/<node>");
        o.run_args = hostile_run_args();
        o.run_args.push("]]> &amp; </string>".into());
        let plan = plan_install(&o).unwrap();
        let mut child = Process::new("python3")
            .args([
                "-c",
                "import json, plistlib, sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())['ProgramArguments']))",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 is needed ({e}): run scripts/test"));
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(plan.files[1].contents.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", plan.files[1].contents);
        let argv: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
        let mut want = vec![
            o.exec.display().to_string(),
            "run".into(),
            "--env-file".into(),
            "/home/ada/Library/Application Support/openclaw-node/service.env".into(),
        ];
        want.extend(o.run_args.clone());
        assert_eq!(argv, want);
    }

    #[test]
    fn lifecycle_commands() {
        assert_eq!(
            lifecycle_command(Platform::Systemd, Scope::User, "restart"),
            vec!["systemctl", "--user", "restart", UNIT_NAME]
        );
        assert_eq!(
            lifecycle_command(Platform::Launchd, Scope::User, "stop"),
            vec!["launchctl", "bootout", "gui/$UID/ai.openclaw.node"]
        );
    }
}
