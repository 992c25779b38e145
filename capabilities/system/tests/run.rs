//! `system.run` with real processes: the reference result shape, timeouts, cancel,
//! process trees that fight back, PTYs, output caps, streaming, and the policy in front.

use std::sync::Arc;
use std::time::Duration;

use openclaw_capability_api::CapabilityError;
use openclaw_capability_api::{CallContext, Command, ErrorCode, EventSink, ProgressSink};
use openclaw_capability_system::approvals::{ApprovalsDoc, ApprovalsStore};
use openclaw_capability_system::run::cwd::CwdLocators;
use openclaw_capability_system::run::{
    RunConfig, RunParams, RunResult, SystemRun, SystemRunPrepare,
};
use openclaw_capability_system::{approvals::Security, node_path};
use tokio::sync::mpsc;

fn config(dir: &std::path::Path, security: Security) -> Arc<RunConfig> {
    let mut c = RunConfig::new(node_path(), dir.to_path_buf());
    c.security = security;
    c.heartbeat = Duration::from_millis(100);
    c.kill_grace = Duration::from_millis(500);
    Arc::new(c)
}

fn params(argv: &[&str]) -> RunParams {
    RunParams {
        command: Some(argv.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }
}

#[tokio::test]
async fn reference_result_shape_for_output_exit_codes_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let run = SystemRun(config(dir.path(), Security::Full));
    let r = run
        .run(
            params(&["sh", "-c", "echo hi; echo err >&2; exit 3"]),
            CallContext::detached("t"),
        )
        .await
        .unwrap();
    assert_eq!(r.exit_code, Some(3));
    assert!(!r.success && !r.timed_out);
    assert_eq!(r.stdout, "hi\n");
    assert_eq!(r.stderr, "err\n");
    let v = serde_json::to_value(&r).unwrap();
    for key in [
        "exitCode", "timedOut", "success", "stdout", "stderr", "error",
    ] {
        assert!(v.get(key).is_some(), "{key} missing in {v}");
    }
    assert!(v["error"].is_null());
    let r = run
        .run(params(&["true"]), CallContext::detached("t"))
        .await
        .unwrap();
    assert!(r.success);
    let r = run
        .run(params(&["/no/such/binary"]), CallContext::detached("t"))
        .await
        .unwrap();
    assert!(r.error.is_some() && !r.success && r.exit_code.is_none());
}

/// A process tree that fights back: a leader and a child that ignore SIGTERM, a child that
/// left the process group with `setsid`, one under `nohup` (which ignores the SIGHUP a
/// closing terminal sends), and a grandchild that did both. Each prints `pid <role> <pid>`
/// from the process itself (`exec` keeps the pid), so the test knows exactly which
/// processes must die.
const FIGHTING_TREE: &str = r#"trap '' TERM
echo "pid leader $$"
sh -c 'echo "pid trapper $$"; exec sleep 300' &
setsid sh -c 'echo "pid setsid $$"; exec sleep 300' &
sh -c 'echo "pid nohup $$"; exec nohup sleep 300 >/dev/null 2>&1' &
sh -c 'setsid sh -c "echo pid grandchild \$\$; exec nohup sleep 300 >/dev/null 2>&1" & wait' &
wait"#;
const ROLES: [&str; 5] = ["leader", "trapper", "setsid", "nohup", "grandchild"];
/// How long anything in these tests may take to happen.
const WAIT: Duration = Duration::from_secs(10);

/// How a call is made to end.
#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    Timeout,
    Cancel,
    /// The call's future is dropped mid-run (a caller that went away).
    Drop,
}

/// The start time of a live process, read from `/proc` directly (not through the code
/// under test); `None` once it is gone or a zombie.
fn live_since(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    (fields[0] != "Z").then(|| fields[19].to_string())
}

