//! Command analysis (spec exec-approvals.md §7): what a `system.run` argv would actually
//! execute. Dispatch wrappers (`nice`, `nohup`, `stdbuf`, `timeout`, a plain `env`) are
//! unwrapped; privilege and semantic wrappers (`sudo`, `env -S`, `env FOO=1` …) are not
//! trusted; a shell transport (`sh -lc PAYLOAD`) is parsed into segments with a
//! fail-closed tokenizer: anything it cannot be sure of (substitutions, redirections,
//! expansions, subshells, background jobs, heredocs) makes the analysis fail, which the
//! policy treats as a miss, never as a match.

/// POSIX shells recognised as a transport.
pub(crate) const SHELLS: &[&str] = &["ash", "bash", "dash", "fish", "ksh", "sh", "zsh"];
/// Wrappers that change privileges or scheduling semantics: never unwrapped.
pub(crate) const BLOCKED_WRAPPERS: &[&str] = &[
    "sudo", "doas", "chrt", "ionice", "setsid", "taskset", "flock", "su", "runuser", "chroot",
    "unshare", "nsenter",
];
/// Deepest wrapper chain analysed.
pub(crate) const MAX_WRAPPER_DEPTH: usize = 4;

/// One simple command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Its words (quotes removed).
    pub argv: Vec<String>,
}

/// What an argv amounts to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Analysis {
    /// The simple commands that would run (empty when analysis failed).
    pub segments: Vec<Segment>,
    /// Operators between segments of a shell payload (`&&`, `||`, `;`, `|`).
    pub operators: Vec<String>,
    /// The transport shell, when argv is `SHELL -c PAYLOAD`: (argv[0], its flag word).
    pub shell: Option<(String, String)>,
    /// The shell payload, when there is one.
    pub payload: Option<String>,
    /// Wrappers unwrapped in front of the command (not pinnable).
    pub wrappers: Vec<String>,
    /// `NAME=VALUE` keys assigned by an `env` wrapper (checked against the env blocklist).
    pub env_assignments: Vec<String>,
    /// Why analysis failed (then the command can only run with approval or `full`).
    pub failure: Option<String>,
    /// An interpreter's inline program (`python -c`, `node -e` …), if any segment has one.
    pub inline_eval: Option<String>,
}

