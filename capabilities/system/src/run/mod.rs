//! `system.run`, `system.run.prepare`, `system.execApprovals.get` and `.set` (spec
//! commands.md §3, §4, §6). `system.run` validates, sanitises the environment, asks the
//! exec-approvals policy, runs the command (`pipes`, or `pty` on request), emits
//! `exec.finished` or `exec.denied`, and returns the reference result shape.
//!
//! The two backends sit side by side and share everything but their I/O: a [`spec::Spec`]
//! in and an [`spec::Outcome`] out, the capped `capture`, the process `tree` with its
//! kill and drop guard, and the wait/deadline/cancel/heartbeat loop in `supervise`.
//! Neither imports the other; this module picks one ([`execute`]).

mod capture;
pub mod cwd;
mod orphans;
mod pipes;
mod pty;
pub mod spec;
mod supervise;
mod tree;

pub use orphans::adopt_orphans;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use openclaw_capability_api::{CallContext, CapabilityError, Command, Denial, js};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::approvals::analysis::{Analysis, analyze};
use crate::approvals::doc::{AllowEntry, ApprovalsDoc, ApprovalsStore, Ask, Security, new_id};
use crate::approvals::operand::{
    FileOperand, ThisProcess, mutable_file_operand, operand_unchanged,
};
use crate::approvals::policy::{Decision, RunFacts, cwd_argv_hash, evaluate, resolve_policy};
use crate::env::{build_env, check_assignments, check_overrides};

/// The agent of a call that names none. The reference looks its policy up under
/// `default`, a key that loading merges into `main`, so such a call gets the defaults and
/// the `*` entries only.
const NO_AGENT: &str = "default";

/// Settings of the execution path.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The PATH commands resolve and run with.
    pub path_env: String,
    /// Where `exec-approvals.json` lives.
    pub state_dir: PathBuf,
    /// The node's own policy before the approvals document tightens it.
    pub security: Security,
    /// The node's own ask mode.
    pub ask: Ask,
    /// Refuse inline programs (`python -c` …) without explicit approval.
    pub strict_inline_eval: bool,
    /// Always use a PTY.
    pub force_pty: bool,
    /// Output cap in bytes.
    pub output_cap: usize,
    /// Heartbeat progress interval.
    pub heartbeat: Duration,
    /// SIGTERM → SIGKILL grace.
    pub kill_grace: Duration,
    /// What a `node://` `cwd` names (none: every `cwd` passes through).
    pub cwd_locators: cwd::CwdLocators,
}

impl RunConfig {
    /// Safe defaults: allowlist with an empty allowlist (nothing runs until the owner
    /// allows it), on-miss asking resolved by `askFallback=deny`.
    pub fn new(path_env: String, state_dir: PathBuf) -> Self {
        Self {
            path_env,
            state_dir,
            security: Security::Allowlist,
            ask: Ask::OnMiss,
            strict_inline_eval: false,
            force_pty: false,
            output_cap: spec::OUTPUT_CAP,
            heartbeat: Duration::from_secs(5),
            kill_grace: Duration::from_secs(2),
            cwd_locators: cwd::CwdLocators::default(),
        }
    }

    fn store(&self) -> ApprovalsStore {
        ApprovalsStore::in_state_dir(&self.state_dir)
    }
}

/// `system.run` params, read as the reference node host reads them ([`RunParams::from_value`]).
#[derive(Debug, Default)]
pub struct RunParams {
    /// argv.
    pub command: Option<Vec<String>>,
    /// Display text; must match `command`.
    pub raw_command: Option<String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Environment overrides.
    pub env: Option<BTreeMap<String, String>>,
    /// Kill after this many ms (0/absent = no timeout).
    pub timeout_ms: Option<u64>,
    /// Run on a pseudo-terminal.
    pub pty: Option<bool>,
    /// Needs screen recording (macOS app only).
    pub needs_screen_recording: Option<bool>,
    /// Agent whose approvals apply.
    pub agent_id: Option<String>,
    /// Event correlation.
    pub session_key: Option<String>,
    /// Event correlation.
    pub run_id: Option<String>,
    /// Set by the gateway from a real approval.
    pub approved: Option<bool>,
    /// `allow-once` / `allow-always`.
    pub approval_decision: Option<String>,
    /// `ask-fallback` / `auto-review`.
    pub approval_source: Option<String>,
    /// The plan from `system.run.prepare`.
    pub system_run_plan: Option<Value>,
    /// Copied into events.
    pub suppress_notify_on_exit: Option<bool>,
}

