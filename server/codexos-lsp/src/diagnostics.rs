//! Flow diagnostics, published in the background.
//!
//! Every change schedules a run for its document after a short debounce. A run that wakes up to
//! find a newer version drops out (the newer change scheduled its own); runs for one document
//! take turns on its analysis lock; the analysis itself runs on a blocking thread; and the result
//! is published, tagged with its version, only if that version is still the document's current
//! one. Closing a document clears its diagnostics behind the same lock, so a late run can never
//! re-publish them.

use std::sync::Arc;
use std::time::Duration;

use tower_lsp_server::ls_types::Uri;

use crate::convert;
use crate::session::{Session, is_flow_uri};

/// Long enough to coalesce a burst of keystrokes, short enough to feel immediate.
pub const DEBOUNCE: Duration = Duration::from_millis(75);

pub fn schedule(session: &Arc<Session>, uri: Uri, delay: Duration) {
    if !is_flow_uri(&uri) {
        return;
    }
    let Some(version) = session.version(&uri) else {
        return;
    };
    let session = session.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        if session.version(&uri) != Some(version) {
            return;
        }
        let lock = session.analysis_lock(&uri);
        let _turn = lock.lock().await;
        if session.version(&uri) != Some(version) {
            return;
        }
        let result = session
            .read(&uri, |snapshot, workspace| {
                let findings = workspace.findings(snapshot.path.as_deref(), &snapshot.flow);
                let positions = snapshot.positions();
                let diagnostics = findings
                    .iter()
                    .map(|finding| convert::diagnostic(finding, &snapshot.uri, positions))
                    .collect::<Vec<_>>();
                Some((snapshot.version, diagnostics))
            })
            .await;
        let Ok(Some((analysed, diagnostics))) = result else {
            return;
        };
        if session.version(&uri) != Some(analysed) {
            tracing::debug!(
                "{} changed during analysis: dropping v{analysed}",
                uri.as_str()
            );
            return;
        }
        tracing::debug!(
            "publishing {} diagnostics for {} v{analysed}",
            diagnostics.len(),
            uri.as_str()
        );
        session
            .client
            .publish_diagnostics(uri, diagnostics, Some(analysed))
            .await;
    });
}

/// Clears a closed document's diagnostics, after any run that is still publishing.
pub fn clear(session: &Arc<Session>, uri: Uri) {
    let session = session.clone();
    tokio::spawn(async move {
        let lock = session.analysis_lock(&uri);
        let _turn = lock.lock().await;
        if session.version(&uri).is_none() {
            session
                .client
                .publish_diagnostics(uri, Vec::new(), None)
                .await;
        }
    });
}

/// Re-checks every open flow now (after the configuration or the catalog changed).
pub fn recheck_all(session: &Arc<Session>) -> usize {
    let flows = session.open_flows();
    let count = flows.len();
    for uri in flows {
        schedule(session, uri, Duration::ZERO);
    }
    count
}
