//! `/v1/runs…`: start a flow, follow its events (SSE or WebSocket, the payloads of the editor's
//! `codexos/runEvent`), cancel, retry, and read the recorded runs (the traces under
//! `.codexos/runs/`, as `codexos runs list --json` / `show --json` print them).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use codexos_agent::trace::{self, RecordedRun};
use codexos_agent::{TraceError, runs_dir};
use codexos_service::agents::{AgentRequest, FlowSource};
use codexos_service::run_events::RunEventPayload;
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};

use super::blocking;
use crate::AppState;
use crate::error::{ApiError, JsonBody};
use crate::routes::{RunId, WS_PROTOCOL};
use crate::runs::{LiveRun, Start};

/// `POST /v1/runs` ⇐ `{flow, input?, context?, agent_id?}` (the seed's `/agent/run`): `flow` is
/// a flow file of the workspace; `context` workspace files whose text joins `{{context}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartRequest {
    flow: String,
    #[serde(default)]
    input: String,
    #[serde(default)]
    context: Vec<String>,
    #[serde(default)]
    agent_id: Option<String>,
}

pub(crate) async fn start(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<StartRequest>,
) -> Result<Response, ApiError> {
    let workspace = state.workspace.clone();
    let request = blocking(move || {
        let request = AgentRequest {
            flow: FlowSource::Path(request.flow),
            input: request.input,
            context: request.context,
            agent_id: request.agent_id,
        };
        workspace
            .run_request(request, &|_| None)
            .map_err(|error| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string()))
    })
    .await?;
    let run_id = state.runs.start(Start::Flow(request)).await?;
    Ok(started(run_id))
}

/// `POST /v1/runs/{id}/retry`: the failed or cancelled run continues from where it stopped, as
/// a new run.
pub(crate) async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let dir = runs_dir(state.workspace.root());
    let old = blocking(move || trace::resolve(&dir, &id).map_err(trace_error)).await?;
    let run_id = state.runs.start(Start::Retry(old)).await?;
    Ok(started(run_id))
}

/// 202 with where to follow the run.
fn started(run_id: String) -> Response {
    let answer = json!({
        "run_id": run_id,
        "events": format!("/v1/runs/{run_id}/events"),
        "ws": format!("/v1/runs/{run_id}/ws"),
    });
    let mut response = (StatusCode::ACCEPTED, Json(answer)).into_response();
    response.extensions_mut().insert(RunId(run_id));
    response
}

/// `POST /v1/runs/{id}/cancel`: 202 when the run was going (it records where it stopped and
/// its stream ends with `finished`, status `cancelled`), 409 when it is over.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match state.runs.cancel(&id) {
        Some(true) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "run_id": id, "cancelled": true })),
        )
            .into_response()),
        Some(false) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("run `{id}` is over already"),
        )),
        None => Err(ApiError::not_found(format!(
            "no run `{id}` is going on this server"
        ))),
    }
}

/// `GET /v1/runs`: every recorded run, newest first.
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let dir = runs_dir(state.workspace.root());
    let (runs, unreadable) = blocking(move || Ok(trace::list(&dir))).await?;
    let runs: Vec<Value> = runs.iter().map(|run| summary(&state, run)).collect();
    let unreadable: Vec<String> = unreadable.iter().map(ToString::to_string).collect();
    Ok(Json(json!({ "runs": runs, "unreadable": unreadable })))
}

fn summary(state: &AppState, run: &RecordedRun) -> Value {
    let failed = run.failure().map(|(node, _)| node);
    json!({
        "run_id": run.header.run_id,
        "status": status(state, run),
        "flow_id": run.header.flow_id,
        "flow_path": run.header.flow_path,
        "started_at": run.header.started_at,
        "elapsed_ms": run.elapsed_ms(),
        "failed_node": failed,
        "retry_of": run.header.retry_of,
        "forked_from": run.header.forked_from,
        "agent_id": run.header.agent_id,
    })
}

