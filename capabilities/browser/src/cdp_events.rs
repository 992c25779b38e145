//! CDP events as raw JSON, whichever way chromiumoxide delivered them.
//!
//! chromiumoxide decodes every event whose method its bundled protocol knows into a
//! generated type at the connection, before any listener sees it; its custom listeners
//! only get methods it does not know. A payload that type rejects (an enum value or a
//! field newer than the bundle) fails the whole WebSocket message, so no typed listener
//! ever gets it. The text survives in one place: the `CdpError::InvalidMessage` that the
//! CDP handler yields when `ignore_invalid_messages` is off. So an event reaches us
//! either from a typed listener (re-encoded as JSON) or from that error text through the
//! [`EventHub`]; [`merged`] joins the two into one stream of [`RawEvent`]s and the
//! listeners decode only the fields they use. Does not own what the events mean
//! (`service/events.rs`) or CDP calls (`cdp.rs`).

use std::sync::{Arc, Mutex};

use chromiumoxide::MethodType;
use chromiumoxide::cdp::IntoEventKind;
use chromiumoxide::error::CdpError;
use chromiumoxide::listeners::EventStream;
use futures_util::stream::{self, BoxStream, StreamExt as _};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;

/// One CDP event: its method, the session it came on (none for the browser target) and
/// its params as sent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawEvent {
    /// `Domain.event`.
    pub method: String,
    /// The target session, or none for the browser's own.
    #[serde(default)]
    pub session_id: Option<String>,
    /// The params object.
    #[serde(default)]
    pub params: Value,
}

impl RawEvent {
    /// The event carried by a WebSocket message chromiumoxide could not decode, if the
    /// message is an event at all.
    pub fn from_undecoded(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// Hands the events chromiumoxide could not decode to the listeners of their session.
/// One per running browser; dropping it ends the subscriptions.
#[derive(Debug, Clone, Default)]
pub struct EventHub {
    subscribers: Arc<Mutex<Vec<Subscriber>>>,
}

#[derive(Debug)]
struct Subscriber {
    session: Option<String>,
    tx: mpsc::UnboundedSender<RawEvent>,
}

impl EventHub {
    /// The undecoded events of `session` (none: the browser target's).
    pub fn subscribe(&self, session: Option<&str>) -> mpsc::UnboundedReceiver<RawEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        let session = session.map(String::from);
        self.subscribers
            .lock()
            .expect("hub lock")
            .push(Subscriber { session, tx });
        rx
    }

    /// Sends `event` to its session's subscribers, forgetting those that are gone.
    pub fn publish(&self, event: RawEvent) {
        let mut subs = self.subscribers.lock().expect("hub lock");
        subs.retain(|s| {
            !s.tx.is_closed() && (s.session != event.session_id || s.tx.send(event.clone()).is_ok())
        });
    }

    /// Takes an error from the CDP handler's stream: an event chromiumoxide could not
    /// decode is published; anything else is only logged.
    pub fn on_handler_error(&self, err: &CdpError) {
        if let CdpError::InvalidMessage(text, why) = err
            && let Some(event) = RawEvent::from_undecoded(text)
        {
            tracing::debug!(target: "browser", method = %event.method, error = %why,
                "cdp event chromiumoxide could not decode, taken raw");
            self.publish(event);
            return;
        }
        tracing::debug!(target: "browser", "cdp handler: {err}");
    }
}

/// A typed chromiumoxide listener as a stream of [`RawEvent`]s (re-encoded params).
pub fn typed<E>(
    listener: chromiumoxide::Result<EventStream<E>>,
) -> Option<BoxStream<'static, RawEvent>>
where
    E: IntoEventKind + MethodType + serde::Serialize + Unpin + Send + Sync + 'static,
{
    let method = E::method_id().to_string();
    let events = listener.ok()?.filter_map(move |ev| {
        let event = serde_json::to_value(&*ev).ok().map(|params| RawEvent {
            method: method.clone(),
            session_id: None,
            params,
        });
        async move { event }
    });
    Some(events.boxed())
}

/// The typed listeners' events joined with the hub's undecoded ones, in arrival order.
/// Ends when every typed listener has ended (the target or the browser is gone), even if
/// the hub lives on.
pub fn merged(
    typed: Vec<BoxStream<'static, RawEvent>>,
    undecoded: mpsc::UnboundedReceiver<RawEvent>,
) -> BoxStream<'static, RawEvent> {
    let typed = stream::select_all(typed)
        .map(Some)
        .chain(stream::once(async { None }));
    let undecoded = stream::unfold(undecoded, |mut rx| async move {
        rx.recv().await.map(|ev| (Some(ev), rx))
    });
    stream::select(typed, undecoded)
        .take_while(|ev| std::future::ready(ev.is_some()))
        .filter_map(std::future::ready)
        .boxed()
}

