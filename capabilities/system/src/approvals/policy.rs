//! The decision for one `system.run` (spec exec-approvals.md §4, §5, §7.3, §7.4, §8, §9):
//! resolve the effective policy for the agent, match every analysed segment against the
//! allowlist (executables resolved through PATH, symlinks resolved), decide, and build the
//! argv that actually runs (the executable pinned to its real path; a shell payload
//! re-rendered with absolute executables and single-quoted words). Pure except for
//! resolving paths on disk.

use std::path::{Path, PathBuf};

use openclaw_capability_api::Denial as ApiDenial;
use sha2::{Digest as _, Sha256};

use super::analysis::{Analysis, Segment, exe_name};
use super::argpattern::ArgPattern;
use super::doc::{AllowEntry, ApprovalsDoc, Ask, Security};
use super::escapes::{Escape, find_escape};

/// The effective policy for one agent.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectivePolicy {
    /// How much may run.
    pub security: Security,
    /// When a human must approve.
    pub ask: Ask,
    /// What a miss resolves to with no approver.
    pub ask_fallback: Security,
    /// Trust skill bins.
    pub auto_allow_skills: bool,
    /// `*` entries then the agent's.
    pub allowlist: Vec<AllowEntry>,
}

/// Merges the document over the node's requested policy for `agent_id` (§4): the first
/// defined of agent → `*` → defaults → requested, and the document can only tighten.
pub fn resolve_policy(
    doc: &ApprovalsDoc,
    agent_id: &str,
    requested: (Security, Ask),
) -> EffectivePolicy {
    let agent = doc.agents.get(agent_id);
    let star = doc.agents.get("*");
    let defaults = doc.defaults.as_ref();
    let pick = |f: &dyn Fn(&super::doc::PolicyFields) -> Option<String>| {
        agent
            .and_then(|a| f(&a.fields))
            .or_else(|| star.and_then(|s| f(&s.fields)))
            .or_else(|| defaults.and_then(f))
    };
    let security = pick(&|p| p.security.clone())
        .and_then(|s| Security::parse(&s))
        .unwrap_or(requested.0)
        .min(requested.0);
    let ask = pick(&|p| p.ask.clone())
        .and_then(|s| Ask::parse(&s))
        .unwrap_or(requested.1)
        .max(requested.1);
    let ask_fallback = pick(&|p| p.ask_fallback.clone())
        .and_then(|s| Security::parse(&s))
        .unwrap_or(Security::Deny);
    let auto_allow_skills = agent
        .and_then(|a| a.fields.auto_allow_skills)
        .or_else(|| star.and_then(|s| s.fields.auto_allow_skills))
        .or_else(|| defaults.and_then(|d| d.auto_allow_skills))
        .unwrap_or(false);
    let mut allowlist: Vec<AllowEntry> = star.map(|s| s.allowlist.clone()).unwrap_or_default();
    if agent_id != "*" {
        allowlist.extend(agent.map(|a| a.allowlist.clone()).unwrap_or_default());
    }
    EffectivePolicy {
        security,
        ask,
        ask_fallback,
        auto_allow_skills,
        allowlist,
    }
}

/// An executable found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The path found (PATH search or relative to cwd).
    pub path: PathBuf,
    /// Its real path (symlinks resolved): what is trusted and what runs.
    pub real: PathBuf,
    /// Whether `argv[0]` had a path separator.
    pub had_separator: bool,
}

/// Resolves `argv[0]` against `cwd` (with a separator) or `path_env`.
pub fn resolve_executable(word: &str, cwd: &Path, path_env: &str) -> Option<Resolved> {
    use std::os::unix::fs::PermissionsExt as _;
    let runnable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let had_separator = word.contains('/');
    let path = if had_separator {
        let p = if word.starts_with('/') {
            PathBuf::from(word)
        } else {
            cwd.join(word)
        };
        runnable(&p).then_some(p)?
    } else {
        std::env::split_paths(path_env)
            .filter(|d| d.is_absolute())
            .map(|d| d.join(word))
            .find(|p| runnable(p))?
    };
    let real = std::fs::canonicalize(&path).ok()?;
    Some(Resolved {
        path,
        real,
        had_separator,
    })
}