impl Analysis {
    /// Whether the command was understood.
    pub(crate) fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// The base name of an executable word, lower-cased, without Windows suffixes.
pub(crate) fn exe_name(word: &str) -> String {
    let base = word
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(word)
        .to_ascii_lowercase();
    for suffix in [".exe", ".cmd", ".bat", ".com"] {
        if let Some(stripped) = base.strip_suffix(suffix) {
            return stripped.to_string();
        }
    }
    base
}

fn is_shell_word(word: &str) -> bool {
    SHELLS.contains(&exe_name(word).as_str())
}

/// Unwraps transparent dispatch wrappers. Returns the inner argv and the wrapper names,
/// or an error naming why the chain cannot be trusted.
fn unwrap_wrappers(
    argv: &[String],
    wrappers: &mut Vec<String>,
    assignments: &mut Vec<String>,
) -> Result<Vec<String>, String> {
    let mut rest: Vec<String> = argv.to_vec();
    loop {
        let Some(first) = rest.first() else {
            return Err("empty command".into());
        };
        let name = exe_name(first);
        if BLOCKED_WRAPPERS.contains(&name.as_str()) {
            return Err(format!(
                "{name} wrappers are never trusted by the allowlist"
            ));
        }
        let skip = match name.as_str() {
            "nohup" => Some(1 + usize::from(rest.get(1).is_some_and(|a| a == "--"))),
            "nice" => wrapper_options(&rest, &["-n", "--adjustment"], 0)?,
            "stdbuf" => wrapper_options(
                &rest,
                &["-i", "-o", "-e", "--input", "--output", "--error"],
                0,
            )?,
            "timeout" => wrapper_options(&rest, &["-s", "-k", "--signal", "--kill-after"], 1)?,
            "env" => {
                let mut i = 1;
                let mut semantic = false;
                while let Some(a) = rest.get(i) {
                    if a.starts_with('-') && a != "-" {
                        semantic = true;
                        i += 1;
                    } else if let Some((k, _)) = a.split_once('=') {
                        assignments.push(k.to_string());
                        semantic = true;
                        i += 1;
                    } else {
                        break;
                    }
                }
                if semantic {
                    return Err("env with assignments or options changes what runs".into());
                }
                Some(i)
            }
            _ => None,
        };
        let Some(skip) = skip else {
            return Ok(rest);
        };
        wrappers.push(name);
        if wrappers.len() >= MAX_WRAPPER_DEPTH {
            return Err(format!(
                "wrapper chain deeper than {}",
                MAX_WRAPPER_DEPTH - 1
            ));
        }
        if skip >= rest.len() {
            return Err("wrapper without a command".into());
        }
        rest = rest[skip..].to_vec();
    }
}

/// Skips a wrapper's known options (and `positional` leading operands, like timeout's
/// duration). Unknown options fail closed.
fn wrapper_options(
    argv: &[String],
    value_flags: &[&str],
    positional: usize,
) -> Result<Option<usize>, String> {
    let mut i = 1;
    let flag_only = ["--preserve-status", "--foreground", "-v", "--verbose"];
    while let Some(a) = argv.get(i) {
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-')
            || a == "-"
            || (a.len() > 1 && a[1..].starts_with(|c: char| c.is_ascii_digit()))
        {
            // nice -5 style adjustments are values.
            if a.starts_with('-') && a.len() > 1 {
                i += 1;
                continue;
            }
            break;
        }
        if flag_only.contains(&a.as_str()) {
            i += 1;
            continue;
        }
        if let Some(flag) = value_flags.iter().find(|f| a == *f) {
            let _ = flag;
            i += 2;
            continue;
        }
        if value_flags.iter().any(|f| {
            (f.starts_with("--") && a.starts_with(&format!("{f}=")))
                || (!f.starts_with("--") && a.starts_with(*f) && a.len() > f.len())
        }) {
            i += 1;
            continue;
        }
        return Err(format!("unknown option {a:?} on {}", exe_name(&argv[0])));
    }
    Ok(Some(i + positional))
}

/// Detects an interpreter running an inline program in this segment.
pub(crate) fn inline_eval(argv: &[String]) -> Option<String> {
    let name = exe_name(argv.first()?);
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let flags: &[&str] = match base {
        "python" | "pypy" => &["-c"],
        "node" | "nodejs" | "bun" | "deno" => &["-e", "--eval", "-p", "--print"],
        "ruby" | "lua" | "r" | "rscript" | "osascript" => &["-e"],
        "perl" => &["-e", "-E"],
        "php" => &["-r", "-B", "-E", "-R"],
        "julia" => &["-e", "--eval", "--print", "-E"],
        "guile" | "expect" => &["-c"],
        "erl" => &["-eval"],
        "gdb" => &["-ex", "-iex", "--eval-command"],
        "make" => &["-f", "--file", "--makefile", "--eval", "-E"],
        "find" => &["-exec", "-execdir", "-ok", "-okdir"],
        "awk" | "gawk" | "mawk" | "sed" | "xargs" => return Some(format!("{name} program")),
        _ => return None,
    };
    for a in &argv[1..] {
        if flags.contains(&a.as_str()) {
            return Some(format!("{name} {a}"));
        }
        // Clustered short flags like python -Ic.
        if base == "python" && a.starts_with('-') && !a.starts_with("--") && a.contains('c') {
            return Some(format!("{name} {a}"));
        }
    }
    None
}

/// Splits a shell payload into simple commands joined by `&&`, `||`, `;`, `|`.
/// Fails on anything whose meaning depends on the shell at run time.
pub(crate) fn split_payload(payload: &str) -> Result<(Vec<Segment>, Vec<String>), String> {
    let mut segments = Vec::new();
    let mut operators = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = payload.chars().peekable();
    let fail = |what: &str| Err(format!("shell payload uses {what}"));
    let finish_segment =
        |words: &mut Vec<String>, segments: &mut Vec<Segment>| -> Result<(), String> {
            if words.is_empty() {
                return Err("shell payload has an empty command".into());
            }
            segments.push(Segment {
                argv: std::mem::take(words),
            });
            Ok(())
        };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => word.push(ch),
                        None => return fail("an unterminated quote"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => word.push(ch),
                            Some('\n') => return fail("a line continuation"),
                            Some(ch) => {
                                word.push('\\');
                                word.push(ch);
                            }
                            None => return fail("an unterminated escape"),
                        },
                        Some('$') => return fail("an expansion"),
                        Some('`') => return fail("command substitution"),
                        Some('\n') => return fail("a newline"),
                        Some(ch) => word.push(ch),
                        None => return fail("an unterminated quote"),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') | None => return fail("a line continuation"),
                Some(ch) => {
                    in_word = true;
                    word.push(ch);
                }
            },
            '$' => return fail("an expansion"),
            '`' => return fail("command substitution"),
            '<' | '>' => return fail("a redirection"),
            '(' | ')' | '{' | '}' if !in_word => return fail("a subshell or group"),
            '\n' => return fail("a newline"),
            '#' if !in_word => {
                // A comment runs to the end of the line.
                for ch in chars.by_ref() {
                    if ch == '\n' {
                        return fail("a newline");
                    }
                }
            }
            '*' | '?' | '[' | '~' => return fail("a glob or tilde expansion"),
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            ';' | '&' | '|' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                let op = match (c, chars.peek()) {
                    ('&', Some('&')) => {
                        chars.next();
                        "&&"
                    }
                    ('|', Some('|')) => {
                        chars.next();
                        "||"
                    }
                    ('|', Some('&')) => return fail("|&"),
                    ('&', _) => return fail("a background job"),
                    (';', Some(';')) => return fail(";;"),
                    (';', _) => ";",
                    _ => "|",
                };
                finish_segment(&mut words, &mut segments)?;
                operators.push(op.to_string());
            }
            ch => {
                in_word = true;
                word.push(ch);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() && operators.last().is_some_and(|o| o == ";") && !segments.is_empty() {
        operators.pop();
    } else {
        finish_segment(&mut words, &mut segments)?;
    }
    Ok((segments, operators))
}

