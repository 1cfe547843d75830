//! The router: routes a request's model names to providers and walks the fallback chain until
//! one of them starts answering.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt, stream};
use tokio_util::sync::CancellationToken;

use crate::collect::ResponseBuilder;
use crate::config::LlmConfig;
use crate::error::{Attempt, AttemptOutcome, ErrorKind, LlmError};
use crate::http::HttpProvider;
use crate::provider::{ChatStream, Provider};
use crate::routing::{PlannedLink, RouteTable};
use crate::types::{ChatRequest, ChatResponse, ModelRef, StreamEvent};

pub struct Router {
    table: RouteTable,
    providers: HashMap<String, Arc<dyn Provider>>,
    fallbacks: Vec<String>,
}

impl Router {
    /// A router over the configured HTTP providers. Providers that cannot be called (no key,
    /// a base URL that is not one) stay in the table, so that chains naming them say why they
    /// were skipped and the rest of the chain still runs.
    pub fn new(config: &LlmConfig) -> Router {
        let mut table = RouteTable::new(&config.default_provider);
        let mut providers: HashMap<String, Arc<dyn Provider>> = HashMap::new();
        for (id, provider) in &config.providers {
            let unavailable = match provider.unavailable_reason() {
                Some(reason) => Some(reason),
                None => match HttpProvider::new(id, provider.clone()) {
                    Ok(http) => {
                        providers.insert(id.clone(), Arc::new(http));
                        None
                    }
                    Err(err) => Some(err.to_string()),
                },
            };
            table.add(id, provider.default_model.clone(), unavailable);
            table.serve(id, &provider.models);
        }
        Router {
            table,
            providers,
            fallbacks: config.fallbacks.clone(),
        }
    }

    /// Adds a provider that is not configured over HTTP, such as the in-process model under
    /// [`crate::config::LOCAL`], replacing any provider with that id.
    pub fn register(
        &mut self,
        id: impl Into<String>,
        provider: Arc<dyn Provider>,
        default_model: Option<String>,
    ) {
        let id = id.into();
        self.table.add(&id, default_model, None);
        self.providers.insert(id, provider);
    }

    /// The chain `request` would walk, with the links that will be skipped and why. A flow
    /// check can show this before anything runs.
    pub fn plan(&self, request: &ChatRequest) -> Vec<PlannedLink> {
        self.table.plan(request, &self.fallbacks)
    }

    /// Starts the answer from the first model in the chain that produces an event. Links
    /// that are skipped or fail before their first event are recorded in
    /// [`RoutedStream::attempts`]; an error after the first event ends the stream (the caller
    /// has seen part of that model's answer, so another model cannot take over silently).
    pub async fn stream(
        &self,
        request: ChatRequest,
        cancel: CancellationToken,
    ) -> Result<RoutedStream, LlmError> {
        let plan = self.plan(&request);
        let first_requested = plan.first().map(|link| link.requested.clone());
        let mut attempts = Vec::new();
        for link in plan {
            let record = |outcome, kind| Attempt {
                requested: link.requested.clone(),
                target: link.target.clone(),
                outcome,
                kind,
            };
            let target = match (&link.target, &link.skip) {
                (Some(target), None) => target.clone(),
                (_, skip) => {
                    let reason = skip.clone().unwrap_or_default();
                    attempts.push(record(AttemptOutcome::Skipped(reason), None));
                    continue;
                }
            };
            let Some(provider) = self.providers.get(&target.provider) else {
                let reason = format!("provider `{}` is not registered", target.provider);
                attempts.push(record(AttemptOutcome::Skipped(reason), None));
                continue;
            };
            if cancel.is_cancelled() {
                return Err(LlmError::Cancelled { target });
            }
            let mut provider_request = request.clone();
            provider_request.model = target.model.clone();
            provider_request.fallback_models.clear();
            let mut events = provider.chat(provider_request, cancel.clone());
            let mut early = Vec::new();
            let failure = loop {
                match events.next().await {
                    Some(Ok(StreamEvent::Warning(warning))) => early.push(warning),
                    Some(Ok(first)) => {
                        let warnings = substitution_warning(
                            &target,
                            &link,
                            first_requested.as_deref(),
                            &attempts,
                        )
                        .into_iter()
                        .collect();
                        let opening = early
                            .into_iter()
                            .map(StreamEvent::Warning)
                            .chain([first])
                            .map(Ok);
                        return Ok(RoutedStream {
                            answered_by: target,
                            attempts,
                            warnings,
                            events: Box::pin(stream::iter(opening).chain(events)),
                        });
                    }
                    Some(Err(err)) if err.is_cancelled() => return Err(err),
                    Some(Err(err)) => break (err.to_string(), err.kind()),
                    None => {
                        let message = format!("{target}: the stream ended without any output");
                        break (message, ErrorKind::Other);
                    }
                }
            };
            let (mut message, kind) = failure;
            for warning in early {
                message.push_str(&format!(" (before that: {warning})"));
            }
            attempts.push(record(AttemptOutcome::Failed(message), Some(kind)));
        }
        Err(LlmError::NoModelAnswered { attempts })
    }

    /// [`Router::stream`], collected.
    pub async fn chat(
        &self,
        request: ChatRequest,
        cancel: CancellationToken,
    ) -> Result<ChatResponse, LlmError> {
        self.stream(request, cancel).await?.collect().await
    }
}

/// The one line a run log gets when a model other than the requested one answers: which one,
/// in place of what, and why the links before it were passed over. None when the request's own
/// chain named the model that answered and nothing failed on the way: the user asked for it.
fn substitution_warning(
    target: &ModelRef,
    link: &PlannedLink,
    first_requested: Option<&str>,
    attempts: &[Attempt],
) -> Option<String> {
    let requested = first_requested.filter(|requested| *requested != link.requested)?;
    let failed = attempts
        .iter()
        .any(|attempt| matches!(attempt.outcome, AttemptOutcome::Failed(_)));
    if link.named_by_request && !failed {
        return None;
    }
    let reasons: Vec<String> = attempts.iter().map(ToString::to_string).collect();
    Some(format!(
        "{target} answered in place of `{requested}`: {}",
        reasons.join("; ")
    ))
}

/// An answer in progress, from the model that took it.
pub struct RoutedStream {
    /// The model that answers, which may be a fallback.
    pub answered_by: ModelRef,
    /// The links before it that were skipped or failed.
    pub attempts: Vec<Attempt>,
    /// One line when a fallback answers, naming why the links before it were passed over.
    pub warnings: Vec<String>,
    events: ChatStream,
}

impl RoutedStream {
    /// Reads the rest of the answer.
    pub async fn collect(mut self) -> Result<ChatResponse, LlmError> {
        let mut builder = ResponseBuilder::default();
        for warning in std::mem::take(&mut self.warnings) {
            builder.warn(warning);
        }
        while let Some(event) = self.events.next().await {
            builder.push(event?);
        }
        builder.finish(self.answered_by)
    }
}

impl Stream for RoutedStream {
    type Item = Result<StreamEvent, LlmError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.as_mut().poll_next(cx)
    }
}