/// A non-empty array's items as `String(item)` (the reference's argv coercion); `None`
/// for anything else.
fn js_argv(value: Option<&Value>) -> Option<Vec<String>> {
    let items = value?.as_array().filter(|a| !a.is_empty())?;
    Some(items.iter().map(js::to_string).collect())
}

/// `rawCommand`: a string that is not blank, trimmed.
fn js_raw_command(value: Option<&Value>) -> Option<String> {
    js::optional_string(value)
}

impl RunParams {
    /// Reads params the way the reference node host does: wrong types are ignored or
    /// coerced rather than refused (`[1]` is the argv `["1"]`, a numeric `cwd` is no cwd,
    /// an `env` that is not an object contributes its entries' indexes as keys, which the
    /// override check then refuses).
    pub fn from_value(v: &Value) -> Self {
        let get = |k: &str| v.get(k);
        let flag = |k: &str| get(k).and_then(Value::as_bool);
        Self {
            command: js_argv(get("command")),
            raw_command: js_raw_command(get("rawCommand")),
            cwd: js::optional_string(get("cwd")),
            env: get("env").filter(|e| !e.is_null()).map(|e| {
                js::entries(e)
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, v.as_str()?.to_string())))
                    .collect()
            }),
            timeout_ms: get("timeoutMs")
                .and_then(Value::as_f64)
                .filter(|t| *t > 0.0 && t.is_finite())
                .map(|t| t.min(u64::MAX as f64) as u64),
            pty: flag("pty"),
            needs_screen_recording: flag("needsScreenRecording"),
            agent_id: js::optional_string(get("agentId")),
            session_key: js::optional_string(get("sessionKey")),
            run_id: js::optional_string(get("runId")),
            approved: flag("approved"),
            approval_decision: get("approvalDecision")
                .and_then(Value::as_str)
                .filter(|d| matches!(*d, "allow-once" | "allow-always"))
                .map(str::to_string),
            approval_source: get("approvalSource")
                .filter(|s| !s.is_null())
                .map(js::to_string),
            system_run_plan: get("systemRunPlan").cloned(),
            suppress_notify_on_exit: flag("suppressNotifyOnExit"),
        }
    }
}

impl<'de> Deserialize<'de> for RunParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_value(&Value::deserialize(d)?))
    }
}

/// Whether a `systemRunPlan` has the shape the reference accepts (its
/// `normalizeSystemRunApprovalPlan`): an object with a non-empty argv, a command text, and
/// a well-formed file operand and policy snapshot when present.
fn plan_is_valid(plan: &Value) -> bool {
    let Some(p) = plan.as_object() else {
        return false;
    };
    let text = |k: &str| {
        p.get(k)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty())
    };
    let argv_ok = p.get("argv").and_then(Value::as_array).is_some_and(|a| {
        a.iter()
            .any(|x| x.as_str().is_some_and(|s| !s.trim().is_empty()))
    });
    let operand_ok = match p.get("mutableFileOperand") {
        None => true,
        Some(o) => {
            o.get("argvIndex").and_then(Value::as_u64).is_some()
                && o.get("path")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.trim().is_empty())
                && o.get("sha256")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.trim().is_empty())
        }
    };
    let snapshot_ok = p.get("policySnapshot").is_none_or(Value::is_object);
    argv_ok && (text("commandText") || text("rawCommand")) && operand_ok && snapshot_ok
}

/// `system.run` result (reference shape; `pty` and `durationMs` are additions).
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    /// Exit code; omitted when killed by a signal or never started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The timeout fired.
    pub timed_out: bool,
    /// exit 0, no timeout, no spawn error.
    pub success: bool,
    /// Captured stdout (the transcript in PTY mode).
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
    /// Spawn error, else null.
    pub error: Option<String>,
    /// Ran on a pseudo-terminal.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pty: bool,
    /// Wall time.
    pub duration_ms: u64,
}