/// Analyses an argv.
pub(crate) fn analyze(argv: &[String]) -> Analysis {
    let mut a = Analysis::default();
    let inner = match unwrap_wrappers(argv, &mut a.wrappers, &mut a.env_assignments) {
        Ok(inner) => inner,
        Err(why) => {
            a.failure = Some(why);
            return a;
        }
    };
    let first = &inner[0];
    // A shell transport must be a real shell: a bare name or an absolute path, never a
    // relative path that could be a look-alike (`./sh -lc …`).
    let trusted_shell = is_shell_word(first) && (!first.contains('/') || first.starts_with('/'));
    let flag = inner.get(1).filter(|f| {
        f.starts_with('-')
            && !f.starts_with("--")
            && f[1..].chars().all(|c| c.is_ascii_alphabetic())
            && f.contains('c')
    });
    if trusted_shell && let Some(flag) = flag {
        let Some(payload) = inner.get(2) else {
            a.failure = Some("shell -c without a command".into());
            return a;
        };
        if inner.len() > 3 {
            a.failure = Some("positional arguments after a shell payload".into());
            return a;
        }
        a.shell = Some((first.clone(), flag.clone()));
        a.payload = Some(payload.clone());
        match split_payload(payload) {
            Ok((segments, operators)) => {
                for s in &segments {
                    let mut nested_wrappers = Vec::new();
                    let mut nested_assign = Vec::new();
                    match unwrap_wrappers(&s.argv, &mut nested_wrappers, &mut nested_assign) {
                        Ok(inner) => {
                            if is_shell_word(&inner[0]) {
                                a.failure = Some("a shell inside a shell payload".into());
                            }
                            a.segments.push(Segment { argv: inner });
                        }
                        Err(why) => {
                            a.env_assignments.extend(nested_assign);
                            a.failure = Some(why);
                        }
                    }
                    if a.inline_eval.is_none() {
                        a.inline_eval = inline_eval(&s.argv);
                    }
                }
                a.operators = operators;
            }
            Err(why) => a.failure = Some(why),
        }
        if a.failure.is_some() {
            a.segments.clear();
        }
        return a;
    }
    if trusted_shell {
        a.failure = Some("a shell running a script needs explicit approval".into());
        return a;
    }
    a.inline_eval = inline_eval(&inner);
    a.segments.push(Segment { argv: inner });
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn direct_and_transparent_wrappers() {
        let a = analyze(&v(&["git", "status"]));
        assert!(a.ok());
        assert_eq!(a.segments[0].argv, v(&["git", "status"]));
        let a = analyze(&v(&[
            "nice", "-n", "5", "nohup", "timeout", "-s", "KILL", "10", "tr", "a", "b",
        ]));
        assert!(a.ok(), "{a:?}");
        assert_eq!(a.segments[0].argv, v(&["tr", "a", "b"]));
        assert_eq!(a.wrappers, v(&["nice", "nohup", "timeout"]));
        let a = analyze(&v(&["env", "tr", "a", "b"]));
        assert!(a.ok());
        assert_eq!(a.segments[0].argv, v(&["tr", "a", "b"]));
    }

    #[test]
    fn attack_15_16_semantic_env_is_a_miss() {
        let a = analyze(&v(&["env", "-S", "sh -c \"id\""]));
        assert!(!a.ok());
        let a = analyze(&v(&["env", "FOO=bar", "tr", "a", "b"]));
        assert!(!a.ok());
        assert_eq!(a.env_assignments, v(&["FOO"]));
    }

    #[test]
    fn attack_17_deep_wrapper_chains_fail() {
        let a = analyze(&v(&["env", "env", "env", "env", "sh", "-c", "id"]));
        assert!(!a.ok(), "{a:?}");
    }

    #[test]
    fn attack_28_privilege_wrappers_fail() {
        for w in ["sudo", "doas", "setsid", "taskset", "chrt", "ionice"] {
            assert!(!analyze(&v(&[w, "id"])).ok(), "{w}");
        }
    }

    #[test]
    fn shell_payloads_split_into_segments() {
        let a = analyze(&v(&[
            "/bin/sh",
            "-lc",
            "git status && ls -la | wc -l; echo 'a b'",
        ]));
        assert!(a.ok(), "{a:?}");
        let argvs: Vec<_> = a.segments.iter().map(|s| s.argv.clone()).collect();
        assert_eq!(
            argvs,
            vec![
                v(&["git", "status"]),
                v(&["ls", "-la"]),
                v(&["wc", "-l"]),
                v(&["echo", "a b"])
            ]
        );
        assert_eq!(a.operators, v(&["&&", "|", ";"]));
    }

    #[test]
    fn attack_18_19_20_unsafe_payloads_fail_closed() {
        for p in [
            "echo $(id)",
            "echo `id`",
            "diff <(ls) <(ls)",
            "ls > /tmp/x",
            "cat < /etc/passwd",
            "(id)",
            "sleep 1 &",
            "head -c${IFS}16",
            "echo \"$HOME\"",
            "cat <<EOF\n$(id)\nEOF",
            "echo 'unterminated",
            "ls |& cat",
            "a && && b",
            "ls *",
        ] {
            let a = analyze(&v(&["sh", "-c", p]));
            assert!(!a.ok(), "{p:?} was accepted: {a:?}");
            assert!(a.segments.is_empty());
        }
        // Each segment of a chain is checked on its own by the policy.
        let a = analyze(&v(&["sh", "-c", "openclaw status; id"]));
        assert_eq!(a.segments.len(), 2);
    }

    #[test]
    fn attack_8_relative_shell_is_not_a_transport() {
        let a = analyze(&v(&["./sh", "-lc", "id"]));
        assert!(a.ok());
        assert!(a.shell.is_none());
        assert_eq!(a.segments[0].argv[0], "./sh");
    }

    #[test]
    fn attack_29_positional_carriers_fail() {
        let a = analyze(&v(&["sh", "-c", "$0 \"$1\"", "/usr/bin/touch", "x"]));
        assert!(!a.ok());
    }

    #[test]
    fn attack_23_inline_eval_is_detected() {
        assert_eq!(
            inline_eval(&v(&["python3.12", "-c", "print(1)"])).as_deref(),
            Some("python3.12 -c")
        );
        assert!(inline_eval(&v(&["python3", "-Ic", "x"])).is_some());
        assert!(inline_eval(&v(&["node", "--eval", "x"])).is_some());
        assert!(inline_eval(&v(&["awk", "BEGIN{system(\"id\")}"])).is_some());
        assert!(inline_eval(&v(&["python3", "script.py"])).is_none());
        assert!(inline_eval(&v(&["git", "-c", "x"])).is_none());
    }
}