/// Runs [`FIGHTING_TREE`] (on a PTY or pipes), waits until every process of it has
/// printed its pid and is seen alive, then ends the call as `end` says; returns the pids
/// with their start times, and the result unless the call was dropped.
async fn run_tree(pty: bool, end: End) -> (Vec<(&'static str, i32, String)>, Option<RunResult>) {
    let dir = tempfile::tempdir().unwrap();
    let run = SystemRun(config(dir.path(), Security::Full));
    let (tx, mut rx) = mpsc::channel(64);
    let mut ctx = CallContext::detached("t");
    ctx.progress = ProgressSink::new(tx);
    let cancel = ctx.cancel.clone();
    let mut p = params(&["sh", "-c", FIGHTING_TREE]);
    p.pty = Some(pty);
    if end == End::Timeout {
        p.timeout_ms = Some(1500);
    }
    let mut call = Box::pin(run.run(p, ctx));
    let give_up = tokio::time::sleep(WAIT);
    tokio::pin!(give_up);
    let mut text = String::new();
    let mut seen: Vec<(&'static str, i32, String)> = Vec::new();
    let result = loop {
        tokio::select! {
            r = &mut call => break Some(r.unwrap()),
            Some(chunk) = rx.recv(), if seen.len() < ROLES.len() => {
                text.push_str(&chunk);
                for line in text.lines().filter(|l| l.starts_with("pid ")) {
                    let mut words = line.split_whitespace().skip(1);
                    let (Some(role), Some(pid)) = (words.next(), words.next()) else { continue };
                    let (Some(role), Ok(pid)) = (ROLES.iter().find(|r| **r == role), pid.parse::<i32>()) else { continue };
                    if seen.iter().all(|(r, _, _)| r != role) {
                        let started = live_since(pid)
                            .unwrap_or_else(|| panic!("the {role} ({pid}) is not alive when it says it is"));
                        seen.push((role, pid, started));
                    }
                }
                if seen.len() == ROLES.len() {
                    match end {
                        End::Timeout => {}
                        End::Cancel => cancel.cancel(),
                        End::Drop => break None,
                    }
                }
            }
            _ = &mut give_up => panic!("the tree did not print every pid within {WAIT:?} (printed: {text:?})"),
        }
    };
    assert_eq!(
        seen.len(),
        ROLES.len(),
        "the call ended before the tree was up: {text:?}"
    );
    drop(call);
    (seen, result)
}

/// Every process of `seen` is gone (or a zombie) within [`WAIT`].
async fn assert_gone(seen: &[(&'static str, i32, String)], after: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left: Vec<_> = seen
            .iter()
            .filter(|(_, pid, started)| live_since(*pid).as_ref() == Some(started))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{left:?} outlived the {after} by {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_process_tree_that_traps_sigterm_is_gone_after_timeout_and_after_cancel() {
    let (seen, r) = run_tree(false, End::Timeout).await;
    let r = r.unwrap();
    assert!(r.timed_out);
    assert_eq!(r.exit_code, Some(124));
    assert!(!r.success);
    assert_gone(&seen, "timeout").await;

    let (seen, r) = run_tree(false, End::Cancel).await;
    let r = r.unwrap();
    assert!(!r.timed_out && !r.success);
    assert_gone(&seen, "cancel").await;
}

#[tokio::test]
async fn a_dropped_call_leaves_no_process_behind() {
    let (seen, _) = run_tree(false, End::Drop).await;
    assert_gone(&seen, "dropped pipe call").await;
}

#[tokio::test]
async fn a_pty_tree_is_gone_after_timeout_and_after_cancel() {
    let (seen, r) = run_tree(true, End::Timeout).await;
    let r = r.unwrap();
    assert!(r.pty && r.timed_out && !r.success);
    assert_eq!(r.exit_code, Some(124));
    assert_gone(&seen, "PTY timeout").await;

    let (seen, r) = run_tree(true, End::Cancel).await;
    let r = r.unwrap();
    assert!(r.pty && !r.timed_out && !r.success);
    assert_gone(&seen, "PTY cancel").await;
}

#[tokio::test]
async fn a_dropped_pty_call_leaves_no_process_behind() {
    let (seen, _) = run_tree(true, End::Drop).await;
    assert_gone(&seen, "dropped PTY call").await;
}

#[tokio::test]
async fn background_jobs_do_not_outlive_a_finished_command() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let run = SystemRun(config(dir.path(), Security::Full));
    // The command ends only once the job has written its pid, so the job did exist.
    let script = "sh -c 'echo $$ > job.pid; exec sleep 300' & \
                  while [ ! -s job.pid ]; do sleep 0.01; done; echo started";
    let mut p = params(&["sh", "-c", script]);
    p.cwd = Some(work.path().display().to_string());
    let r = run.run(p, CallContext::detached("t")).await.unwrap();
    assert_eq!(r.stdout, "started\n");
    let pid: i32 = std::fs::read_to_string(work.path().join("job.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while live_since(pid).is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the background job {pid} outlived its command by {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn tty_inside_a_pty_and_not_outside() {
    let dir = tempfile::tempdir().unwrap();
    let run = SystemRun(config(dir.path(), Security::Full));
    let mut p = params(&["tty"]);
    p.pty = Some(true);
    let r = run.run(p, CallContext::detached("t")).await.unwrap();
    assert!(r.pty);
    assert_eq!(r.exit_code, Some(0), "{r:?}");
    assert!(r.stdout.starts_with("/dev/"), "{r:?}");
    assert!(!r.stdout.contains('\r'));
    let r = run
        .run(params(&["tty"]), CallContext::detached("t"))
        .await
        .unwrap();
    assert!(!r.pty);
    assert_eq!(r.stdout.trim(), "not a tty");
}

#[tokio::test]
async fn a_hundred_megabytes_of_output_is_capped_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let run = SystemRun(config(dir.path(), Security::Full));
    let r = run
        .run(
            params(&["sh", "-c", "head -c 100000000 /dev/zero | tr '\\0' 'a'"]),
            CallContext::detached("t"),
        )
        .await
        .unwrap();
    assert_eq!(r.exit_code, Some(0));
    assert_eq!(r.stdout.len(), 200_000 + "\n... (truncated)".len());
    assert!(r.stdout.ends_with("\n... (truncated)"));
    assert!(r.stdout.starts_with("aaaa"));
}

#[tokio::test]
async fn output_streams_as_progress_with_heartbeats_while_silent() {
    let dir = tempfile::tempdir().unwrap();
    let run = SystemRun(config(dir.path(), Security::Full));
    let (tx, mut rx) = mpsc::channel(64);
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let mut ctx = CallContext::detached("t");
    ctx.progress = ProgressSink::new(tx);
    ctx.events = EventSink::new(ev_tx);
    let r = run
        .run(params(&["sh", "-c", "echo one; sleep 0.5; echo two"]), ctx)
        .await
        .unwrap();
    assert_eq!(r.stdout, "one\ntwo\n");
    let mut chunks = Vec::new();
    while let Ok(c) = rx.try_recv() {
        chunks.push(c);
    }
    assert_eq!(chunks.concat(), "one\ntwo\n", "{chunks:?}");
    assert!(
        chunks.iter().any(String::is_empty),
        "no heartbeat in {chunks:?}"
    );
    let ev = ev_rx.try_recv().unwrap();
    assert_eq!(ev.event, "exec.finished");
    assert_eq!(ev.payload["exitCode"], 0);
    assert_eq!(ev.payload["output"], "one\ntwo");
}

#[tokio::test]
async fn a_fresh_node_denies_then_runs_after_one_explicit_allow() {
    let dir = tempfile::tempdir().unwrap();
    let run = SystemRun(config(dir.path(), Security::Allowlist));
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let mut ctx = CallContext::detached("t");
    ctx.events = EventSink::new(ev_tx);
    let e = run.run(params(&["uname", "-s"]), ctx).await.unwrap_err();
    // Like the reference node: the policy token is the error code.
    assert_eq!(e.code.as_str(), "SYSTEM_RUN_DENIED");
    assert!(
        e.message
            .starts_with("SYSTEM_RUN_DENIED: approval required"),
        "{e}"
    );
    assert!(e.message.contains("openclaw-node approvals allow /"), "{e}");
    let ev = ev_rx.try_recv().unwrap();
    assert_eq!(ev.event, "exec.denied");
    assert_eq!(ev.payload["reason"], "approval-required");
    // The one explicit step.
    let store = ApprovalsStore::in_state_dir(dir.path());
    store
        .update(|doc: &mut ApprovalsDoc| {
            doc.agents.entry("*".into()).or_default().allowlist.push(
                openclaw_capability_system::approvals::AllowEntry {
                    pattern: "uname".into(),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    let r = run
        .run(params(&["uname", "-s"]), CallContext::detached("t"))
        .await
        .unwrap();
    assert_eq!(r.stdout.trim(), "Linux");
    let doc = store.load().unwrap().doc;
    assert!(doc.agents["*"].allowlist[0].last_used_at.is_some());
}

#[tokio::test]
async fn env_injection_and_bad_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = SystemRun(config(dir.path(), Security::Full));
    let mut p = params(&["true"]);
    p.env = Some([("LD_PRELOAD".to_string(), "/tmp/x.so".to_string())].into());
    let e = run.run(p, CallContext::detached("t")).await.unwrap_err();
    assert_eq!(
        e.message,
        "SYSTEM_RUN_DENIED: environment override rejected (blocked override keys: LD_PRELOAD)"
    );
    let mut p = params(&["echo", "hi"]);
    p.raw_command = Some("echo bye".into());
    let e = run.run(p, CallContext::detached("t")).await.unwrap_err();
    assert_eq!(
        e.message,
        "INVALID_REQUEST: rawCommand does not match command"
    );
    let mut p = params(&["true"]);
    p.cwd = Some("/no/such/dir".into());
    // A missing working directory is a result, as the reference gives it, not a refusal.
    let r = run.run(p, CallContext::detached("t")).await.unwrap();
    assert_eq!(
        r.error.as_deref(),
        Some(
            "node exec working directory does not exist on the node host: /no/such/dir \
             (os reported: Command failed during launch or output capture (ENOENT))"
        )
    );
    assert!(!r.success && r.exit_code.is_none());
    let mut p = params(&["true"]);
    p.approved = Some(true);
    let e = run.run(p, CallContext::detached("t")).await.unwrap_err();
    assert_eq!(
        e.message,
        "INVALID_REQUEST: explicit approval requires matching systemRunPlan"
    );
    let e = run
        .run(RunParams::default(), CallContext::detached("t"))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    // The env seen by the child: no loader hooks, OPENCLAW_SHELL set.
    let r = run
        .run(
            params(&["sh", "-c", "echo $OPENCLAW_SHELL"]),
            CallContext::detached("t"),
        )
        .await
        .unwrap();
    assert_eq!(r.stdout.trim(), "exec");
    let mut p = params(&["env"]);
    p.env = Some([("MY_VAR".to_string(), "1".to_string())].into());
    let r = run.run(p, CallContext::detached("t")).await.unwrap();
    assert!(r.stdout.contains("MY_VAR=1"));
}

async fn prepare(config: &Arc<RunConfig>, argv: &[&str], cwd: &str) -> serde_json::Value {
    try_prepare(config, argv, cwd).await.unwrap()
}

async fn try_prepare(
    config: &Arc<RunConfig>,
    argv: &[&str],
    cwd: &str,
) -> Result<serde_json::Value, openclaw_capability_api::CapabilityError> {
    use openclaw_capability_system::run::{PrepareParams, SystemRunPrepare};
    SystemRunPrepare(config.clone())
        .run(
            PrepareParams {
                command: Some(argv.iter().map(|s| s.to_string()).collect()),
                cwd: Some(cwd.into()),
                ..Default::default()
            },
            CallContext::detached("p"),
        )
        .await
}

/// Issue 17: the plan binds what the reference node host 2026.9.6 binds (as root, the
/// pinned executable itself: root can rewrite `/usr/bin/uname`), and a command it cannot
/// bind is refused with the reference's `INVALID_REQUEST` and message.
#[tokio::test]
async fn prepare_binds_the_mutable_file_the_reference_binds() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let cwd = std::fs::canonicalize(work.path()).unwrap();
    let cwd_text = cwd.display().to_string();
    let config = config(dir.path(), Security::Allowlist);
    let plan = prepare(&config, &["uname", "-s"], &cwd_text).await;
    let operand = &plan["plan"]["mutableFileOperand"];
    if nix::unistd::getuid().is_root() {
        let real = std::fs::canonicalize(plan["plan"]["argv"][0].as_str().unwrap()).unwrap();
        assert_eq!(operand["argvIndex"], 0, "{plan}");
        assert_eq!(operand["path"], real.display().to_string());
        assert_eq!(operand["sha256"].as_str().map(str::len), Some(64));
        // And the approved run passes the binding check.
        let r = SystemRun(config.clone())
            .run(approved_run(&plan, &cwd_text), CallContext::detached("t"))
            .await
            .unwrap();
        assert!(r.success, "{r:?}");
    } else {
        assert!(operand.is_null(), "{plan}");
    }
    // Nothing to bind: no field at all, as in the reference's plan.
    let plan = prepare(&config, &["sh", "-c", "echo hi"], &cwd_text).await;
    assert!(plan["plan"].get("mutableFileOperand").is_none(), "{plan}");
    let e = try_prepare(&config, &["sh", "-s"], &cwd_text)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert_eq!(
        e.message,
        "SYSTEM_RUN_DENIED: approval cannot safely bind shell startup files"
    );
    let e = try_prepare(&config, &["sh", "-c", "echo hi; ls"], &cwd_text)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert_eq!(
        e.message,
        "SYSTEM_RUN_DENIED: approval cannot safely bind this interpreter/runtime command\n\
         No approval request was created for this attempt; this is not a user denial. Retry a \
         supported single executable with an absolute path through the normal approval flow. \
         This node approval path cannot bind script/interpreter payloads nested in its shell \
         wrapper."
    );
}

fn approved_run(plan: &serde_json::Value, cwd: &str) -> RunParams {
    RunParams {
        command: serde_json::from_value(plan["plan"]["argv"].clone()).unwrap(),
        cwd: Some(cwd.into()),
        approved: Some(true),
        approval_decision: Some("allow-once".into()),
        system_run_plan: Some(plan["plan"].clone()),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_approved_plan_runs_and_edits_after_approval_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let cwd = std::fs::canonicalize(work.path())
        .unwrap()
        .display()
        .to_string();
    std::fs::write(work.path().join("job.sh"), "echo approved\n").unwrap();
    let config = config(dir.path(), Security::Allowlist);
    let plan = prepare(&config, &["sh", "job.sh"], &cwd).await;
    assert_eq!(plan["plan"]["mutableFileOperand"]["argvIndex"], 1);
    assert!(plan["plan"]["policySnapshot"].is_object());
    let run = SystemRun(config.clone());
    // Allowlist mode and nothing allowlisted: it runs only because it was approved.
    let r = run
        .run(approved_run(&plan, &cwd), CallContext::detached("t"))
        .await
        .unwrap();
    assert_eq!(r.stdout, "approved\n");
    // Attack 12: the script is edited after approval.
    std::fs::write(work.path().join("job.sh"), "echo pwned\n").unwrap();
    let e = run
        .run(approved_run(&plan, &cwd), CallContext::detached("t"))
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "SYSTEM_RUN_DENIED: approval script operand changed before execution"
    );
    // Attack 13: the binding is stripped from the plan.
    let mut nulled = plan.clone();
    nulled["plan"]["mutableFileOperand"] = serde_json::Value::Null;
    let e = run
        .run(approved_run(&nulled, &cwd), CallContext::detached("t"))
        .await
        .unwrap_err();
    assert_eq!(e.message, "systemRunPlan invalid");
    let mut stripped = plan.clone();
    stripped["plan"]
        .as_object_mut()
        .unwrap()
        .remove("mutableFileOperand");
    let e = run
        .run(approved_run(&stripped, &cwd), CallContext::detached("t"))
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "SYSTEM_RUN_DENIED: approval missing script operand binding"
    );
    // Attack 24: argv edited after approval.
    let mut p = approved_run(&plan, &cwd);
    p.command = Some(vec!["sh".into(), "-c".into(), "id".into()]);
    let e = run.run(p, CallContext::detached("t")).await.unwrap_err();
    assert_eq!(
        e.message,
        "INVALID_REQUEST: explicit approval requires matching systemRunPlan"
    );
    // Attack 25: the policy is tightened while the approval is pending.
    let fresh = prepare(&config, &["uname"], &cwd).await;
    ApprovalsStore::in_state_dir(dir.path())
        .update(|d| d.defaults.get_or_insert_with(Default::default).ask = Some("always".into()))
        .unwrap();
    let e = run
        .run(approved_run(&fresh, &cwd), CallContext::detached("t"))
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "SYSTEM_RUN_DENIED: exec approval policy changed; request approval again"
    );
}

#[tokio::test]
async fn attack_10_11_symlinked_or_swapped_cwd_is_refused_for_approved_runs() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let real = std::fs::canonicalize(work.path()).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let config = config(dir.path(), Security::Allowlist);
    let plan = prepare(&config, &["uname"], &real.display().to_string()).await;
    let run = SystemRun(config.clone());
    let e = run
        .run(
            approved_run(&plan, &link.display().to_string()),
            CallContext::detached("t"),
        )
        .await
        .unwrap_err();
    assert!(e.message.contains("canonical cwd"), "{e}");
    let other = std::fs::canonicalize(dir.path())
        .unwrap()
        .display()
        .to_string();
    let e = run
        .run(approved_run(&plan, &other), CallContext::detached("t"))
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "SYSTEM_RUN_DENIED: approval cwd identity mismatch"
    );
}

/// A config whose `node://n/skills/tmp` locator names /tmp and any other `node://` is refused.
fn locator_config() -> Arc<RunConfig> {
    let mut run = RunConfig::new(node_path(), std::env::temp_dir());
    run.security = Security::Full;
    run.ask = openclaw_capability_system::approvals::Ask::Off;
    run.cwd_locators = CwdLocators::new(|cwd| match cwd {
        "node://n/skills/tmp" => Ok(Some(std::path::PathBuf::from("/tmp"))),
        c if c.starts_with("node://") => Err(CapabilityError::invalid_request("Error: bad")),
        _ => Ok(None),
    });
    Arc::new(run)
}

#[tokio::test]
async fn run_and_prepare_resolve_the_locator_before_anything_else() {
    let run = SystemRun(locator_config());
    // The locator is checked before the command is (as the reference orders it).
    let p = run.parse(Some(r#"{"cwd":"node://x"}"#)).unwrap();
    let e = run.run(p, CallContext::detached("1")).await.unwrap_err();
    assert_eq!(e.message, "Error: bad");
    let prepare = SystemRunPrepare(locator_config());
    let p = prepare
        .parse(Some(r#"{"command":["pwd"],"cwd":"node://x"}"#))
        .unwrap();
    let e = prepare
        .run(p, CallContext::detached("2"))
        .await
        .unwrap_err();
    assert_eq!(e.message, "Error: bad");
    let p = prepare
        .parse(Some(r#"{"command":["pwd"],"cwd":"node://n/skills/tmp"}"#))
        .unwrap();
    let plan = prepare.run(p, CallContext::detached("3")).await.unwrap();
    let tmp = std::fs::canonicalize("/tmp").unwrap();
    assert_eq!(plan["plan"]["cwd"], tmp.display().to_string(), "{plan}");
}