/// Canonical command text: words joined by spaces, empty or spaced words quoted.
pub(crate) fn command_text(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty() {
                "\"\"".to_string()
            } else if a.chars().any(|c| c.is_whitespace() || c == '"') {
                format!("\"{}\"", a.replace('"', "\\\""))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn invalid(m: impl Into<String>) -> CapabilityError {
    CapabilityError::invalid_request(m)
}

/// The checks of run and prepare that need no file system: an argv whose first word is not
/// blank, and a `rawCommand` that matches it (its canonical text or its shell payload).
/// Returns the argv and its analysis.
pub(crate) fn validate_command(
    command: Option<Vec<String>>,
    raw: Option<&str>,
) -> Result<(Vec<String>, Analysis), CapabilityError> {
    let argv = match command {
        Some(c) if !c.is_empty() => c,
        _ if raw.is_some() => return Err(invalid("rawCommand requires params.command")),
        _ => return Err(invalid("command required")),
    };
    let analysis = analyze(&argv);
    if let Some(raw) = raw {
        let canonical = command_text(&argv);
        if raw.trim() != canonical && Some(raw) != analysis.payload.as_deref() {
            return Err(invalid(
                "INVALID_REQUEST: rawCommand does not match command",
            ));
        }
    }
    Ok((argv, analysis))
}

/// Where a command runs: the canonical directory when `cwd` names one, else the path as
/// given (the spawn then fails and [`launch_failure`] says why, as the reference does);
/// the node's own directory when there is no `cwd`.
fn work_dir(cwd: Option<&str>) -> PathBuf {
    match cwd {
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        Some(c) => match std::fs::canonicalize(c) {
            Ok(p) if p.is_dir() => p,
            _ => PathBuf::from(c),
        },
    }
}

/// The result text of a command that could not be started: the reference's sentence with
/// the error's name, and for a working directory that is missing or not a directory, the
/// sentence that says so.
fn launch_failure(error: &str, cwd: Option<&str>) -> String {
    let Some(c) = cwd else {
        return error.to_string();
    };
    let reason = match std::fs::metadata(c) {
        Ok(m) if m.is_dir() => return error.to_string(),
        Ok(_) => "is not a directory",
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => "is not a directory",
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist",
        Err(_) => return error.to_string(),
    };
    format!("node exec working directory {reason} on the node host: {c} (os reported: {error})")
}

/// Validation shared by run and prepare: argv and rawCommand ([`validate_command`]), then
/// the working directory ([`work_dir`]).
fn validate(
    command: Option<Vec<String>>,
    raw: Option<&str>,
    cwd: Option<&str>,
) -> Result<(Vec<String>, Analysis, PathBuf), CapabilityError> {
    let (argv, analysis) = validate_command(command, raw)?;
    Ok((argv, analysis, work_dir(cwd)))
}

/// The policy snapshot a prepared plan binds.
fn policy_snapshot(config: &RunConfig, doc: &ApprovalsDoc, agent: &str) -> Value {
    let p = resolve_policy(doc, agent, (config.security, config.ask));
    json!({
        "security": p.security.as_str(),
        "ask": p.ask.as_str(),
        "askFallback": p.ask_fallback.as_str(),
        "autoAllowSkills": p.auto_allow_skills,
        "allowlistRules": p.allowlist.iter().map(|e| {
            let mut r = json!({"pattern": e.pattern});
            if let Some(a) = &e.arg_pattern { r["argPattern"] = json!(a); }
            if let Some(s) = &e.source { r["source"] = json!(s); }
            r
        }).collect::<Vec<_>>(),
    })
}

/// `system.run`.
pub struct SystemRun(pub Arc<RunConfig>);

impl Command for SystemRun {
    type Params = RunParams;
    type Output = RunResult;

    fn name(&self) -> &'static str {
        "system.run"
    }

    fn parse(&self, params_json: Option<&str>) -> Result<RunParams, CapabilityError> {
        js::decode_params(params_json)
    }

    async fn run(&self, mut p: RunParams, ctx: CallContext) -> Result<RunResult, CapabilityError> {
        let config = &self.0;
        p.cwd = config.cwd_locators.apply(p.cwd.take())?;
        if p.command.is_none() {
            return Err(invalid("command required"));
        }
        let (argv, analysis, cwd) =
            validate(p.command, p.raw_command.as_deref(), p.cwd.as_deref())?;
        if p.system_run_plan
            .as_ref()
            .is_some_and(|plan| !plan_is_valid(plan))
        {
            return Err(invalid("systemRunPlan invalid"));
        }
        if let Some(source) = p.approval_source.as_deref()
            && !matches!(source, "ask-fallback" | "auto-review")
        {
            return Err(invalid("approvalSource invalid"));
        }
        let text = command_text(&argv);
        let session_key = p.session_key.clone().unwrap_or_else(|| "node".into());
        let run_id = p.run_id.clone().unwrap_or_else(new_id);
        let agent = p
            .agent_id
            .clone()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| NO_AGENT.into());
        let deny = |reason: &str, denial: Denial, detail: String| {
            let mut ev = json!({"sessionKey": session_key, "runId": run_id, "host": "node", "command": text, "reason": reason});
            if let Some(s) = p.suppress_notify_on_exit {
                ev["suppressNotifyOnExit"] = json!(s);
            }
            ctx.events.emit("exec.denied", ev);
            tracing::info!(target: "audit", command = %text, reason, "system.run denied");
            CapabilityError::deny(denial, detail)
        };
        if p.needs_screen_recording == Some(true) {
            // The reference refuses with its run-denied code and the permission's token
            // in the message.
            let mut refusal = deny(
                "permission:screenRecording",
                Denial::SystemRunDenied,
                String::new(),
            );
            refusal.message = "PERMISSION_MISSING: screenRecording".into();
            return Err(refusal);
        }
        let overrides = p.env.clone().unwrap_or_default();
        check_overrides(&overrides).map_err(invalid)?;
        if let Err(m) = check_assignments(&analysis.env_assignments) {
            return Err(deny("security=deny", Denial::SystemRunDenied, m));
        }
        // Approval fields only count with a matching plan.
        let explicit = p.approved == Some(true) || p.approval_decision.is_some();
        if explicit && p.approval_source.is_some() {
            return Err(invalid(
                "INVALID_REQUEST: approvalSource cannot be combined with explicit approval",
            ));
        }
        let store = config.store();
        let snapshot = store.load().map_err(|e| {
            deny(
                "approval-state-write-failed",
                Denial::SystemRunDenied,
                e.to_string(),
            )
        })?;
        if explicit || p.approval_source.is_some() {
            let plan = p.system_run_plan.as_ref().ok_or_else(|| {
                invalid(if explicit {
                    "INVALID_REQUEST: explicit approval requires matching systemRunPlan"
                } else {
                    "INVALID_REQUEST: approvalSource requires matching systemRunPlan"
                })
            })?;
            let plan_argv: Option<Vec<String>> = plan
                .get("argv")
                .and_then(|a| serde_json::from_value(a.clone()).ok());
            let plan_cwd = plan.get("cwd").and_then(Value::as_str);
            if plan_argv.as_deref() != Some(&argv[..]) {
                return Err(invalid(
                    "INVALID_REQUEST: explicit approval requires matching systemRunPlan",
                ));
            }
            // The approved cwd must be canonical (no symlink in the path) and still be the
            // same directory now.
            if let Some(requested) = p.cwd.as_deref().map(str::trim).filter(|c| !c.is_empty())
                && Path::new(requested) != cwd
            {
                return Err(deny(
                    "approval-required",
                    Denial::SystemRunDenied,
                    "approval requires canonical cwd (no symlink path components)".into(),
                ));
            }
            if plan_cwd.is_some_and(|c| Path::new(c) != cwd) {
                return Err(deny(
                    "approval-required",
                    Denial::SystemRunDenied,
                    "approval cwd identity mismatch".into(),
                ));
            }
            // The bound file must still be the approved one, and a command that needs a
            // binding must have one.
            let bound = plan.get("mutableFileOperand").filter(|v| !v.is_null());
            if let Some(b) = bound
                && !FileOperand::from_json(b).is_some_and(|b| operand_unchanged(&b, &argv, &cwd))
            {
                return Err(deny(
                    "approval-required",
                    Denial::SystemRunDenied,
                    "approval script operand changed before execution".into(),
                ));
            }
            match mutable_file_operand(&argv, &cwd, analysis.payload.as_deref(), &ThisProcess) {
                Err(refusal) => {
                    return Err(deny(
                        "approval-required",
                        Denial::SystemRunDenied,
                        refusal.detail.into(),
                    ));
                }
                Ok(Some(_)) if bound.is_none() => {
                    return Err(deny(
                        "approval-required",
                        Denial::SystemRunDenied,
                        "approval missing script operand binding".into(),
                    ));
                }
                Ok(_) => {}
            }
            match plan.get("policySnapshot") {
                None => {
                    return Err(invalid(
                        "INVALID_REQUEST: delayed approval requires a prepared policy snapshot",
                    ));
                }
                Some(s) if *s != policy_snapshot(config, &snapshot.doc, &agent) => {
                    return Err(deny(
                        "approval-required",
                        Denial::SystemRunDenied,
                        "exec approval policy changed; request approval again".into(),
                    ));
                }
                Some(_) => {}
            }
        }
        let policy = resolve_policy(&snapshot.doc, &agent, (config.security, config.ask));
        let decision = evaluate(
            &RunFacts {
                argv: &argv,
                analysis: &analysis,
                cwd: &cwd,
                path_env: &config.path_env,
                approved: explicit,
                ask_fallback: p.approval_source.as_deref() == Some("ask-fallback"),
                strict_inline_eval: config.strict_inline_eval,
            },
            &policy,
        );
        let (run_argv, matched) = match decision {
            Decision::Deny(d) => return Err(deny(d.reason, d.kind, d.detail)),
            Decision::Allow { argv, matched } => (argv, matched),
        };
        // Record use and persist allow-always before running; a failed write denies.
        let persist_always = p.approval_decision.as_deref() == Some("allow-always")
            && policy.security == Security::Allowlist
            && analysis.ok();
        if !matched.is_empty() || persist_always {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            let cwd_text = cwd.display().to_string();
            let segments = analysis.segments.clone();
            let path_env = config.path_env.clone();
            let agent_key = agent.clone();
            let text_copy = text.clone();
            let written = store.update(move |doc| {
                for e in doc.agents.values_mut().flat_map(|a| a.allowlist.iter_mut()) {
                    if e.id.as_ref().is_some_and(|id| matched.contains(id)) {
                        e.last_used_at = Some(now);
                        if e.arg_pattern.is_none() {
                            e.last_used_command = Some(text_copy.clone());
                        }
                    }
                }
                if persist_always {
                    let list = &mut doc.agents.entry(agent_key).or_default().allowlist;
                    for seg in &segments {
                        if let Some(r) = crate::approvals::policy::resolve_executable(
                            &seg.argv[0],
                            Path::new(&cwd_text),
                            &path_env,
                        ) {
                            list.push(AllowEntry {
                                id: Some(new_id()),
                                pattern: r.real.display().to_string(),
                                arg_pattern: Some(cwd_argv_hash(&cwd_text, &seg.argv)),
                                source: Some("allow-always".into()),
                                last_used_at: Some(now),
                                last_resolved_path: Some(r.real.display().to_string()),
                                ..Default::default()
                            });
                        }
                    }
                }
            });
            if let Err(e) = written {
                return Err(deny(
                    "approval-state-write-failed",
                    Denial::SystemRunDenied,
                    format!("approval state could not be persisted ({e})"),
                ));
            }
        }
        let shell = analysis.shell.is_some();
        let env = build_env(std::env::vars(), &overrides, shell, &config.path_env);
        let pty = config.force_pty || p.pty == Some(true);
        tracing::info!(target: "audit", command = %text, pty, "system.run allowed");
        let outcome = execute(
            spec::Spec {
                argv: run_argv,
                cwd,
                env,
                timeout: p.timeout_ms.filter(|t| *t > 0).map(Duration::from_millis),
                output_cap: config.output_cap,
                pty,
                heartbeat: config.heartbeat,
                kill_grace: config.kill_grace,
            },
            ctx.cancel.clone(),
            ctx.progress.clone(),
        )
        .await;
        let mut outcome = outcome;
        outcome.error = outcome.error.map(|e| launch_failure(&e, p.cwd.as_deref()));
        let success = outcome.exit_code == Some(0) && !outcome.timed_out && outcome.error.is_none();
        let output = [
            &outcome.stdout,
            &outcome.stderr,
            outcome.error.as_ref().unwrap_or(&String::new()),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("\n");
        let output = output.trim();
        let output = if output.chars().count() > 20_000 {
            let tail: String = output
                .chars()
                .rev()
                .take(20_000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("... (truncated) {tail}")
        } else {
            output.to_string()
        };
        let mut ev = json!({"sessionKey": session_key, "runId": run_id, "host": "node", "command": text,
                            "timedOut": outcome.timed_out, "success": success, "output": output});
        if let Some(c) = outcome.exit_code {
            ev["exitCode"] = json!(c);
        }
        if let Some(s) = p.suppress_notify_on_exit {
            ev["suppressNotifyOnExit"] = json!(s);
        }
        ctx.events.emit("exec.finished", ev);
        Ok(RunResult {
            exit_code: outcome.exit_code,
            timed_out: outcome.timed_out,
            success,
            stdout: outcome.stdout,
            stderr: outcome.stderr,
            error: outcome.error,
            pty,
            duration_ms: outcome.duration.as_millis() as u64,
        })
    }
}

/// Runs `spec` with the backend it asks for; never panics, never leaves a process behind.
pub async fn execute(
    spec: spec::Spec,
    cancel: tokio_util::sync::CancellationToken,
    progress: openclaw_capability_api::ProgressSink,
) -> spec::Outcome {
    if spec.argv.first().is_none_or(|program| program.is_empty()) {
        // What Node's spawn says of an empty program name, which the reference reports.
        return spec::Outcome::failed(
            "Command failed during launch or output capture (ERR_INVALID_ARG_VALUE)".into(),
            tokio::time::Instant::now(),
        );
    }
    if spec.pty {
        pty::run(spec, cancel, progress).await
    } else {
        pipes::run(spec, cancel, progress).await
    }
}

/// `system.run.prepare` params, read as the reference reads them (see [`RunParams::from_value`]).
#[derive(Debug, Default)]
pub struct PrepareParams {
    /// argv.
    pub command: Option<Vec<String>>,
    /// Display text.
    pub raw_command: Option<String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Agent.
    pub agent_id: Option<String>,
    /// Session.
    pub session_key: Option<String>,
}

impl<'de> Deserialize<'de> for PrepareParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(Self {
            command: js_argv(v.get("command")),
            raw_command: js_raw_command(v.get("rawCommand")),
            cwd: js::optional_string(v.get("cwd")),
            agent_id: js::optional_string(v.get("agentId")),
            session_key: js::optional_string(v.get("sessionKey")),
        })
    }
}

