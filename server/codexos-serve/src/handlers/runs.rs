//! `/v1/runs…`: start a flow, follow its events (SSE or WebSocket, the payloads of the editor's
//! `codexos/runEvent`), cancel, retry, and read the recorded runs (the traces under
//! `.codexos/runs/`, as `codexos runs list --json` / `show --json` print them, or the team's
//! run store: see [`crate::store`]).
//!
//! With the team's store, any server lists and shows any run; a run another server runs is
//! followed from its record (polled every [`REMOTE_POLL`]), cancelled through a request its
//! server polls for, and retried only where its trace is (a retry continues from the files on
//! that host's disk).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
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
use std::time::Duration;

use super::blocking;
use crate::AppState;
use crate::audit::now_ms;
use crate::auth::TokenInfo;
use crate::error::{ApiError, JsonBody};
use crate::routes::{RunId, WS_PROTOCOL};
use crate::runs::{LiveRun, Start};
use crate::store::{self, DEFAULT_PAGE, MAX_PAGE, StoredRun, TeamStore};

/// How often a follower on a server that does not run the run reads its record again.
const REMOTE_POLL: Duration = Duration::from_millis(250);

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
    token: Option<Extension<TokenInfo>>,
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
    let run_id = state
        .runs
        .start(Start::Flow(request), started_by(token))
        .await?;
    Ok(started(run_id))
}

fn started_by(token: Option<Extension<TokenInfo>>) -> Option<String> {
    token.map(|Extension(token)| token.name)
}

/// `POST /v1/runs/{id}/retry`: the failed or cancelled run continues from where it stopped, as
/// a new run. A run whose trace is on another server of the team is a 409 naming that server.
pub(crate) async fn retry(
    State(state): State<AppState>,
    token: Option<Extension<TokenInfo>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let dir = runs_dir(state.workspace.root());
    let reference = id.clone();
    let old = match blocking(move || trace::resolve(&dir, &reference).map_err(trace_error)).await {
        Ok(old) => old,
        Err(error) if error.status == StatusCode::NOT_FOUND => match stored(&state, &id).await? {
            Some((team, run)) if run.server() != team.server => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "run `{id}` ran on the server `{}`, which holds its trace and the \
                             files it continues from: retry it there",
                        run.server()
                    ),
                ));
            }
            _ => return Err(error),
        },
        Err(error) => return Err(error),
    };
    let run_id = state
        .runs
        .start(Start::Retry(old), started_by(token))
        .await?;
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

/// The run `id` from the team's store, when there is one and it has the run.
async fn stored(
    state: &AppState,
    id: &str,
) -> Result<Option<(Arc<TeamStore>, StoredRun)>, ApiError> {
    let Some(team) = state.runs.team.clone() else {
        return Ok(None);
    };
    if !trace::is_run_id(id) {
        return Ok(None);
    }
    let (reading, id) = (team.clone(), id.to_owned());
    let run = blocking(move || reading.get(&id)).await?;
    Ok(run.map(|run| (team, run)))
}

/// `POST /v1/runs/{id}/cancel`: 202 when the run was going (it records where it stopped and
/// its stream ends with `finished`, status `cancelled`), 409 when it is over. A run another
/// server of the team runs is cancelled by that server, within about a second: the answer
/// names it.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let over = || ApiError::new(StatusCode::CONFLICT, format!("run `{id}` is over already"));
    match state.runs.cancel(&id) {
        Some(true) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "run_id": id, "cancelled": true })),
        )
            .into_response()),
        Some(false) => Err(over()),
        None => match stored(&state, &id).await? {
            Some((team, run)) if run.is_running(now_ms()) && run.server() != team.server => {
                let (server, run_id) = (run.server().to_owned(), id.clone());
                blocking(move || team.request_cancel(&run_id, &server)).await?;
                let answer = json!({ "run_id": id, "cancelled": true, "server": run.server() });
                Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
            }
            Some(_) => Err(over()),
            None => Err(ApiError::not_found(format!(
                "no run `{id}` is going on this server"
            ))),
        },
    }
}

/// `GET /v1/runs?limit=N&cursor=NEXT`: a page of the recorded runs, newest first, and `next`,
/// the cursor of the page after it (`null` on the last).
pub(crate) async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (limit, cursor) = page_query(query.as_deref())?;
    let page = match state.runs.team.clone() {
        Some(team) => {
            let cursor = cursor
                .map(|cursor| cursor.parse::<i64>().map_err(|_| bad_cursor(&cursor)))
                .transpose()?;
            blocking(move || team.page(cursor, limit, now_ms())).await?
        }
        None => {
            let dir = runs_dir(state.workspace.root());
            let reading = state.clone();
            blocking(move || {
                Ok(store::local_page(&dir, cursor.as_deref(), limit, |run| {
                    status(&reading, run).to_owned()
                }))
            })
            .await?
        }
    };
    Ok(Json(json!({
        "runs": page.runs,
        "unreadable": page.unreadable,
        "next": page.next,
    })))
}