/// Glob match: `**` anything, `*` anything but `/`, `?` one non-`/` byte; anchored.
///
/// One pass over the pattern keeping the set of text positions reached so far, so the cost
/// is |pattern| × |text| whatever the stars. (A backtracking matcher was exponential in the
/// number of stars: the `approvals` fuzz target found `*****?*…` against a 170-byte path
/// running for minutes.)
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    // reached[j]: the pattern read so far matches exactly t[..j].
    let mut reached = vec![false; t.len() + 1];
    reached[0] = true;
    let mut i = 0;
    while i < p.len() {
        let mut next = vec![false; t.len() + 1];
        match p[i] {
            b'*' if p.get(i + 1) == Some(&b'*') => {
                let mut any = false;
                for (j, slot) in next.iter_mut().enumerate() {
                    any |= reached[j];
                    *slot = any;
                }
                i += 1;
            }
            b'*' => {
                for j in 0..=t.len() {
                    next[j] = reached[j] || (j > 0 && next[j - 1] && t[j - 1] != b'/');
                }
            }
            b'?' => {
                for j in 1..=t.len() {
                    next[j] = reached[j - 1] && t[j - 1] != b'/';
                }
            }
            c => {
                for j in 1..=t.len() {
                    next[j] = reached[j - 1] && t[j - 1] == c;
                }
            }
        }
        reached = next;
        i += 1;
    }
    reached[t.len()]
}

fn expand_tilde(pattern: &str) -> String {
    match (pattern.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => pattern.to_string(),
    }
}

/// The cwd-bound argument hash of an allow-always entry (§9).
pub fn cwd_argv_hash(cwd: &str, argv: &[String]) -> String {
    let mut h = Sha256::new();
    let cwd = cwd.replace('\\', "/");
    h.update(format!(
        "{}\0{cwd}\0{}\0",
        cwd.len(),
        argv.len().saturating_sub(1)
    ));
    for a in argv.iter().skip(1) {
        h.update(format!("{}\0{a}\0", a.len()));
    }
    format!("sha256:cwd-argv:v1:{}", hex::encode(h.finalize()))
}

/// How an allowlist entry covers a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cover {
    /// A manual bare `*` entry: any parsed command.
    Anything,
    /// An entry whose argPattern (or cwd-bound hash) matched these arguments: an explicit
    /// permission, which also covers a tool's exec-capable options (`escapes`).
    Arguments,
    /// An entry for the executable without an argPattern: the tool doing its own job.
    Executable,
}

/// How `entry` covers this segment, if it does.
fn entry_matches(
    entry: &AllowEntry,
    seg: &Segment,
    resolved: &Resolved,
    cwd: &str,
) -> Option<Cover> {
    let pattern = entry.pattern.trim();
    let allow_always = entry.source.as_deref() == Some("allow-always");
    if pattern == "*" && entry.arg_pattern.is_none() && !allow_always {
        return Some(Cover::Anything);
    }
    let exe_ok = if pattern.contains('/') || pattern.contains('~') {
        glob_match(&expand_tilde(pattern), &resolved.real.to_string_lossy())
    } else {
        !resolved.had_separator
            && (glob_match(pattern, &exe_name(&resolved.real.to_string_lossy()))
                || glob_match(pattern, &exe_name(&seg.argv[0])))
    };
    if !exe_ok {
        return None;
    }
    let args_ok = match entry.arg_pattern.as_deref() {
        None => return (!allow_always).then_some(Cover::Executable),
        Some(p) if p.starts_with("sha256:cwd-argv:v1:") => p == cwd_argv_hash(cwd, &seg.argv),
        Some(p) if p.starts_with("sha256:") || allow_always => false,
        Some(p) => {
            let args = &seg.argv[1..];
            let text = if p.contains('\0') {
                let mut t = args.join("\0");
                t.push('\0');
                if args.is_empty() {
                    t.push('\0');
                }
                t
            } else {
                args.join(" ")
            };
            ArgPattern::new(p).is_ok_and(|re| re.is_match(&text))
        }
    };
    args_ok.then_some(Cover::Arguments)
}

/// The entry that covers a segment, in the reference's order (`matchAllowlist`): a bare
/// `*`, else the first entry whose arguments match, else the first executable-only entry.
fn best_match<'e>(
    entries: &'e [AllowEntry],
    seg: &Segment,
    resolved: &Resolved,
    cwd: &str,
) -> Option<(&'e AllowEntry, Cover)> {
    let mut executable_only = None;
    for e in entries {
        match entry_matches(e, seg, resolved, cwd) {
            Some(Cover::Executable) => {
                executable_only.get_or_insert((e, Cover::Executable));
            }
            Some(cover) => return Some((e, cover)),
            None => {}
        }
    }
    executable_only
}

/// Default safe bins: stdin filters that cannot reach files given the argument rules.
pub const SAFE_BINS: &[&str] = &["cut", "uniq", "head", "tail", "tr", "wc"];
const SAFE_BIN_DIRS: &[&str] = &["/bin", "/usr/bin"];

