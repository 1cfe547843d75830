//! Where recorded runs are read from: this machine's traces (`.codexos/runs/`, the default), or
//! the team's run store (`codexos serve --runs chroma://HOST:PORT/NAME`), which every server of
//! the team writes its runs to and reads everyone's from.
//!
//! The team's store is the Chroma server the team already runs for its shared index: every
//! `codexos serve` host reaches it, and it is a database server meant to be shared (a SQLite
//! file is not safe on a disk two hosts mount). Its collection `NAME-runs` holds one record
//! per run ([`encode`]): the id is the run id, the document the run's header, trace events and
//! the events its followers were sent, the metadata what lists filter and sort on. Cancel
//! requests for a run another server owns are records too (`cancel-<run id>`, [`CANCEL`]),
//! which the owner polls for.
//!
//! Both list newest first a page at a time: the traces by their file names (run ids start with
//! their UTC start time), the store by `order` (the start second and the id's suffix) over
//! widening time windows, metadata only; neither reads a run the page does not show.

use std::path::Path;
use std::sync::Mutex;

use axum::http::StatusCode;
use codexos_agent::trace::{self, RecordedRun};
use codexos_agent::{RunEvent, RunHeader};
use codexos_shared::{Chroma, Collection, Record, RecordQuery, SharedError, SharedUrl};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// The most runs one page lists.
pub(crate) const MAX_PAGE: usize = 500;
/// Runs a page lists when the request does not say.
pub(crate) const DEFAULT_PAGE: usize = 50;
/// `kind` of a cancel request record.
const CANCEL: &str = "cancel";
/// `kind` of a run record.
const RUN: &str = "run";
/// The first time window a page of the store looks at, in `order` units (an hour); each next
/// one is eight times wider.
const FIRST_WINDOW: i64 = 3600 << 16;

/// One page of recorded runs, newest first, and the cursor of the next page (the opaque
/// `next` a client passes back as `cursor`) when there are older runs.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Page {
    pub runs: Vec<Value>,
    pub unreadable: Vec<String>,
    pub next: Option<String>,
}

/// A run's summary as `GET /v1/runs` lists it; `status` as the caller knows it (`running`
/// while a server runs it).
pub(crate) fn summary(run: &RecordedRun, status: &str) -> Value {
    let failed = run.failure().map(|(node, _)| node);
    json!({
        "run_id": run.header.run_id,
        "status": status,
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

/// The page of this machine's traces that starts after the run `cursor` (a run id): the
/// directory's names are sorted, and only the traces shown are read.
pub(crate) fn local_page(
    dir: &Path,
    cursor: Option<&str>,
    limit: usize,
    status: impl Fn(&RecordedRun) -> String,
) -> Page {
    let mut ids: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let id = name.strip_suffix(".jsonl")?;
            trace::is_run_id(id).then(|| id.to_owned())
        })
        .filter(|id| cursor.is_none_or(|cursor| id.as_str() < cursor))
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let mut page = Page::default();
    let mut ids = ids.into_iter().peekable();
    while page.runs.len() < limit {
        let Some(id) = ids.next() else { break };
        match trace::read(&dir.join(format!("{id}.jsonl"))) {
            Ok(run) => page.runs.push(summary(&run, &status(&run))),
            Err(error) => page.unreadable.push(error.to_string()),
        }
        if page.runs.len() == limit && ids.peek().is_some() {
            page.next = Some(id);
        }
    }
    page
}

/// The sort key of a run in the store: its start second, then the id's four hex digits (the
/// suffix that keeps runs of one second apart), so the store's order is the traces' order.
pub(crate) fn order(run_id: &str, started_at: u64) -> i64 {
    let suffix = run_id
        .rsplit_once('-')
        .filter(|(_, suffix)| suffix.len() == 4)
        .and_then(|(_, suffix)| i64::from_str_radix(suffix, 16).ok())
        .unwrap_or(0);
    ((started_at as i64) << 16) | suffix
}

/// A run as the store keeps it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoredRun {
    /// [`summary`] and `server` (the one that runs or ran it) and `started_by` (the token's
    /// name).
    pub summary: Value,
    pub header: RunHeader,
    /// The trace's events.
    pub events: Vec<RunEvent>,
    /// The events as the run's followers were sent them (`codexos/runEvent` payloads, tokens
    /// included), numbered as on the server that runs it, so `Last-Event-ID` holds across
    /// servers.
    pub stream: Vec<String>,
    /// When the owner last wrote the record (Unix ms): a `running` record not written for
    /// [`STALE_MS`] belongs to a server that stopped.
    pub updated_ms: u64,
}

