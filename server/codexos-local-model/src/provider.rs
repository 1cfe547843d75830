//! The local model as a [`Provider`]: generation runs on a blocking thread, text streams back
//! through a channel, and cancelling (or dropping the stream) stops it between two tokens.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use codexos_llm::{
    CancellationToken, ChatRequest, ChatStream, FinishReason, LlmError, ModelRef, Provider,
    StreamEvent, Usage,
};
use tokio::sync::mpsc;

use crate::{GenerationParams, LocalModel};

/// The in-process model, loaded on first use and then kept for the process's life.
#[derive(Clone)]
pub struct LocalProvider {
    path: PathBuf,
    /// One generation at a time: the model's attention cache is not shareable.
    model: Arc<Mutex<Option<LocalModel>>>,
}

impl LocalProvider {
    pub fn new(path: PathBuf) -> LocalProvider {
        LocalProvider {
            path,
            model: Arc::new(Mutex::new(None)),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

fn target(request: &ChatRequest) -> ModelRef {
    ModelRef::new("local", request.model.clone())
}

impl Provider for LocalProvider {
    fn chat(&self, request: ChatRequest, cancel: CancellationToken) -> ChatStream {
        let (tx, rx) = mpsc::channel::<Result<StreamEvent, LlmError>>(64);
        let model = Arc::clone(&self.model);
        let path = self.path.clone();
        let params = GenerationParams {
            max_tokens: request.max_tokens.map_or(256, |n| n as usize),
            temperature: request.temperature.map_or(0.0, f64::from),
            ..GenerationParams::default()
        };
        let target = target(&request);
        tokio::task::spawn_blocking(move || {
            let failed = |detail: String| LlmError::Failed {
                target: target.clone(),
                detail,
            };
            let mut guard = match model.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            let status = match guard.is_none() {
                true => format!(
                    "loading the local model ({}) and reading the prompt…",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ),
                false => "the local model is reading the prompt…".to_owned(),
            };
            if tx.blocking_send(Ok(StreamEvent::Status(status))).is_err() {
                return;
            }
            if guard.is_none() {
                match LocalModel::load(&path) {
                    Ok(loaded) => *guard = Some(loaded),
                    Err(error) => {
                        let _ = tx.blocking_send(Err(failed(error.to_string())));
                        return;
                    }
                }
            }
            let Some(model) = guard.as_mut() else { return };
            let result = model.generate(&request.messages, &params, |text| {
                !cancel.is_cancelled()
                    && tx
                        .blocking_send(Ok(StreamEvent::TextDelta(text.to_owned())))
                        .is_ok()
            });
            let events = match result {
                _ if cancel.is_cancelled() => vec![Err(LlmError::Cancelled { target })],
                Ok(generation) => vec![
                    Ok(StreamEvent::Usage(Usage {
                        prompt_tokens: generation.prompt_tokens as u32,
                        completion_tokens: generation.completion_tokens as u32,
                    })),
                    Ok(StreamEvent::Finished(if generation.stopped {
                        FinishReason::Stop
                    } else {
                        FinishReason::Length
                    })),
                ],
                Err(error) => vec![Err(failed(error.to_string()))],
            };
            for event in events {
                if tx.blocking_send(event).is_err() {
                    break;
                }
            }
        });
        Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|event| (event, rx))
        }))
    }
}
