//! `llm`: renders the messages and asks the model chain (with tools, see
//! [`crate::runner::tool_loop`]).

use codexos_llm::Message;

use crate::graph::{LlmSpec, NodeSpec};
use crate::runner::state::{Failure, Feedback, Outcome, RunState, Scope};

impl RunState<'_> {
    pub(super) async fn llm(
        &self,
        scope: &Scope<'_>,
        spec: &NodeSpec,
        label: &str,
        llm: &LlmSpec,
        input: String,
        feedback: Option<Feedback>,
    ) -> Result<Outcome, Failure> {
        let mut messages = Vec::new();
        if let Some(system) = &llm.system {
            messages.push(Message::system(self.render(scope, "system", system)?));
        }
        let prompt = match &llm.prompt {
            Some(prompt) => self.render(scope, "prompt", prompt)?,
            None => input,
        };
        messages.push(Message::user(prompt));
        if let Some(feedback) = feedback {
            messages.push(Message::assistant(feedback.previous));
            messages.push(Message::user(feedback.critique));
        }
        let answer = self.call_llm(label, llm, &llm.models, messages).await?;
        Ok(Outcome {
            output: answer.text,
            next: spec.next.clone(),
            model: Some(answer.model),
            usage: answer.usage,
            ..Outcome::default()
        })
    }
}