/// Whether a segment is a safe-bin invocation (§7.4): a stdin filter from a trusted
/// directory with no file operands and no dangerous flags.
fn safe_bin(seg: &Segment, resolved: &Resolved) -> bool {
    let name = exe_name(&seg.argv[0]);
    if !SAFE_BINS.contains(&name.as_str()) || resolved.had_separator {
        return false;
    }
    let in_trusted = resolved
        .real
        .parent()
        .is_some_and(|d| SAFE_BIN_DIRS.iter().any(|t| d == Path::new(t)));
    if !in_trusted {
        return false;
    }
    let (value_flags, max_positional): (&[&str], usize) = match name.as_str() {
        "head" | "tail" => (&["-n", "-c"], 0),
        "cut" => (&["-d", "-f", "-c", "-b"], 0),
        "uniq" => (&["-f", "-s", "-w"], 0),
        "wc" => (&[], 0),
        "tr" => (&[], 2),
        _ => return false,
    };
    let denied = ["-f", "-F", "--follow", "--retry", "--files0-from"];
    let mut positional = 0;
    let mut args = seg.argv[1..].iter();
    while let Some(a) = args.next() {
        if a.contains('/') || a.starts_with('~') {
            return false;
        }
        if a.starts_with('-') && a.len() > 1 {
            if (name == "tail" && denied.contains(&a.as_str())) || a.starts_with("--files0") {
                return false;
            }
            if value_flags.contains(&a.as_str()) {
                if args.next().is_none() {
                    return false;
                }
            } else if a.starts_with("--") && !matches!(a.as_str(), "--lines" | "--bytes") {
                return false;
            }
            continue;
        }
        positional += 1;
        if positional > max_positional {
            return false;
        }
    }
    true
}

/// Why a run is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Denial {
    /// `exec.denied` reason: `security=deny`, `approval-required`, `allowlist-miss` …
    pub reason: &'static str,
    /// Which refusal (its wire token leads the message).
    pub kind: ApiDenial,
    /// What follows the token in the message.
    pub detail: String,
}

impl Denial {
    /// The message a caller sees: `TOKEN: detail`.
    #[cfg(test)]
    pub(crate) fn message(&self) -> String {
        format!("{}: {}", self.kind.token(), self.detail)
    }
}

/// The outcome of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Run this argv.
    Allow {
        /// What actually runs.
        argv: Vec<String>,
        /// Allowlist entry ids that matched (their `lastUsedAt` is recorded).
        matched: Vec<String>,
    },
    /// Refuse.
    Deny(Denial),
}

/// What the policy needs to know about the request.
#[derive(Debug, Clone)]
pub(crate) struct RunFacts<'a> {
    /// The argv requested.
    pub argv: &'a [String],
    /// The analysis of it.
    pub analysis: &'a Analysis,
    /// Working directory (canonical).
    pub cwd: &'a Path,
    /// The PATH commands resolve through.
    pub path_env: &'a str,
    /// A gateway approval is attached (and its plan matched).
    pub approved: bool,
    /// The gateway found no approver and forwards `askFallback`.
    pub ask_fallback: bool,
    /// Refuse inline programs without explicit approval.
    pub strict_inline_eval: bool,
}