/// `system.run.prepare`: the canonical plan an approval binds.
pub struct SystemRunPrepare(pub Arc<RunConfig>);

impl Command for SystemRunPrepare {
    type Params = PrepareParams;
    type Output = Value;

    fn name(&self) -> &'static str {
        "system.run.prepare"
    }

    fn parse(&self, params_json: Option<&str>) -> Result<PrepareParams, CapabilityError> {
        js::decode_params(params_json)
    }

    async fn run(&self, mut p: PrepareParams, _ctx: CallContext) -> Result<Value, CapabilityError> {
        let config = &self.0;
        p.cwd = config.cwd_locators.apply(p.cwd.take())?;
        let (argv, analysis, cwd) =
            validate(p.command, p.raw_command.as_deref(), p.cwd.as_deref())?;
        if !cwd.is_dir() {
            return Err(invalid(
                "SYSTEM_RUN_DENIED: approval requires an existing canonical cwd",
            ));
        }
        // The plan carries the agent as asked (null when none); its policy is the default
        // agent's.
        let agent = p.agent_id.clone().unwrap_or_else(|| NO_AGENT.into());
        let snapshot = config
            .store()
            .load()
            .map_err(|e| CapabilityError::unavailable(e.to_string()))?;
        let policy = resolve_policy(&snapshot.doc, &agent, (config.security, config.ask));
        // Pin a direct executable so the approval binds what will run.
        let mut plan_argv = argv.clone();
        if analysis.shell.is_none() && analysis.wrappers.is_empty() {
            let r = crate::approvals::policy::resolve_executable(&argv[0], &cwd, &config.path_env)
                .ok_or_else(|| {
                    invalid("SYSTEM_RUN_DENIED: approval requires a stable executable path")
                })?;
            plan_argv[0] = r.real.display().to_string();
        }
        let operand =
            mutable_file_operand(&plan_argv, &cwd, analysis.payload.as_deref(), &ThisProcess)
                .map_err(|r| invalid(r.prepare_message()))?;
        let text = command_text(&plan_argv);
        let cwd_text = cwd.display().to_string();
        let coverage: Vec<Value> = if analysis.ok() && analysis.inline_eval.is_none() {
            analysis
                .segments
                .iter()
                .filter_map(|s| {
                    crate::approvals::policy::resolve_executable(&s.argv[0], &cwd, &config.path_env).map(|r| {
                        json!({"pattern": r.real.display().to_string(), "argPattern": cwd_argv_hash(&cwd_text, &s.argv)})
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let complete = !coverage.is_empty() && coverage.len() == analysis.segments.len();
        let mut answer = json!({
            "plan": {
                "argv": plan_argv,
                "cwd": cwd_text,
                "commandText": text,
                "commandPreview": analysis.payload,
                "agentId": p.agent_id,
                "sessionKey": p.session_key,
                "policySnapshot": policy_snapshot(config, &snapshot.doc, &agent),
            },
            "execPolicy": {"security": policy.security.as_str(), "ask": policy.ask.as_str()},
            "allowAlwaysCoverage": {"complete": complete, "patterns": if complete { coverage } else { vec![] }},
        });
        // Like the reference, the plan has no `mutableFileOperand` when nothing is bound.
        if let Some(operand) = &operand {
            answer["plan"]["mutableFileOperand"] = operand.to_json();
        }
        Ok(answer)
    }
}

/// `system.execApprovals.get` params.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    /// Also return the resolved defaults.
    pub include_resolved_defaults: Option<Value>,
}

fn approvals_view(config: &RunConfig, s: &crate::approvals::Snapshot, resolved: bool) -> Value {
    let mut v = json!({
        "path": config.store().path().display().to_string(),
        "exists": s.exists,
        "hash": s.hash,
        "file": s.doc.redacted(),
    });
    if resolved {
        let p = resolve_policy(&s.doc, NO_AGENT, (config.security, config.ask));
        v["resolvedDefaults"] = json!({"security": p.security.as_str(), "ask": p.ask.as_str(),
            "askFallback": p.ask_fallback.as_str(), "autoAllowSkills": p.auto_allow_skills});
    }
    v
}

/// `system.execApprovals.get`.
pub struct ExecApprovalsGet(pub Arc<RunConfig>);

impl Command for ExecApprovalsGet {
    type Params = GetParams;
    type Output = Value;

    fn name(&self) -> &'static str {
        "system.execApprovals.get"
    }

    async fn run(&self, p: GetParams, _ctx: CallContext) -> Result<Value, CapabilityError> {
        let resolved = match p.include_resolved_defaults {
            None => false,
            Some(Value::Bool(b)) => b,
            Some(_) => {
                return Err(invalid(
                    "INVALID_REQUEST: includeResolvedDefaults must be boolean",
                ));
            }
        };
        let s = self
            .0
            .store()
            .load()
            .map_err(|e| CapabilityError::unavailable(e.to_string()))?;
        Ok(approvals_view(&self.0, &s, resolved))
    }
}

/// `system.execApprovals.set` params.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetParams {
    /// The new document.
    pub file: Option<Value>,
    /// The hash it was based on.
    pub base_hash: Option<String>,
}

/// `system.execApprovals.set`.
pub struct ExecApprovalsSet(pub Arc<RunConfig>);

impl Command for ExecApprovalsSet {
    type Params = SetParams;
    type Output = Value;

    fn name(&self) -> &'static str {
        "system.execApprovals.set"
    }

    async fn run(&self, p: SetParams, _ctx: CallContext) -> Result<Value, CapabilityError> {
        let Some(file @ Value::Object(_)) = p.file else {
            return Err(invalid("INVALID_REQUEST: exec approvals file required"));
        };
        let doc: ApprovalsDoc = serde_json::from_value(file)
            .map_err(|e| invalid(format!("INVALID_REQUEST: invalid exec approvals file: {e}")))?;
        let s = self
            .0
            .store()
            .save(doc, p.base_hash.as_deref())
            .map_err(|e| match e {
                crate::approvals::StoreError::Changed
                | crate::approvals::StoreError::BaseHashRequired => {
                    // The reference's thrown error, with its `Error: ` prefix.
                    invalid(format!("Error: INVALID_REQUEST: {e}"))
                }
                other => CapabilityError::unavailable(other.to_string()),
            })?;
        Ok(approvals_view(&self.0, &s, false))
    }
}
