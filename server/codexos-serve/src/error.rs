//! Answers that are not a success: a status and `{"error": "…"}`, one sentence saying what to
//! change. Request bodies are read here too, so every route refuses a bad one the same way.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, what)
    }

    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message });
        (self.status, Json(body)).into_response()
    }
}

/// The largest body a request may have: axum's default limit, which applies as the body is
/// read; a body announcing more is refused before it is read.
const BODY_LIMIT: usize = 2 << 20;

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is over the limit of {} MB", BODY_LIMIT >> 20),
    )
}

/// The body of a request as `T`: malformed JSON, a missing or unknown field or a wrong type is
/// a 400 naming it (serde's message, with where in the body), a body over the limit a 413,
/// before anything happens.
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        // Refused from its announced length, before a byte of it is read.
        let announced = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|length| length.to_str().ok()?.parse::<usize>().ok());
        if announced.is_some_and(|length| length > BODY_LIMIT) {
            return Err(too_large());
        }
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => too_large(),
                    status => ApiError::new(status, rejection.body_text()),
                })?;
        if bytes.is_empty() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "the request needs a JSON body",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|error| {
                let what = match error.classify() {
                    serde_json::error::Category::Data => "invalid body",
                    _ => "malformed JSON body",
                };
                ApiError::new(StatusCode::BAD_REQUEST, format!("{what}: {error}"))
            })
    }
}
