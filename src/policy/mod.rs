//! The node-local command policy: which commands this node will ever advertise and serve,
//! decided here before any capability runs. The gateway cannot widen it: a command the
//! policy does not permit is never declared at connect and is refused if invoked anyway.
//!
//! Pure and table-tested; exec approvals for `system.run` (argv-level decisions) live with
//! the `system` capability, which is their only consumer.

/// `[commands] allow/deny` from the config. Patterns are exact names, `prefix.*`, or `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandPolicy {
    /// Commands permitted (`None` = every command built in).
    pub allow: Option<Vec<String>>,
    /// Commands refused; wins over `allow`.
    pub deny: Vec<String>,
}

fn matches(pattern: &str, command: &str) -> bool {
    let pattern = pattern.trim();
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix(".*") {
        Some(prefix) => command
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.')),
        None => pattern == command,
    }
}

impl CommandPolicy {
    /// A policy from config lists.
    pub fn new(allow: Option<Vec<String>>, deny: Vec<String>) -> Self {
        Self { allow, deny }
    }

    /// Whether `command` may be advertised and served.
    pub fn permits(&self, command: &str) -> bool {
        if self.deny.iter().any(|p| matches(p, command)) {
            return false;
        }
        match &self.allow {
            None => true,
            Some(list) => list.iter().any(|p| matches(p, command)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// (allow, deny, command, permitted)
    type Case = (
        Option<&'static [&'static str]>,
        &'static [&'static str],
        &'static str,
        bool,
    );

    #[test]
    fn policy_table() {
        let cases: &[Case] = &[
            (None, &[], "system.run", true),
            (None, &["system.run"], "system.run", false),
            (None, &["system.run"], "system.run.prepare", true),
            (None, &["system.*"], "system.which", false),
            (None, &["system.*"], "systemd.x", true),
            (Some(&["system.which"]), &[], "system.which", true),
            (Some(&["system.which"]), &[], "system.run", false),
            (Some(&["system.*"]), &[], "system.run", true),
            (Some(&["system.*"]), &[], "system", false),
            (Some(&["*"]), &["browser.*"], "browser.proxy", false),
            (Some(&["*"]), &["browser.*"], "screen.snapshot", true),
            (Some(&[]), &[], "system.which", false),
            (
                Some(&["system.which"]),
                &["system.which"],
                "system.which",
                false,
            ),
        ];
        for (allow, deny, command, want) in cases {
            let p = CommandPolicy::new(allow.map(list), list(deny));
            assert_eq!(p.permits(command), *want, "{allow:?} {deny:?} {command}");
        }
    }
}