#[cfg(test)]
mod tests {
    use chromiumoxide::cdp::CdpEventMessage;
    use chromiumoxide::types::Message;

    use super::*;

    /// A `Network.requestWillBeSent` as Chromium sends it, with `resource_type` as `type`.
    fn request_will_be_sent(resource_type: &str) -> String {
        format!(
            r#"{{"method":"Network.requestWillBeSent","sessionId":"S1","params":{{"requestId":"r1","loaderId":"l1","documentURL":"https://example.com/","request":{{"url":"https://example.com/x","method":"GET","headers":{{}},"initialPriority":"High","referrerPolicy":"no-referrer"}},"timestamp":1.0,"wallTime":1.0,"initiator":{{"type":"other"}},"redirectHasExtraInfo":false,"type":"{resource_type}","aNewField":{{"x":1}}}}}}"#
        )
    }

    #[test]
    fn chromiumoxide_drops_an_event_with_a_resource_type_it_does_not_know() {
        let known = request_will_be_sent("Document");
        assert!(serde_json::from_str::<Message<CdpEventMessage>>(&known).is_ok());
        let newer = request_will_be_sent("SpeculationRules");
        let err = serde_json::from_str::<Message<CdpEventMessage>>(&newer).unwrap_err();
        assert!(err.to_string().contains("did not match"), "{err}");
        // What the handler hands back instead carries the event whole.
        let event = RawEvent::from_undecoded(&newer).unwrap();
        assert_eq!(event.method, "Network.requestWillBeSent");
        assert_eq!(event.session_id.as_deref(), Some("S1"));
        assert_eq!(event.params["type"], "SpeculationRules");
        assert!(RawEvent::from_undecoded(r#"{"id":1,"result":{}}"#).is_none());
    }

    #[tokio::test]
    async fn the_hub_routes_undecoded_events_by_session() {
        let hub = EventHub::default();
        let mut tab = hub.subscribe(Some("S1"));
        let mut browser = hub.subscribe(None);
        let text = request_will_be_sent("SpeculationRules");
        let err = CdpError::InvalidMessage(
            text.clone(),
            serde_json::from_str::<Message<CdpEventMessage>>(&text).unwrap_err(),
        );
        hub.on_handler_error(&err);
        hub.publish(RawEvent {
            method: "Browser.downloadProgress".into(),
            session_id: None,
            params: serde_json::json!({"guid": "g"}),
        });
        assert_eq!(tab.recv().await.unwrap().params["requestId"], "r1");
        assert_eq!(browser.recv().await.unwrap().params["guid"], "g");
        assert!(tab.try_recv().is_err() && browser.try_recv().is_err());
        drop(tab);
        hub.publish(RawEvent::from_undecoded(&text).unwrap());
        assert_eq!(hub.subscribers.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn merged_ends_with_the_typed_listeners() {
        let hub = EventHub::default();
        let ev = |m: &str| RawEvent {
            method: m.into(),
            session_id: Some("S1".into()),
            params: Value::Null,
        };
        hub.publish(ev("ignored: nobody subscribed yet"));
        let rx = hub.subscribe(Some("S1"));
        hub.publish(ev("raw"));
        let typed = vec![stream::iter([ev("typed")]).boxed()];
        let got: Vec<String> = merged(typed, rx).map(|e| e.method).collect().await;
        assert!(got.contains(&"typed".to_string()), "{got:?}");
        assert!(got.len() <= 2, "{got:?}");
    }
}