/// How long a running run's record may go unwritten before readers take its server for gone
/// (owners write at least every [`crate::runs::HEARTBEAT`]).
pub(crate) const STALE_MS: u64 = 30_000;

impl StoredRun {
    pub fn status(&self) -> &str {
        self.summary["status"].as_str().unwrap_or("incomplete")
    }

    pub fn server(&self) -> &str {
        self.summary["server"].as_str().unwrap_or_default()
    }

    /// Whether a server is still running it, as far as the record says.
    pub fn is_running(&self, now_ms: u64) -> bool {
        self.status() == "running" && now_ms.saturating_sub(self.updated_ms) < STALE_MS
    }

    /// The summary to show: a `running` run whose server stopped writing is `incomplete`.
    pub fn shown_summary(&self, now_ms: u64) -> Value {
        shown(self.summary.clone(), self.updated_ms, now_ms)
    }
}

fn shown(mut summary: Value, updated_ms: u64, now_ms: u64) -> Value {
    if summary["status"] == "running" && now_ms.saturating_sub(updated_ms) >= STALE_MS {
        summary["status"] = "incomplete".into();
    }
    summary
}

#[derive(Serialize, Deserialize)]
struct Document {
    header: RunHeader,
    events: Vec<RunEvent>,
    stream: Vec<String>,
}

/// The store's record of `run`: the whole run in the document, what lists need in the
/// metadata (the summary as JSON text: Chroma's metadata values are scalars).
pub(crate) fn encode(run: &StoredRun) -> Result<Record, String> {
    let document = serde_json::to_string(&Document {
        header: run.header.clone(),
        events: run.events.clone(),
        stream: run.stream.clone(),
    })
    .map_err(|error| format!("the run does not serialise: {error}"))?;
    let mut metadata = Map::new();
    metadata.insert("kind".into(), RUN.into());
    metadata.insert(
        "order".into(),
        order(&run.header.run_id, run.header.started_at).into(),
    );
    metadata.insert("status".into(), run.status().into());
    metadata.insert("flow_id".into(), run.header.flow_id.clone().into());
    metadata.insert("server".into(), run.server().into());
    metadata.insert("updated_ms".into(), run.updated_ms.into());
    metadata.insert("summary".into(), run.summary.to_string().into());
    Ok(Record {
        id: run.header.run_id.clone(),
        document: Some(document),
        metadata,
    })
}

/// The summary a run record's metadata holds, and its `order`.
fn decode_summary(record: &Record) -> Result<(i64, Value, u64), String> {
    let summary = record.metadata.get("summary").and_then(Value::as_str);
    let summary: Value = summary
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or_else(|| format!("the record `{}` has no summary", record.id))?;
    let order = record.metadata.get("order").and_then(Value::as_i64);
    let updated = record.metadata.get("updated_ms").and_then(Value::as_u64);
    Ok((order.unwrap_or(0), summary, updated.unwrap_or(0)))
}

/// A run back from its record.
pub(crate) fn decode(record: &Record) -> Result<StoredRun, String> {
    let (_, summary, updated_ms) = decode_summary(record)?;
    let document: Document = record
        .document
        .as_deref()
        .ok_or_else(|| format!("the record `{}` has no document", record.id))
        .and_then(|text| {
            serde_json::from_str(text)
                .map_err(|error| format!("the record `{}` is damaged: {error}", record.id))
        })?;
    Ok(StoredRun {
        summary,
        header: document.header,
        events: document.events,
        stream: document.stream,
        updated_ms,
    })
}

/// The newest `limit` of `found` (`order`, summary), and the cursor after them when `more`
/// (there are older runs than those found) or some of `found` did not fit.
fn newest(mut found: Vec<(i64, Value)>, limit: usize, more: bool) -> (Vec<Value>, Option<String>) {
    found.sort_by_key(|(order, _)| std::cmp::Reverse(*order));
    let cut = found.len() > limit;
    found.truncate(limit);
    let next = (cut || more)
        .then(|| found.last().map(|(order, _)| order.to_string()))
        .flatten();
    (
        found.into_iter().map(|(_, summary)| summary).collect(),
        next,
    )
}

/// The team's run store.
pub(crate) struct TeamStore {
    chroma: Chroma,
    /// Found or created on first use: the store may be down when the server starts.
    collection: Mutex<Option<Collection>>,
    /// This server's name in the records it owns.
    pub server: String,
}