fn bad_cursor(cursor: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("`cursor={cursor}` is not a `next` this server gave"),
    )
}

/// `limit` (1 to [`MAX_PAGE`], default [`DEFAULT_PAGE`]) and `cursor` from a query string.
fn page_query(query: Option<&str>) -> Result<(usize, Option<String>), ApiError> {
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, message);
    let (mut limit, mut cursor) = (DEFAULT_PAGE, None);
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|limit| (1..=MAX_PAGE).contains(limit))
                    .ok_or_else(|| {
                        bad(format!(
                            "`limit={value}`: give a number from 1 to {MAX_PAGE}"
                        ))
                    })?;
            }
            "cursor" if trace::is_run_id(value) => cursor = Some(value.to_owned()),
            "cursor" => return Err(bad_cursor(value)),
            _ => {
                return Err(bad(format!(
                    "unknown query parameter `{name}`: GET /v1/runs takes `limit` and `cursor`"
                )));
            }
        }
    }
    Ok((limit, cursor))
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
    if let Some((_, run)) = stored(&state, &id).await? {
        return Ok(Json(json!({
            "run": run.shown_summary(now_ms()),
            "header": run.header,
            "events": run.events,
        })));
    }
    let run = load(&state, id).await?;
    Ok(Json(json!({
        "run": store::summary(&run, status(&state, &run)),
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

/// A run's events from the first: live from memory while this server holds them; from the
/// team's store while another server runs it (read again as it goes) or once it is over; else
/// from the trace (a run this server no longer keeps, or one another process ran).
enum Followed {
    Live(Arc<LiveRun>),
    Recorded(Vec<Arc<str>>),
    Remote {
        team: Arc<TeamStore>,
        run: Box<StoredRun>,
    },
}

async fn follow(state: &AppState, id: String) -> Result<Followed, ApiError> {
    if let Some(live) = state.runs.live(&id) {
        return Ok(Followed::Live(live));
    }
    if let Some((team, run)) = stored(state, &id).await? {
        if run.is_running(now_ms()) && run.server() != team.server {
            let run = Box::new(run);
            return Ok(Followed::Remote { team, run });
        }
        return Ok(Followed::Recorded(
            run.stream
                .iter()
                .map(|event| Arc::from(event.as_str()))
                .collect(),
        ));
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

/// The events of `followed` from the `next`th on, waiting for some unless the run is over, and
/// whether it is.
async fn more(followed: &mut Followed, next: usize) -> (Vec<Arc<str>>, bool) {
    loop {
        match followed {
            Followed::Recorded(events) => {
                return (events.get(next..).unwrap_or_default().to_vec(), true);
            }
            Followed::Live(live) => {
                let (events, finished) = live.events_from(next);
                if !events.is_empty() || finished {
                    return (events, finished);
                }
                live.wait_past(next).await;
            }
            Followed::Remote { team, run } => {
                let running = run.is_running(now_ms());
                let events: Vec<Arc<str>> = run
                    .stream
                    .get(next..)
                    .unwrap_or_default()
                    .iter()
                    .map(|event| Arc::from(event.as_str()))
                    .collect();
                if !events.is_empty() || !running {
                    return (events, !running);
                }
                tokio::time::sleep(REMOTE_POLL).await;
                let (reading, run_id) = (team.clone(), run.header.run_id.clone());
                match blocking(move || reading.get(&run_id)).await {
                    Ok(Some(newer)) => **run = newer,
                    // Gone from the store: nothing more will come.
                    Ok(None) => run.summary["status"] = "incomplete".into(),
                    // The store is down: the run counts as going until its record is stale.
                    Err(error) => {
                        tracing::debug!("following {}: {}", run.header.run_id, error.message)
                    }
                }
            }
        }
    }
}

/// Every event of `followed` from the `from`th (numbered from 0), in order with its number,
/// ending after the run's end.
fn payloads(followed: Followed, from: usize) -> impl Stream<Item = (usize, Arc<str>)> {
    let pending = Vec::<Arc<str>>::new().into_iter();
    futures_util::stream::unfold(
        (followed, from, pending, false),
        |(mut followed, mut next, mut pending, mut over)| async move {
            loop {
                if let Some(event) = pending.next() {
                    next += 1;
                    return Some(((next - 1, event), (followed, next, pending, over)));
                }
                if over {
                    return None;
                }
                let (events, finished) = more(&mut followed, next).await;
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