/// `succeeded`, `failed`, `cancelled`; `running` while this server runs it; `incomplete` when
/// its trace has no end (the process that ran it stopped).
fn status(state: &AppState, run: &RecordedRun) -> &'static str {
    match run.status() {
        Some(status) => status.as_str(),
        None => match state.runs.live(&run.header.run_id) {
            Some(live) if !live.is_finished() => "running",
            _ => "incomplete",
        },
    }
}

/// `GET /v1/runs/{id}`: the run's summary, the trace's header and events.
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let run = load(&state, id).await?;
    Ok(Json(json!({
        "run": summary(&state, &run),
        "header": run.header,
        "events": run.events,
    })))
}

async fn load(state: &AppState, id: String) -> Result<RecordedRun, ApiError> {
    let dir = runs_dir(state.workspace.root());
    blocking(move || trace::load(&dir, &id).map_err(trace_error)).await
}

fn trace_error(error: TraceError) -> ApiError {
    let status = match error {
        TraceError::NotFound { .. } | TraceError::InvalidRunId(_) => StatusCode::NOT_FOUND,
        TraceError::Ambiguous { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, error.to_string())
}

/// A run's events from the first: live from memory while this server holds them, else from
/// the trace (a run this server no longer keeps, or one another process ran).
enum Followed {
    Live(Arc<LiveRun>),
    Recorded(Vec<Arc<str>>),
}

async fn follow(state: &AppState, id: String) -> Result<Followed, ApiError> {
    if let Some(live) = state.runs.live(&id) {
        return Ok(Followed::Live(live));
    }
    let run = load(state, id).await?;
    let run_id = run.header.run_id.clone();
    let events = run
        .events
        .iter()
        .filter_map(|event| serde_json::to_string(&RunEventPayload::new(&run_id, event)).ok())
        .map(Arc::from)
        .collect();
    Ok(Followed::Recorded(events))
}

/// Every event of `followed` from the `from`th (numbered from 0), in order with its number,
/// ending after the run's end.
fn payloads(followed: Followed, from: usize) -> impl Stream<Item = (usize, Arc<str>)> {
    let pending = Vec::<Arc<str>>::new().into_iter();
    futures_util::stream::unfold(
        (followed, from, pending, false),
        |(followed, mut next, mut pending, mut over)| async move {
            loop {
                if let Some(event) = pending.next() {
                    next += 1;
                    return Some(((next - 1, event), (followed, next, pending, over)));
                }
                if over {
                    return None;
                }
                let (events, finished) = match &followed {
                    Followed::Recorded(events) => {
                        (events.get(next..).unwrap_or_default().to_vec(), true)
                    }
                    Followed::Live(live) => live.events_from(next),
                };
                if events.is_empty() && !finished {
                    if let Followed::Live(live) = &followed {
                        live.wait_past(next).await;
                    }
                    continue;
                }
                pending = events.into_iter();
                over = finished;
            }
        },
    )
}

/// `GET /v1/runs/{id}/events`: Server-Sent Events, one `data:` line per event (a
/// `codexos/runEvent` payload) with its number as `id:`, the stream ending after `finished`. A
/// client reconnecting with `Last-Event-ID` gets the events after that one.
pub(crate) async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let from = match headers.get("last-event-id") {
        None => 0,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|value| value.trim().parse::<usize>().ok())
            .map(|last| last + 1)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "Last-Event-ID is not the number of an event",
                )
            })?,
    };
    let followed = follow(&state, id).await?;
    let stream = futures_util::StreamExt::map(payloads(followed, from), |(number, payload)| {
        Ok(Event::default()
            .event("run_event")
            .id(number.to_string())
            .data(&*payload))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// `GET /v1/runs/{id}/ws`: the same events as text messages, then a close.
pub(crate) async fn websocket(
    State(state): State<AppState>,
    Path(id): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let followed = follow(&state, id).await?;
    Ok(upgrade
        .protocols([WS_PROTOCOL])
        .on_upgrade(move |socket| send_events(socket, followed)))
}

async fn send_events(mut socket: WebSocket, followed: Followed) {
    use futures_util::StreamExt;
    let mut events = std::pin::pin!(payloads(followed, 0));
    while let Some((_, payload)) = events.next().await {
        if socket
            .send(Message::Text((&*payload).into()))
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