/// Single-quotes a word for a POSIX shell, as a re-rendered shell payload quotes each
/// word (§8); [`super::analysis::split_payload`] reads it back as the same word.
pub(crate) fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Decides (§5) and builds the argv that runs (§8).
pub(crate) fn evaluate(facts: &RunFacts<'_>, policy: &EffectivePolicy) -> Decision {
    let mut security = policy.security;
    let mut ask = policy.ask;
    if facts.ask_fallback {
        security = security.min(policy.ask_fallback);
        ask = Ask::Off;
    }
    if security == Security::Deny {
        return Decision::Deny(Denial {
            reason: "security=deny",
            kind: ApiDenial::SystemRunDisabled,
            detail: "security=deny".into(),
        });
    }
    if facts.strict_inline_eval
        && !facts.approved
        && let Some(what) = &facts.analysis.inline_eval
    {
        return Decision::Deny(Denial {
            reason: "approval-required",
            kind: ApiDenial::SystemRunDenied,
            detail: format!(
                "approval required ({what} requires explicit approval in strictInlineEval mode)"
            ),
        });
    }
    // Match every segment.
    let cwd = facts.cwd.to_string_lossy().to_string();
    let mut matched = Vec::new();
    let mut misses: Vec<String> = Vec::new();
    // Segments allowed by an executable-only entry that use an exec-capable option.
    let mut escapes: Vec<(Escape, String)> = Vec::new();
    let mut resolved_segments = Vec::new();
    for seg in &facts.analysis.segments {
        let resolved = resolve_executable(&seg.argv[0], facts.cwd, facts.path_env);
        let Some(r) = resolved else {
            misses.push(seg.argv[0].clone());
            resolved_segments.push(None);
            continue;
        };
        match best_match(&policy.allowlist, seg, &r, &cwd) {
            Some((_, Cover::Executable)) if let Some(e) = find_escape(&seg.argv) => {
                escapes.push((e, r.real.display().to_string()));
            }
            Some((e, _)) => matched.extend(e.id.clone()),
            None if safe_bin(seg, &r) => {}
            None => misses.push(r.real.display().to_string()),
        }
        resolved_segments.push(Some(r));
    }
    let satisfied = facts.analysis.ok()
        && misses.is_empty()
        && escapes.is_empty()
        && !facts.analysis.segments.is_empty();
    let requires_ask =
        ask == Ask::Always || (ask == Ask::OnMiss && security == Security::Allowlist && !satisfied);
    let how_to_allow = || {
        if !facts.analysis.ok() {
            return format!(
                " ({}; this node has no approver: approve it through the gateway, or loosen the node's policy with `openclaw-node approvals set --security full`)",
                facts
                    .analysis
                    .failure
                    .as_deref()
                    .unwrap_or("the command could not be analysed")
            );
        }
        if misses.is_empty()
            && let Some((e, real)) = escapes.first()
        {
            let what = match e.option.as_str() {
                "" => e.tool.to_string(),
                o => format!("{} {o}", e.tool),
            };
            return format!(
                " (`{what}` {why}; an allowlist entry without an argPattern does not permit that: add an entry for {real} with an argPattern that matches these arguments (`openclaw-node approvals allow {real} --arg-pattern '<regex>'`), or approve it through the gateway)",
                why = e.why
            );
        }
        let targets: Vec<String> = misses
            .iter()
            .map(|m| format!("`openclaw-node approvals allow {m}`"))
            .collect();
        format!(
            " (this node has no approver and askFallback is {}; to allow it run {} on the node, or approve it through the gateway)",
            policy.ask_fallback.as_str(),
            targets.join(" and ")
        )
    };
    if requires_ask && !facts.approved {
        // Headless: no prompt; the miss resolves by askFallback at once.
        if !(policy.ask_fallback == Security::Full && ask != Ask::Always) {
            return Decision::Deny(Denial {
                reason: "approval-required",
                kind: ApiDenial::SystemRunDenied,
                detail: format!("approval required{}", how_to_allow()),
            });
        }
    }
    if security == Security::Allowlist
        && !satisfied
        && !facts.approved
        && policy.ask_fallback != Security::Full
    {
        return Decision::Deny(Denial {
            reason: "allowlist-miss",
            kind: ApiDenial::SystemRunDenied,
            detail: format!("allowlist miss{}", how_to_allow()),
        });
    }
    // Build the argv that runs.
    let argv = match (&facts.analysis.shell, security, satisfied) {
        (Some((shell, flag)), Security::Allowlist, true) => {
            let mut rendered = String::new();
            for (i, (seg, r)) in facts
                .analysis
                .segments
                .iter()
                .zip(&resolved_segments)
                .enumerate()
            {
                if i > 0 {
                    rendered.push(' ');
                    rendered.push_str(&facts.analysis.operators[i - 1]);
                    rendered.push(' ');
                }
                let exe = r
                    .as_ref()
                    .map(|r| r.real.display().to_string())
                    .unwrap_or_else(|| seg.argv[0].clone());
                let words: Vec<String> = std::iter::once(exe)
                    .chain(seg.argv[1..].iter().cloned())
                    .map(|w| quote(&w))
                    .collect();
                rendered.push_str(&words.join(" "));
            }
            vec![shell.clone(), flag.clone(), rendered]
        }
        (None, _, _) if facts.analysis.wrappers.is_empty() && facts.analysis.ok() => {
            let mut argv = facts.argv.to_vec();
            if let Some(Some(r)) = resolved_segments.first() {
                argv[0] = r.real.display().to_string();
            }
            argv
        }
        _ => facts.argv.to_vec(),
    };
    Decision::Allow { argv, matched }
}

#[cfg(test)]
mod tests {
    use super::super::analysis::analyze;
    use super::*;

