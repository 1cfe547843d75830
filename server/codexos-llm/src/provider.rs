//! The seam every provider plugs into: the HTTP ones here, and the in-process local model
//! that the caller registers.

use std::pin::Pin;

use futures_util::Stream;
use tokio_util::sync::CancellationToken;

use crate::error::LlmError;
use crate::types::{ChatRequest, StreamEvent};

/// A streamed answer. It ends after [`StreamEvent::Finished`] or after its first error.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, LlmError>> + Send>>;

/// Something that answers chats.
///
/// `request.model` is this provider's own name for the model (the router strips the
/// `provider/` prefix). Implementations must not block in `chat`: the work happens as the
/// stream is polled, and errors come out of the stream. An error before the first event lets
/// the router fall back to the next model; [`StreamEvent::Warning`]s do not count as a first
/// event. Dropping the stream or cancelling `cancel` must stop the work promptly; a
/// cancelled stream ends with [`LlmError::Cancelled`].
///
/// The in-process local model implements this and is registered under
/// [`crate::config::LOCAL`], which makes it the last link of every default chain.
pub trait Provider: Send + Sync {
    fn chat(&self, request: ChatRequest, cancel: CancellationToken) -> ChatStream;
}
