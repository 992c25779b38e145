//! What this node offers: the capabilities it was built with, filtered by what works here
//! (each capability's `availability()`, probed at every connect: a display may appear
//! later) and by the node-local [`CommandPolicy`]. The result of one probe is a
//! [`Surface`]: the caps, commands and permissions declared in `connect`, and the
//! handlers dispatch uses for that connection. The registry also starts the capabilities'
//! per-connection background tasks ([`Registry::background`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use openclaw_capability_api::{Availability, BackgroundContext, BoxFuture, Capability, Handler};

use crate::policy::CommandPolicy;

/// The capabilities a node was built with, and its local policy.
pub struct Registry {
    capabilities: Vec<Arc<dyn Capability>>,
    policy: CommandPolicy,
}

/// One probe of a [`Registry`]: what is declared and served on one connection.
#[derive(Clone, Default)]
pub struct Surface {
    /// Declared caps, sorted.
    pub caps: Vec<String>,
    /// Declared commands, sorted.
    pub commands: Vec<String>,
    /// Permission grants.
    pub permissions: BTreeMap<String, bool>,
    /// Handlers by command name.
    pub handlers: HashMap<String, Arc<dyn Handler>>,
    /// Commands built in but refused by the local policy (for audit logs).
    pub denied: BTreeSet<String>,
    /// Capabilities not usable here, with the reason (for `doctor` and `status`).
    pub unavailable: Vec<(String, String)>,
}

impl std::fmt::Debug for Surface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Surface")
            .field("caps", &self.caps)
            .field("commands", &self.commands)
            .field("denied", &self.denied)
            .field("unavailable", &self.unavailable)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A registry of `capabilities` under `policy`.
    pub fn new(capabilities: Vec<Arc<dyn Capability>>, policy: &CommandPolicy) -> Self {
        Self {
            capabilities,
            policy: policy.clone(),
        }
    }

    /// Probes every capability now.
    pub fn surface(&self) -> Surface {
        let mut s = Surface::default();
        let mut caps = BTreeSet::new();
        for cap in &self.capabilities {
            let names = cap.caps();
            if let Availability::Unavailable(reason) = cap.availability() {
                s.unavailable.push((names.join(","), reason));
                continue;
            }
            let mut any = false;
            for handler in cap.handlers() {
                let name = handler.name();
                if self.policy.permits(name) {
                    s.handlers.insert(name.to_string(), handler);
                    any = true;
                } else {
                    s.denied.insert(name.to_string());
                }
            }
            if any {
                caps.extend(names.iter().map(|c| c.to_string()));
                for (k, v) in cap.permissions() {
                    s.permissions.insert(k.to_string(), v);
                }
            }
        }
        s.caps = caps.into_iter().collect();
        let mut commands: Vec<String> = s.handlers.keys().cloned().collect();
        commands.sort();
        s.commands = commands;
        s
    }

    /// The per-connection background tasks of every capability (available or not: host
    /// stats do not depend on the device commands being served), each with a context
    /// from `context`.
    pub fn background(&self, mut context: impl FnMut() -> BackgroundContext) -> Vec<BoxFuture<()>> {
        self.capabilities
            .iter()
            .filter_map(|cap| cap.background(context()))
            .collect()
    }

    /// Lets every capability release what it started (node shutdown).
    pub async fn shutdown(&self) {
        for cap in &self.capabilities {
            cap.shutdown().await;
        }
    }

    /// The caps declared now, sorted.
    pub fn caps(&self) -> Vec<String> {
        self.surface().caps
    }

    /// The commands declared now, sorted.
    pub fn commands(&self) -> Vec<String> {
        self.surface().commands
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_capability_api::{CallContext, CapabilityError, Command, erase};

    struct Named(&'static str);

    impl Command for Named {
        type Params = serde_json::Value;
        type Output = serde_json::Value;
        fn name(&self) -> &'static str {
            self.0
        }
        async fn run(
            &self,
            p: serde_json::Value,
            _: CallContext,
        ) -> Result<serde_json::Value, CapabilityError> {
            Ok(p)
        }
    }

    struct Cap(&'static str, Vec<&'static str>, Availability);

    impl Capability for Cap {
        fn caps(&self) -> Vec<&'static str> {
            vec![self.0]
        }
        fn handlers(&self) -> Vec<Arc<dyn Handler>> {
            self.1.iter().map(|n| erase(Named(n))).collect()
        }
        fn availability(&self) -> Availability {
            self.2.clone()
        }
        fn permissions(&self) -> Vec<(&'static str, bool)> {
            vec![("thing", true)]
        }
    }

    #[test]
    fn surface_filters_by_availability_and_policy() {
        let caps: Vec<Arc<dyn Capability>> = vec![
            Arc::new(Cap(
                "system",
                vec!["system.which", "system.run"],
                Availability::Available,
            )),
            Arc::new(Cap(
                "screen",
                vec!["screen.snapshot"],
                Availability::Unavailable("no display".into()),
            )),
            Arc::new(Cap(
                "browser",
                vec!["browser.proxy"],
                Availability::Available,
            )),
        ];
        let policy = CommandPolicy::new(None, vec!["system.run".into(), "browser.*".into()]);
        let s = Registry::new(caps, &policy).surface();
        assert_eq!(s.caps, vec!["system"]);
        assert_eq!(s.commands, vec!["system.which"]);
        assert!(s.denied.contains("system.run") && s.denied.contains("browser.proxy"));
        assert_eq!(
            s.unavailable,
            vec![("screen".to_string(), "no display".to_string())]
        );
        assert_eq!(s.permissions.get("thing"), Some(&true));
    }
}
