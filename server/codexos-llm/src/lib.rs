//! LLM providers and the router that picks one.
//!
//! - [`types`]: the provider-neutral request ([`ChatRequest`]), the streamed events
//!   ([`StreamEvent`]) and the collected answer ([`ChatResponse`]).
//! - [`wire`]: the wire formats (OpenAI-compatible SSE, Anthropic's event stream, Ollama's
//!   NDJSON) as pure, synchronous encoders and decoders.
//! - [`HttpProvider`]: those formats over reqwest, with timeouts, retries and cancellation.
//! - [`Router`]: model names to providers, fallback chains ending with the `local` model, which
//!   the caller registers as a [`Provider`].
//! - `testing` (feature `testing`): a fake provider on loopback speaking all three formats.

pub mod collect;
pub mod config;
pub mod error;
pub mod http;
pub mod provider;
pub mod router;
pub mod routing;
#[cfg(feature = "testing")]
pub mod testing;
pub mod types;
pub mod wire;

pub use collect::{ResponseBuilder, collect};
pub use config::{LlmConfig, ProviderConfig, RetryPolicy, Timeouts};
pub use error::{Attempt, AttemptOutcome, ErrorKind, LlmError};
pub use http::{HttpProvider, Probe};
pub use provider::{ChatStream, Provider};
pub use router::{RoutedStream, Router};
pub use routing::PlannedLink;
pub use tokio_util::sync::CancellationToken;
pub use types::{
    ChatRequest, ChatResponse, FinishReason, Message, ModelRef, Role, StreamEvent, ToolCall,
    ToolCallDelta, ToolDefinition, Usage,
};
pub use wire::WireFormat;
