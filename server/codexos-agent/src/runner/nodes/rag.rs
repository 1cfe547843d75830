//! `rag`: retrieves chunks from the workspace index for a rendered `query`.

use crate::events::Source;
use crate::graph::NodeSpec;
use crate::runner::state::{Failure, Outcome, RunState, Scope};
use crate::services::SearchHit;

impl RunState<'_> {
    pub(super) async fn rag(
        &self,
        scope: &Scope<'_>,
        spec: &NodeSpec,
        query: &str,
        k: usize,
    ) -> Result<Outcome, Failure> {
        let query = self.render(scope, "query", query)?;
        let retriever = self
            .runner
            .retriever
            .as_ref()
            .ok_or("index not built: run `codexos index`")?;
        let chunks = tokio::select! {
            chunks = retriever.retrieve(&query, k) => chunks?,
            () = self.cancel.cancelled() => return Err(Failure::Stopped(self.stop_reason())),
        };
        Ok(Outcome {
            output: format_chunks(&chunks),
            next: spec.next.clone(),
            sources: chunks.iter().map(Source::from).collect(),
            note: Some(format!("{} chunks for \"{query}\"", chunks.len())),
            ..Outcome::default()
        })
    }
}

fn format_chunks(chunks: &[SearchHit]) -> String {
    chunks
        .iter()
        .map(|chunk| {
            format!(
                "{}:{}-{}\n{}",
                chunk.path, chunk.start_line, chunk.end_line, chunk.text
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}
