//! The policy's questions in the editor: when a run needs something the user has not allowed (a
//! command, a host, a plug-in), the server asks with `window/showMessageRequest` — the exact
//! command, URL or path in the message, "Allow" (remembered in the user's trust store),
//! "Allow once" and "Deny" — and the run waits for the answer. Nothing runs before it; a dismissed
//! dialog is a "Deny". VS Code and Neovim both show these requests without a plugin.

use std::sync::{Arc, Weak};

use codexos_service::agents::{Answer, Approver, Prompt};
use futures::future::BoxFuture;
use tower_lsp_server::ls_types::{MessageActionItem, MessageType};

use crate::session::Session;

/// The buttons, in the order the editor shows them.
pub const ALLOW: &str = "Allow";
pub const ALLOW_ONCE: &str = "Allow once";
pub const DENY: &str = "Deny";

/// Asks the session's client.
pub struct EditorApprover {
    session: Weak<Session>,
}

impl EditorApprover {
    pub fn new(session: &Arc<Session>) -> EditorApprover {
        EditorApprover {
            session: Arc::downgrade(session),
        }
    }
}

impl Approver for EditorApprover {
    fn ask<'a>(&'a self, prompt: &'a Prompt) -> BoxFuture<'a, Answer> {
        Box::pin(async move {
            let Some(session) = self.session.upgrade() else {
                return Answer::Deny;
            };
            let actions = [ALLOW, ALLOW_ONCE, DENY]
                .into_iter()
                .map(|title| MessageActionItem {
                    title: title.to_owned(),
                    properties: Default::default(),
                })
                .collect();
            let answer = session
                .client
                .show_message_request(MessageType::WARNING, prompt.message(), Some(actions))
                .await;
            let answer = match answer {
                Ok(Some(item)) => answer_for(&item.title),
                Ok(None) => Answer::Deny,
                Err(error) => {
                    tracing::warn!("the editor did not answer a permission request: {error}");
                    Answer::Deny
                }
            };
            tracing::info!(tool = %prompt.tool, "asked the user to {}: {answer:?}", prompt.action);
            answer
        })
    }
}

fn answer_for(title: &str) -> Answer {
    match title {
        ALLOW => Answer::Allow,
        ALLOW_ONCE => Answer::AllowOnce,
        _ => Answer::Deny,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allow_buttons_allow() {
        assert_eq!(answer_for("Allow"), Answer::Allow);
        assert_eq!(answer_for("Allow once"), Answer::AllowOnce);
        assert_eq!(answer_for("Deny"), Answer::Deny);
        assert_eq!(answer_for("allow"), Answer::Deny, "an unknown title denies");
    }
}