impl TeamStore {
    pub fn new(url: SharedUrl, server: String) -> Result<TeamStore, SharedError> {
        Ok(TeamStore {
            chroma: Chroma::new(url, std::time::Duration::from_secs(5))?,
            collection: Mutex::new(None),
            server,
        })
    }

    pub fn url(&self) -> &str {
        &self.chroma.url().url
    }

    /// Why a request failed: the store, named, is unavailable (503).
    fn unavailable(&self, error: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the run store {} cannot be used: {error}", self.url()),
        )
    }

    fn collection(&self) -> Result<Collection, ApiError> {
        let mut cached = self
            .collection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(collection) = cached.as_ref() {
            return Ok(collection.clone());
        }
        let collection = self
            .chroma
            .create_collection("runs")
            .map_err(|error| self.unavailable(error))?;
        *cached = Some(collection.clone());
        Ok(collection)
    }

    fn records(&self, query: RecordQuery) -> Result<Vec<Record>, ApiError> {
        let collection = self.collection()?;
        self.chroma
            .records(&collection, &query)
            .map_err(|error| self.unavailable(error))
    }

    /// Writes `run`'s whole record.
    pub fn put(&self, run: &StoredRun) -> Result<(), ApiError> {
        let record = encode(run).map_err(ApiError::internal)?;
        let collection = self.collection()?;
        self.chroma
            .put_records(&collection, &[record])
            .map_err(|error| self.unavailable(error))
    }

    /// The run `run_id`, if the store has it.
    pub fn get(&self, run_id: &str) -> Result<Option<StoredRun>, ApiError> {
        let records = self.records(RecordQuery {
            ids: Some(vec![run_id.to_owned()]),
            documents: true,
            ..RecordQuery::default()
        })?;
        records
            .iter()
            .find(|record| record.metadata.get("kind").and_then(Value::as_str) == Some(RUN))
            .map(decode)
            .transpose()
            .map_err(ApiError::internal)
    }

    /// The page of runs older than `cursor` (an `order`); the first window ends now.
    pub fn page(&self, cursor: Option<i64>, limit: usize, now_ms: u64) -> Result<Page, ApiError> {
        let now = order("", now_ms / 1000);
        let before = cursor.unwrap_or(i64::MAX);
        let mut high = before;
        let mut window = FIRST_WINDOW;
        let mut low = before.min(now).saturating_sub(window);
        let mut found: Vec<(i64, Value)> = Vec::new();
        let mut unreadable = Vec::new();
        let more = loop {
            let filter = json!({"$and": [
                {"kind": RUN},
                {"order": {"$gte": low}},
                {"order": {"$lt": high}},
            ]});
            for record in self.records(RecordQuery {
                filter: Some(filter),
                ..RecordQuery::default()
            })? {
                match decode_summary(&record) {
                    Ok((order, summary, updated)) => {
                        found.push((order, shown(summary, updated, now_ms)));
                    }
                    Err(error) => unreadable.push(error),
                }
            }
            let older = self.records(RecordQuery {
                filter: Some(json!({"$and": [{"kind": RUN}, {"order": {"$lt": low}}]})),
                limit: Some(1),
                ..RecordQuery::default()
            })?;
            if found.len() > limit || older.is_empty() {
                break !older.is_empty();
            }
            high = low;
            window = window.saturating_mul(8);
            low = high.saturating_sub(window);
        };
        let (runs, next) = newest(found, limit, more);
        Ok(Page {
            runs,
            unreadable,
            next,
        })
    }

    /// Asks the server that runs `run_id` to cancel it.
    pub fn request_cancel(&self, run_id: &str, server: &str) -> Result<(), ApiError> {
        let mut metadata = Map::new();
        metadata.insert("kind".into(), CANCEL.into());
        metadata.insert("server".into(), server.into());
        metadata.insert("run_id".into(), run_id.into());
        let collection = self.collection()?;
        self.chroma
            .put_records(
                &collection,
                &[Record {
                    id: format!("{CANCEL}-{run_id}"),
                    document: None,
                    metadata,
                }],
            )
            .map_err(|error| self.unavailable(error))
    }

    /// The runs other servers asked this one to cancel; each request is taken (deleted) as
    /// it is returned.
    pub fn take_cancel_requests(&self) -> Result<Vec<String>, ApiError> {
        let records = self.records(RecordQuery {
            filter: Some(json!({"$and": [{"kind": CANCEL}, {"server": self.server.as_str()}]})),
            ..RecordQuery::default()
        })?;
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = records.iter().map(|record| record.id.clone()).collect();
        let collection = self.collection()?;
        self.chroma
            .delete(&collection, &ids)
            .map_err(|error| self.unavailable(error))?;
        Ok(records
            .iter()
            .filter_map(|record| record.metadata.get("run_id")?.as_str().map(str::to_owned))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(run_id: &str, started_at: u64) -> RunHeader {
        RunHeader {
            run_id: run_id.into(),
            flow_id: "answer".into(),
            flow_path: None,
            flow_text: None,
            input: "go".into(),
            context: Vec::new(),
            started_at,
            retry_of: None,
            forked_from: None,
            agent_id: None,
        }
    }

    #[test]
    fn a_run_record_round_trips_through_its_document_and_metadata() {
        let run = StoredRun {
            summary: json!({"run_id": "20261207T100000Z-00ff", "status": "running", "server": "a:1"}),
            header: header("20261207T100000Z-00ff", 1_796_637_600),
            events: vec![RunEvent::Warning {
                node: None,
                message: "slow".into(),
            }],
            stream: vec![r#"{"kind":"token"}"#.into()],
            updated_ms: 42,
        };
        let record = encode(&run).expect("encodes");
        assert_eq!(record.id, "20261207T100000Z-00ff");
        assert_eq!(record.metadata["kind"], "run");
        assert_eq!(record.metadata["status"], "running");
        assert_eq!(record.metadata["server"], "a:1");
        assert_eq!(record.metadata["order"], (1_796_637_600i64 << 16) | 0xff);
        assert_eq!(decode(&record), Ok(run));
    }

    #[test]
    fn a_damaged_record_is_an_error_naming_it() {
        let record = Record {
            id: "r1".into(),
            document: Some("{".into()),
            metadata: Map::from_iter([("summary".to_owned(), Value::from("{}"))]),
        };
        assert!(decode(&record).unwrap_err().contains("`r1` is damaged"));
        let record = Record {
            id: "r2".into(),
            ..Record::default()
        };
        assert!(decode(&record).unwrap_err().contains("`r2` has no summary"));
    }

    #[test]
    fn runs_of_one_second_order_by_their_suffix_after_earlier_seconds() {
        assert!(order("20261207T100000Z-0001", 10) > order("20261207T095959Z-ffff", 9));
        assert!(order("20261207T100000Z-0002", 10) > order("20261207T100000Z-0001", 10));
        assert_eq!(order("odd", 10), 10 << 16);
    }

    #[test]
    fn a_page_is_the_newest_runs_and_a_cursor_only_when_older_ones_remain() {
        let found = |orders: &[i64]| -> Vec<(i64, Value)> {
            orders.iter().map(|order| (*order, json!(order))).collect()
        };
        assert_eq!(
            newest(found(&[3, 9, 5, 7]), 2, false),
            (vec![json!(9), json!(7)], Some("7".to_owned()))
        );
        assert_eq!(
            newest(found(&[3, 9]), 2, false),
            (vec![json!(9), json!(3)], None)
        );
        assert_eq!(
            newest(found(&[3, 9]), 2, true),
            (vec![json!(9), json!(3)], Some("3".to_owned()))
        );
        assert_eq!(newest(Vec::new(), 2, false), (Vec::new(), None));
    }

    #[test]
    fn local_pages_walk_the_traces_newest_first_reading_only_the_page() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (id, second) in [
            ("20261207T100000Z-0001", 1),
            ("20261207T100001Z-0001", 2),
            ("20261207T100002Z-0001", 3),
        ] {
            let line = trace::header_line(&header(id, second));
            std::fs::write(dir.path().join(format!("{id}.jsonl")), format!("{line}\n"))
                .expect("trace");
        }
        // Never read: it is past the first page.
        std::fs::write(dir.path().join("20261207T090000Z-0001.jsonl"), "not json\n")
            .expect("trace");
        let ids = |page: &Page| -> Vec<String> {
            page.runs
                .iter()
                .map(|run| run["run_id"].as_str().unwrap_or_default().to_owned())
                .collect()
        };
        let status = |_: &RecordedRun| "incomplete".to_owned();
        let first = local_page(dir.path(), None, 2, status);
        assert_eq!(
            ids(&first),
            ["20261207T100002Z-0001", "20261207T100001Z-0001"]
        );
        assert_eq!(first.unreadable, Vec::<String>::new());
        assert_eq!(first.next.as_deref(), Some("20261207T100001Z-0001"));
        let second = local_page(dir.path(), first.next.as_deref(), 2, status);
        assert_eq!(ids(&second), ["20261207T100000Z-0001"]);
        assert_eq!(second.unreadable.len(), 1, "{:?}", second.unreadable);
        assert_eq!(second.next, None);
    }
}
