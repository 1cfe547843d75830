//! `reflect`: critiques its target's answer and runs the target again until `until` holds or
//! `max_iterations` is reached.

use codexos_llm::Message;

use crate::events::TokenUsage;
use crate::graph::{LlmSpec, ReflectSpec};
use crate::runner::state::{Failure, Feedback, Outcome, RunState, Scope, lock};

impl RunState<'_> {
    pub(super) async fn reflect(
        &self,
        scope: &Scope<'_>,
        node: usize,
        label: &str,
        reflect: &ReflectSpec,
    ) -> Result<Outcome, Failure> {
        let spec = &scope.graph.nodes[node];
        let target = reflect.target;
        let target_id = &scope.graph.nodes[target].id;
        let mut usage = TokenUsage::default();
        let mut iterations = 0;
        let held = loop {
            let previous = lock(&scope.outputs).get(&target).cloned().ok_or_else(|| {
                format!("`target`: node `{target_id}` has not run yet, so there is nothing to reflect on")
            })?;
            if let Some((source, expr)) = &reflect.until
                && self.evaluate(scope, "until", source, expr)?
            {
                break true;
            }
            if iterations == reflect.max_iterations {
                break false;
            }
            iterations += 1;
            let request = match &reflect.prompt {
                Some(prompt) => self.render(scope, "prompt", prompt)?,
                None => format!("Critique this answer and say how to improve it:\n\n{previous}"),
            };
            let critique = if reflect.models.is_empty() {
                request
            } else {
                let critic = LlmSpec {
                    models: reflect.models.clone(),
                    system: None,
                    prompt: None,
                    temperature: None,
                    max_tokens: None,
                    tools: Vec::new(),
                };
                let answer = self
                    .call_llm(label, &critic, &critic.models, vec![Message::user(request)])
                    .await?;
                usage.add(answer.usage);
                answer.text
            };
            let input = self.default_input(scope, target, &[]);
            let feedback = Feedback { previous, critique };
            self.run_node(scope, target, input, iterations, Some(feedback))
                .await?;
        };
        let output = lock(&scope.outputs)
            .get(&target)
            .cloned()
            .unwrap_or_default();
        let note = match (&reflect.until, held) {
            (Some(_), true) => format!("`until` held after {iterations} re-runs of `{target_id}`"),
            (Some(_), false) => format!(
                "`until` still did not hold after {iterations} re-runs of `{target_id}` (the bound)"
            ),
            (None, _) => format!("`{target_id}` ran again {iterations} times"),
        };
        if reflect.until.is_some() && !held {
            self.warn(Some(label.to_owned()), note.clone());
        }
        Ok(Outcome {
            output,
            next: spec.next.clone(),
            usage,
            note: Some(note),
            ..Outcome::default()
        })
    }
}