    const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    fn policy(security: Security, patterns: &[&str]) -> EffectivePolicy {
        EffectivePolicy {
            security,
            ask: Ask::OnMiss,
            ask_fallback: Security::Deny,
            auto_allow_skills: false,
            allowlist: patterns
                .iter()
                .map(|p| AllowEntry {
                    id: Some(format!("id-{p}")),
                    pattern: p.to_string(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    fn decide(argv: &[&str], cwd: &Path, p: &EffectivePolicy) -> Decision {
        let argv = v(argv);
        let analysis = analyze(&argv);
        evaluate(
            &RunFacts {
                argv: &argv,
                analysis: &analysis,
                cwd,
                path_env: PATH,
                approved: false,
                ask_fallback: false,
                strict_inline_eval: false,
            },
            p,
        )
    }

    fn denied(d: &Decision) -> &Denial {
        match d {
            Decision::Deny(x) => x,
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    fn real(name: &str) -> String {
        std::fs::canonicalize(resolve_executable(name, Path::new("/"), PATH).unwrap().path)
            .unwrap()
            .display()
            .to_string()
    }

    fn with_arg_pattern(
        mut p: EffectivePolicy,
        pattern: &str,
        arg_pattern: &str,
    ) -> EffectivePolicy {
        p.allowlist.push(AllowEntry {
            id: Some(format!("re-{pattern}")),
            pattern: pattern.into(),
            arg_pattern: Some(arg_pattern.into()),
            ..Default::default()
        });
        p
    }

    /// argPattern is ECMAScript without flags (`new RegExp(p).test(args)` in the
    /// reference). Every expected answer below is what node 26 printed for
    /// `new RegExp(pattern).test(text)` (an `error` there is `false` here: an invalid
    /// pattern never matches).
    #[test]
    fn arg_patterns_are_ecmascript() {
        const CASES: &[(&str, &str, bool)] = &[
            (r"^\d+$", "\u{661}\u{662}\u{663}", false), // Arabic-Indic digits
            (r"^\d+$", "123", true),
            (r"^\d$", "\u{1D7D9}", false), // mathematical double-struck one
            (r"^\w+$", "café", false),
            (r"^\w+$", "abc_19", true),
            (r"^\w+$", "straße", false),
            (r"^\W$", "é", true),
            (r"^\s$", "\u{a0}", true), // NBSP
            (r"^\s$", "\u{1680}", true),
            (r"^\s$", "\u{2000}", true),
            (r"^\s$", "\u{200a}", true),
            (r"^\s$", "\u{200b}", false), // zero-width space is not white space
            (r"^\s$", "\u{2028}", true),
            (r"^\s$", "\u{2029}", true),
            (r"^\s$", "\u{202f}", true),
            (r"^\s$", "\u{205f}", true),
            (r"^\s$", "\u{3000}", true),
            (r"^\s$", "\u{feff}", true),
            (r"^\s$", "\u{85}", false), // NEL is Unicode white space, not JS
            (r"^\s$", "\u{180e}", false),
            (r"^\s$", "\u{b}", true),
            (r"^\S$", "\u{85}", true),
            (r"\bfoo\b", "éfooé", true), // é is not a word character
            (r"\bfoo\b", "-foo-", true),
            (r"\Bfoo", "éfoo", false),
            (r"^a.b$", "a\nb", false),
            (r"^a.b$", "a\rb", false),
            (r"^a.b$", "a\u{2028}b", false),
            (r"^a.b$", "a\u{85}b", true),
            (r"^a.b$", "a😀b", false), // one code point, two UTF-16 units
            (r"^[\d]+$", "\u{661}", false),
            (r"^[^\d]$", "\u{661}", true),
            (r"^[\w.-]+$", "é.x", false),
            (r"^[\s]$", "\u{3000}", true),
            (r"^[\D]$", "1", false),
            (r"^[\w-z]$", "-", true),
            (r"^\x41$", "A", true),
            (r"^\u00e9$", "é", true),
            (r"^a{2}$", "aa", true),
            (r"^a{$", "a{", true),
            (r"^{x}$", "{x}", true),
            (r"^x]$", "x]", true),
            (r"^[a[]$", "[", true),
            (r"^[a&&b]$", "&", true),
            (r"^\p{L}$", "p{L}", true), // no `u` flag: \p is a plain p
            (r"^\p{L}$", "é", false),
            (r"(?i)a", "a", false), // a syntax error in ECMAScript
            (r"^\e$", "e", true),
            (r"^\cJ$", "\n", true),
            (r"^[\b]$", "\u{8}", true),
            (r"^\-$", "-", true),
            (r"^a\/b$", "a/b", true),
            (r"x$", "x\n", false),
            (r"(?<n>ab)c", "abc", true),
            (r"^[^]$", "\n", true),
            (r"status", "git status", true),
        ];
        let mut wrong = Vec::new();
        for &(re, text, js) in CASES {
            let p = with_arg_pattern(policy(Security::Allowlist, &[]), "echo", re);
            let ours = matches!(
                decide(&["echo", text], Path::new("/"), &p),
                Decision::Allow { .. }
            );
            if ours != js {
                wrong.push(format!("{re:?} on {text:?}: node says {js}, we say {ours}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// Issue 17: with only `git`, `echo` and `sh` allowed, `git -c alias.x=!id x` ran `id`.
    /// A tool's exec-capable options need an entry whose argPattern permits them.
    #[test]
    fn attack_issue17_tool_options_that_run_commands_are_refused() {
        let allowed = [
            "git", "echo", "sh", "find", "xargs", "tar", "ssh", "awk", "sed",
        ];
        let p = policy(Security::Allowlist, &allowed);
        let refused: &[(&[&str], &str)] = &[
            (&["git", "-c", "alias.x=!id", "x"], "git -c"),
            (
                &["git", "--config-env=alias.x=EVIL", "x"],
                "git --config-env",
            ),
            (&["git", "--exec-path=/tmp", "status"], "git --exec-path"),
            (
                &["git", "fetch", "--upload-pack=id", "origin"],
                "git --upload-pack",
            ),
            (
                &["git", "push", "--receive-pack", "id", "origin"],
                "git --receive-pack",
            ),
            (&["find", ".", "-exec", "id", ";"], "find -exec"),
            (&["find", ".", "-okdir", "id", ";"], "find -okdir"),
            (&["xargs", "id"], "xargs"),
            (&["nice", "git", "-c", "alias.x=!id", "x"], "git -c"),
            (&["timeout", "5", "xargs", "id"], "xargs"),
            (
                &["tar", "-cf", "/dev/null", "--to-command=id", "."],
                "tar --to-command",
            ),
            (&["tar", "-I", "id", "-xf", "x.tar"], "tar -I"),
            (
                &["ssh", "-o", "ProxyCommand=id", "h"],
                "ssh -o ProxyCommand",
            ),
            (&["awk", "BEGIN{system(\"id\")}"], "awk system("),
            (&["sed", "1e id", "/etc/hostname"], "sed e"),
        ];
        for (argv, what) in refused {
            for argv in [
                argv.to_vec(),
                vec![
                    "sh",
                    "-c",
                    &argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "),
                ],
            ] {
                let d = decide(&argv, Path::new("/"), &p);
                let msg = denied(&d).message();
                assert!(
                    msg.starts_with("SYSTEM_RUN_DENIED: approval required ("),
                    "{argv:?}: {msg}"
                );
                assert!(
                    msg.contains(&format!("`{what}`")),
                    "{argv:?} should name {what}: {msg}"
                );
                assert!(
                    msg.contains("argPattern"),
                    "{argv:?} should name the fix: {msg}"
                );
            }
        }
        // Harmless uses of the same tools still run.
        for argv in [
            &["git", "status"][..],
            &["git", "log", "-c", "--oneline"],
            &["find", ".", "-name", "*.rs", "-print"],
            &["tar", "-tf", "x.tar"],
            &["ssh", "-o", "BatchMode=yes", "h", "uptime"],
            &["awk", "{ print $1 }"],
            &["sed", "-n", "s/a/b/gp"],
        ] {
            let d = decide(argv, Path::new("/"), &p);
            assert!(matches!(d, Decision::Allow { .. }), "{argv:?}: {d:?}");
        }
        // An entry whose argPattern matches is an explicit permission.
        let p = with_arg_pattern(p, "git", r"^-c alias\.x=!id x$");
        let d = decide(&["git", "-c", "alias.x=!id", "x"], Path::new("/"), &p);
        assert!(matches!(d, Decision::Allow { .. }), "{d:?}");
        let d = decide(&["git", "-c", "alias.y=!id", "y"], Path::new("/"), &p);
        assert!(matches!(d, Decision::Deny(_)), "{d:?}");
    }

    /// `./sh` is not a trusted transport (attack 8), so it is a plain command; a path
    /// entry that covers the real shell must not let it run an unanalysed payload.
    #[test]
    fn attack_8_relative_shell_is_not_covered_by_a_path_entry() {
        let sh = real("sh");
        let dir = Path::new(&sh).parent().unwrap().to_path_buf();
        let p = policy(Security::Allowlist, &[&format!("{}/*", dir.display())]);
        let d = decide(&["./sh", "-c", "id"], &dir, &p);
        assert!(denied(&d).message().contains("`sh`"), "{d:?}");
    }

    /// The issue's other bypass attempts with `git`, `echo` and `sh` allowed stay refused.
    #[test]
    fn attack_issue17_other_bypasses_stay_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(real("id"), dir.path().join("git")).unwrap();
        let p = policy(Security::Allowlist, &["git", "echo", "sh"]);
        for payload in [
            "echo $(id)",
            "echo `id`",
            "echo \"$(id)\"",
            "echo x > /tmp/openclaw-x",
            "echo x >> /tmp/openclaw-x",
            "git status < /etc/passwd",
            "eval id",
            "exec id",
            "echo $PATH",
            "echo ${IFS}",
            "ec* x",
            "echo ok\nid",
            "echo ok \\\nid",
            "sh -s",
            "sh -c id",
            "../../../../usr/bin/id",
            "./git",
            "env id",
            "nice id",
            "timeout 5 id",
            "nohup id",
            "stdbuf -o0 id",
            "command id",
            "command -v id",
            "sudo id",
            "setsid id",
            "xargs id",
        ] {
            let d = decide(&["sh", "-c", payload], dir.path(), &p);
            assert!(matches!(d, Decision::Deny(_)), "{payload:?} ran: {d:?}");
        }
        for argv in [&["sh", "-s"][..], &["./git"], &["sh", "./script.sh"]] {
            let d = decide(argv, dir.path(), &p);
            assert!(matches!(d, Decision::Deny(_)), "{argv:?} ran: {d:?}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("/usr/bin/*", "/usr/bin/git"));
        assert!(!glob_match("/usr/*", "/usr/bin/git"));
        assert!(glob_match("/usr/**", "/usr/bin/git"));
        assert!(glob_match("/home/**/bin/rg", "/home/a/p/q/bin/rg"));
        assert!(glob_match("g?t", "git"));
        assert!(!glob_match("g?t", "g/t"));
        assert!(!glob_match("git", "git2"));
        assert!(glob_match("***", "a/b"), "** then *");
        assert!(!glob_match("*/*", "a/b/c"));
        assert!(glob_match("", "") && !glob_match("", "a") && glob_match("*", ""));
    }

    #[test]
    fn glob_with_many_stars_against_a_long_path() {
        // A backtracking matcher never finished this (the `approvals` fuzz target found
        // the shape); it is |pattern| × |text| steps now.
        let pattern = "*a".repeat(20) + "**b";
        assert!(!glob_match(&pattern, &format!("/{}", "a".repeat(4000))));
        assert!(glob_match(&pattern, &format!("{}/b", "a".repeat(4000))));
    }

    #[test]
    fn deny_and_a_fresh_allowlist_refuse_with_advice() {
        let d = decide(&["uname"], Path::new("/"), &policy(Security::Deny, &[]));
        assert_eq!(denied(&d).message(), "SYSTEM_RUN_DISABLED: security=deny");
        let d = decide(
            &["uname", "-a"],
            Path::new("/"),
            &policy(Security::Allowlist, &[]),
        );
        let msg = &denied(&d).message();
        assert!(
            msg.starts_with("SYSTEM_RUN_DENIED: approval required"),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("openclaw-node approvals allow {}", real("uname"))),
            "{msg}"
        );
    }

    #[test]
    fn allowlisted_command_runs_pinned_to_its_real_path() {
        let p = policy(Security::Allowlist, &["uname"]);
        let Decision::Allow { argv, matched } = decide(&["uname", "-s"], Path::new("/"), &p) else {
            panic!("denied")
        };
        assert_eq!(argv, vec![real("uname"), "-s".into()]);
        assert_eq!(matched, vec!["id-uname".to_string()]);
        let Decision::Allow { .. } = decide(
            &["uname"],
            Path::new("/"),
            &policy(Security::Allowlist, &[&real("uname")]),
        ) else {
            panic!("path pattern should match")
        };
    }

    #[test]
    fn attack_7_bare_names_do_not_match_path_invocations() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("rg");
        std::fs::write(&fake, "#!/bin/sh\necho pwned\n").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = policy(Security::Allowlist, &["rg"]);
        assert!(matches!(
            decide(&["./rg"], dir.path(), &p),
            Decision::Deny(_)
        ));
        assert!(matches!(
            decide(&[fake.to_str().unwrap()], dir.path(), &p),
            Decision::Deny(_)
        ));
    }

    #[test]
    fn attack_14_symlinked_binaries_are_trusted_by_their_target() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/bin/sh", dir.path().join("uname")).unwrap();
        // An allowlisted path pattern for the real uname does not cover a symlink to sh.
        let p = policy(Security::Allowlist, &[&real("uname")]);
        let path_env = format!("{}:{PATH}", dir.path().display());
        let argv = v(&["uname"]);
        let analysis = analyze(&argv);
        let d = evaluate(
            &RunFacts {
                argv: &argv,
                analysis: &analysis,
                cwd: Path::new("/"),
                path_env: &path_env,
                approved: false,
                ask_fallback: false,
                strict_inline_eval: false,
            },
            &p,
        );
        assert!(matches!(d, Decision::Deny(_)), "{d:?}");
    }

    #[test]
    fn attack_18_every_segment_of_a_chain_is_checked() {
        let p = policy(Security::Allowlist, &["echo"]);
        let d = decide(&["sh", "-c", "echo ok; id"], Path::new("/"), &p);
        assert!(denied(&d).message().contains(&real("id")), "{d:?}");
        let Decision::Allow { argv, .. } =
            decide(&["sh", "-c", "echo ok && echo 'a b'"], Path::new("/"), &p)
        else {
            panic!("should run")
        };
        assert_eq!(argv[0], "sh");
        assert_eq!(argv[2], format!("'{0}' 'ok' && '{0}' 'a b'", real("echo")));
    }

    #[test]
    fn attack_19_20_unanalysable_payloads_are_never_allowlisted() {
        let p = policy(Security::Allowlist, &["*"]);
        // A bare * entry allows any parsed command, but not one that fails analysis.
        let d = decide(
            &["sh", "-c", "head -c${IFS}16 /etc/passwd"],
            Path::new("/"),
            &p,
        );
        assert!(matches!(d, Decision::Deny(_)));
        let d = decide(&["sh", "-c", "echo $(id)"], Path::new("/"), &p);
        assert!(matches!(d, Decision::Deny(_)));
    }

    #[test]
    fn safe_bins_run_without_allowlisting_but_not_on_files() {
        let p = policy(Security::Allowlist, &[]);
        assert!(matches!(
            decide(&["sh", "-c", "tr a b"], Path::new("/"), &p),
            Decision::Allow { .. }
        ));
        assert!(matches!(
            decide(&["head", "-c", "16"], Path::new("/"), &p),
            Decision::Allow { .. }
        ));
        assert!(matches!(
            decide(&["head", "/etc/passwd"], Path::new("/"), &p),
            Decision::Deny(_)
        ));
        assert!(matches!(
            decide(&["tail", "-f", "x"], Path::new("/"), &p),
            Decision::Deny(_)
        ));
    }

    #[test]
    fn arg_patterns_and_cwd_bound_hashes() {
        let mut p = policy(Security::Allowlist, &[]);
        p.allowlist.push(AllowEntry {
            pattern: "uname".into(),
            arg_pattern: Some("^-s$".into()),
            ..Default::default()
        });
        assert!(matches!(
            decide(&["uname", "-s"], Path::new("/"), &p),
            Decision::Allow { .. }
        ));
        assert!(matches!(
            decide(&["uname", "-a"], Path::new("/"), &p),
            Decision::Deny(_)
        ));
        let argv = v(&["uname", "-r"]);
        p.allowlist.push(AllowEntry {
            pattern: real("uname"),
            arg_pattern: Some(cwd_argv_hash("/tmp", &argv)),
            source: Some("allow-always".into()),
            ..Default::default()
        });
        assert!(matches!(
            decide(&["uname", "-r"], Path::new("/tmp"), &p),
            Decision::Allow { .. }
        ));
        assert!(matches!(
            decide(&["uname", "-r"], Path::new("/"), &p),
            Decision::Deny(_)
        ));
    }

    #[test]
    fn full_allows_and_ask_fallback_tightens() {
        let p = policy(Security::Full, &[]);
        assert!(matches!(
            decide(&["sh", "-c", "echo $(id)"], Path::new("/"), &p),
            Decision::Allow { .. }
        ));
        let argv = v(&["id"]);
        let analysis = analyze(&argv);
        let d = evaluate(
            &RunFacts {
                argv: &argv,
                analysis: &analysis,
                cwd: Path::new("/"),
                path_env: PATH,
                approved: false,
                ask_fallback: true,
                strict_inline_eval: false,
            },
            &p,
        );
        assert_eq!(denied(&d).message(), "SYSTEM_RUN_DISABLED: security=deny");
    }

    #[test]
    fn attack_23_strict_inline_eval() {
        let p = policy(Security::Full, &[]);
        let argv = v(&["python3", "-c", "print(1)"]);
        let analysis = analyze(&argv);
        let d = evaluate(
            &RunFacts {
                argv: &argv,
                analysis: &analysis,
                cwd: Path::new("/"),
                path_env: PATH,
                approved: false,
                ask_fallback: false,
                strict_inline_eval: true,
            },
            &p,
        );
        assert!(
            denied(&d)
                .message()
                .contains("requires explicit approval in strictInlineEval mode")
        );
    }

    #[test]
    fn the_document_only_tightens() {
        let mut doc = ApprovalsDoc::default();
        doc.defaults = Some(super::super::doc::PolicyFields {
            security: Some("full".into()),
            ask: Some("off".into()),
            ..Default::default()
        });
        let p = resolve_policy(&doc, "main", (Security::Allowlist, Ask::OnMiss));
        assert_eq!((p.security, p.ask), (Security::Allowlist, Ask::OnMiss));
        doc.agents.insert(
            "main".into(),
            super::super::doc::AgentPolicy {
                fields: super::super::doc::PolicyFields {
                    security: Some("deny".into()),
                    ..Default::default()
                },
                allowlist: vec![],
            },
        );
        assert_eq!(
            resolve_policy(&doc, "main", (Security::Full, Ask::Off)).security,
            Security::Deny
        );
    }
}
