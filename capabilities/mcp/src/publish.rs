//! `node.pluginTools.update` on one gateway connection (parity §2.1, §2.5): the catalog's
//! params (even `{tools: []}`) followed into the generic publisher
//! ([`openclaw_capability_api::publish`]), which owns sending, dedupe, the failure classes
//! and the backoff.

use std::sync::Arc;

use openclaw_capability_api::BackgroundContext;
use openclaw_capability_api::publish::{self, Publication};
use tokio::sync::watch;

use crate::catalog::Catalog;

/// The method.
pub const METHOD: &str = "node.pluginTools.update";

/// What the publisher publishes (label `plugin tool`).
pub const PUBLICATION: Publication = Publication {
    method: METHOD,
    label: "plugin tool",
    resend_on_approval: false,
};

/// Publishes the catalog on one connection until `ctx.stop`.
pub(crate) async fn run(mut catalog: watch::Receiver<Arc<Catalog>>, ctx: BackgroundContext) {
    let (params, rx) = watch::channel(catalog.borrow_and_update().update_params());
    let follow = async move {
        while catalog.changed().await.is_ok() {
            params.send_replace(catalog.borrow_and_update().update_params());
        }
        // The catalog is gone: its last params stay published.
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = follow => {}
        _ = publish::run(PUBLICATION, rx, ctx) => {}
    }
}
