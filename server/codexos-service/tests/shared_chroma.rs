//! The shared base index on a real Chroma server (`chroma run` from PyPI's chromadb, which
//! `scripts/setup-tools chroma` installs into `.tools/chroma-venv`): publish a fixture
//! repository, clone it, change it, search it; publish again; stop the server mid-session.
//! Skipped with a message when chroma is not installed, failed under CI.

use std::path::Path;

use codexos_service::index::{IndexMode, SearchHit, SearchQuery, WorkspaceIndex};
use codexos_test_support::{ChromaServer, git};

fn write(root: &Path, path: &str, text: &str) {
    std::fs::write(root.join(path), text).expect("write");
}

const TIDE: &str = "pub fn high_tide_level() -> u32 {\n    7\n}\n";
const WIND: &str = "pub fn wind_speed_knots() -> u32 {\n    12\n}\n";

/// A git repository at `root` whose first commit holds `files`.
fn commit_repository(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        write(root, path, text);
    }
    git(root, &["init", "--quiet"]);
    git(root, &["add", "."]);
    git(root, &["commit", "--quiet", "-m", "base"]);
}

/// A published repository's main branch: `files` committed, with `settings` as its own
/// untracked `codexos.toml`.
fn main_repository(settings: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let main = tempfile::tempdir().expect("temp dir");
    write(main.path(), "codexos.toml", settings);
    let mut files = files.to_vec();
    files.push((".gitignore", ".codexos/\ncodexos.toml\n"));
    commit_repository(main.path(), &files);
    main
}

/// A clone of `main` in `dir`, with `settings` as its `codexos.toml`.
fn clone_with(main: &Path, dir: &Path, settings: &str) -> std::path::PathBuf {
    let clone = dir.join("clone");
    git(
        main,
        &["clone", "--quiet", ".", clone.to_str().expect("UTF-8 path")],
    );
    write(&clone, "codexos.toml", settings);
    clone
}

fn search(index: &WorkspaceIndex, query: &str) -> Vec<SearchHit> {
    index
        .search(&SearchQuery {
            k: 20,
            ..SearchQuery::new(query)
        })
        .expect("searches")
}

fn publish(root: &Path, url: &str) -> codexos_service::index::PublishSummary {
    let index = WorkspaceIndex::open(root, IndexMode::default()).expect("opens");
    index.index_everything(&mut |_| {}).expect("indexes");
    index.publish(url).expect("publishes")
}

#[test]
fn a_clone_searches_the_published_base_for_untouched_files_and_its_overlay_for_changed_ones() {
    let Some(mut server) = ChromaServer::start_if_installed() else {
        return;
    };
    let url = server.url();

    let main = tempfile::tempdir().expect("temp dir");
    let main = main.path();
    write(
        main,
        "codexos.toml",
        &format!(
            "[index]\nembedder = \"builtin\"\nupgrade = \"none\"\n\n[index.shared]\nurl = \"{url}\"\n"
        ),
    );
    commit_repository(
        main,
        &[
            (".gitignore", ".codexos/\n"),
            ("tide.rs", TIDE),
            ("wind.rs", WIND),
            (
                "storm.rs",
                "pub fn storm_warning_flag() -> bool {\n    true\n}\n",
            ),
        ],
    );

    let first = publish(main, &url);
    assert_eq!(
        (first.removed, first.kept),
        (0, 0),
        "a first publish sends everything: {first:?}"
    );
    assert!(first.new >= 4, "a chunk per file at least: {first:?}");
    assert_eq!(first.commit, git(main, &["rev-parse", "HEAD"]).trim());

    let clone_dir = tempfile::tempdir().expect("temp dir");
    let clone = clone_dir.path().join("clone");
    git(
        main,
        &["clone", "--quiet", ".", clone.to_str().expect("UTF-8 path")],
    );
    write(
        &clone,
        "tide.rs",
        "pub fn high_tide_level() -> u32 {\n    // neap tides are lower\n    9\n}\n",
    );
    write(
        &clone,
        "current.rs",
        "pub fn ocean_current_speed() -> u32 {\n    3\n}\n",
    );
    std::fs::remove_file(clone.join("storm.rs")).expect("delete");

    // What `codexos index` and the language server run: with the base, only the overlay.
    let mut heard = Vec::new();
    let summary = WorkspaceIndex::open(&clone, IndexMode::default())
        .expect("opens")
        .index_all(&mut |progress| heard.push(progress))
        .expect("indexes the overlay");
    let last = heard.last().expect("progress reported");
    assert_eq!(
        (
            last.files_done,
            last.files_chunked,
            last.files_total,
            last.searchable
        ),
        (3, 3, 3, true),
        "the editor hears of the overlay's files, then that search is ready: {heard:?}"
    );
    assert_eq!(
        (summary.files_seen, summary.files_indexed),
        (3, 2),
        "tide.rs and current.rs indexed, storm.rs deleted: {summary:?}"
    );
    let index = WorkspaceIndex::open_for_search(&clone).expect("opens without indexing");
    let status = index.status().expect("status");
    assert_eq!(
        status.files, 2,
        "only the overlay is indexed locally (tide.rs, current.rs): {status:?}"
    );

    let wind = search(&index, "wind speed knots");
    assert_eq!(index.shared_notice(), None);
    assert_eq!(
        wind[0].path, "wind.rs",
        "the base answers for an untouched file: {wind:?}"
    );
    assert!(wind[0].text.contains("12"), "{wind:?}");

    let tide = search(&index, "high tide level");
    let tide_hits: Vec<&SearchHit> = tide.iter().filter(|hit| hit.path == "tide.rs").collect();
    assert_eq!(
        tide_hits.len(),
        1,
        "tide.rs once, from the overlay: {tide:?}"
    );
    assert!(
        tide_hits[0].text.contains("neap"),
        "the clone's text: {tide:?}"
    );

    // current.rs mentions speed once: a weak overlay hit stays below the base's wind.rs.
    assert!(
        wind.iter().position(|hit| hit.path == "current.rs")
            > wind.iter().position(|hit| hit.path == "wind.rs"),
        "{wind:?}"
    );

    let current = search(&index, "ocean current speed");
    assert_eq!(current[0].path, "current.rs", "an added file: {current:?}");

    let storm = search(&index, "storm warning flag");
    assert!(
        storm.iter().all(|hit| hit.path != "storm.rs"),
        "a deleted file is found nowhere: {storm:?}"
    );

    // A strong overlay hit outranks the base's best.
    write(
        &clone,
        "gust.rs",
        "/// Wind speed in knots, gusting: the wind speed knots plus the gust.\npub fn gust_wind_speed_knots() -> u32 {\n    wind_speed_knots() + 9\n}\n",
    );
    index
        .refresh_file(Path::new("gust.rs"), None)
        .expect("indexes gust.rs");
    let gust = search(&index, "wind speed knots");
    assert_eq!(
        (gust[0].path.as_str(), gust[1].path.as_str()),
        ("gust.rs", "wind.rs"),
        "{gust:?}"
    );

    // A commit in the clone made outside any editor (nothing re-indexed one by one): the
    // next search asks git again, since HEAD moved, and the changed file leaves the base.
    write(
        &clone,
        "wind.rs",
        "pub fn wind_speed_knots() -> u32 {\n    // a gale today\n    40\n}\n",
    );
    git(&clone, &["commit", "--quiet", "-am", "gale"]);
    index
        .refresh_file(Path::new("wind.rs"), None)
        .expect("indexes wind.rs");
    let gale = search(&index, "wind speed knots");
    let winds: Vec<&SearchHit> = gale.iter().filter(|hit| hit.path == "wind.rs").collect();
    assert_eq!(winds.len(), 1, "{gale:?}");
    assert!(winds[0].text.contains("gale"), "the clone's text: {gale:?}");

    // A merge on main changes one file: the next publish sends only its chunks.
    write(
        main,
        "wind.rs",
        "pub fn wind_speed_knots() -> u32 {\n    14\n}\n",
    );
    git(main, &["commit", "--quiet", "-am", "stronger wind"]);
    let second = publish(main, &url);
    assert_eq!(
        (second.new, second.removed, second.kept),
        (1, 1, first.new - 1),
        "one chunk changed: {second:?}"
    );
    assert!(
        second.bytes_sent < first.bytes_sent,
        "{second:?} vs {first:?}"
    );

    // The server goes away mid-session: searches answer locally and say why.
    server.stop();
    let local = search(&index, "ocean current speed");
    assert_eq!(local[0].path, "current.rs", "{local:?}");
    let notice = index.shared_notice().expect("a notice");
    assert!(
        notice.contains(&url) && notice.contains("local index only"),
        "{notice}"
    );
}

#[test]
fn a_clone_whose_upgrade_is_complete_reads_the_bases_upgrade_vectors() {
    let Some(server) = ChromaServer::start_if_installed() else {
        return;
    };
    let url = server.url();
    let settings = format!(
        "[index]\nembedder = \"builtin\"\nupgrade = \"static\"\nupgrade_after_idle_ms = 0\n\n[index.shared]\nurl = \"{url}\"\n"
    );
    let main = main_repository(&settings, &[("tide.rs", TIDE), ("wind.rs", WIND)]);
    let main = main.path();

    let upgraded = |root: &Path| {
        let index = WorkspaceIndex::open(root, IndexMode::default()).expect("opens");
        index.index_all(&mut |_| {}).expect("indexes");
        let run = index.upgrade_vectors(&mut |_| {}).expect("upgrades");
        assert!(
            matches!(run, codexos_service::index::UpgradeRun::Done(_)),
            "the static model is installed (CODEXOS_MODELS_DIR): {run:?}"
        );
        index
    };
    let published = {
        let index = upgraded(main);
        index.index_everything(&mut |_| {}).expect("indexes");
        index.publish(&url).expect("publishes")
    };
    let (upgrade_collection, sent) = published
        .upgrade
        .clone()
        .expect("the upgrade space is sent");
    assert_eq!(
        (sent.new, sent.removed),
        (published.new, 0),
        "every chunk in both spaces: {published:?}"
    );
    assert_ne!(upgrade_collection, published.collection);

    let clone_dir = tempfile::tempdir().expect("temp dir");
    let clone = clone_with(main, clone_dir.path(), &settings);
    write(
        &clone,
        "current.rs",
        "pub fn ocean_current_speed() -> u32 {\n    3\n}\n",
    );
    let index = upgraded(&clone);
    let status = index.status().expect("status");
    let base = status.shared.expect("a base").expect("reachable");
    assert_eq!(
        (base.collection.as_str(), base.overlay_files),
        (upgrade_collection.as_str(), 1),
        "{base:?}"
    );
    assert_eq!(
        Some(base.space),
        status.upgrade.map(|upgrade| upgrade.space)
    );
    let wind = search(&index, "wind speed knots");
    assert_eq!(index.shared_notice(), None);
    assert_eq!(wind[0].path, "wind.rs", "{wind:?}");
    let current = search(&index, "ocean current speed");
    assert_eq!(
        current[0].path, "current.rs",
        "the overlay, in the same space: {current:?}"
    );
}

#[test]
fn a_base_file_too_large_to_chunk_during_a_search_is_found_by_its_words_and_shows_its_first_lines()
{
    let Some(server) = ChromaServer::start_if_installed() else {
        return;
    };
    let url = server.url();
    let settings = format!(
        "[index]\nembedder = \"builtin\"\nupgrade = \"none\"\n\n[index.shared]\nurl = \"{url}\"\n"
    );
    // A generated table of 300 KB: one line names what it holds.
    let mut table = String::from("//! Generated: the zephyr gust table.\n");
    for row in 0..12000 {
        table.push_str(&format!("pub const ROW_{row}: u32 = {row};\n"));
    }
    assert!(table.len() > 256 * 1024);
    let main = main_repository(&settings, &[("table.rs", &table), ("wind.rs", WIND)]);
    publish(main.path(), &url);
    let clone_dir = tempfile::tempdir().expect("temp dir");
    let clone = clone_with(main.path(), clone_dir.path(), &settings);
    let index = WorkspaceIndex::open_for_search(&clone).expect("opens");
    let hits = index
        .search(&SearchQuery {
            files: true,
            ..SearchQuery::new("zephyr gust table")
        })
        .expect("searches");
    assert_eq!(index.shared_notice(), None);
    let table_hit = hits
        .iter()
        .find(|hit| hit.path == "table.rs")
        .unwrap_or_else(|| panic!("found by its words: {hits:?}"));
    assert!(
        table_hit.start_line == 1 && table_hit.text.contains("zephyr gust table"),
        "{table_hit:?}"
    );
}

/// A base's records name paths, and whoever writes to the Chroma server writes them: a record
/// naming a file git ignores here, a path out of the workspace or a tracked link pointing out
/// of it must never put that file's text in a search.
#[test]
fn a_forged_base_record_never_reads_an_ignored_file_a_path_outside_or_a_link_out() {
    let Some(server) = ChromaServer::start_if_installed() else {
        return;
    };
    let url = server.url();
    let outside = tempfile::tempdir().expect("temp dir");
    let secret = outside.path().join("id_rsa");
    std::fs::write(&secret, "zebra secret key material\n").expect("write");
    let settings = format!(
        "[index]\nembedder = \"builtin\"\nupgrade = \"none\"\n\n[index.shared]\nurl = \"{url}\"\n"
    );
    let main = main_repository(&settings, &[("wind.rs", WIND)]);
    std::os::unix::fs::symlink(&secret, main.path().join("link.rs")).expect("link out");
    git(main.path(), &["add", "link.rs"]);
    git(main.path(), &["commit", "--quiet", "-m", "a tracked link"]);
    let published = publish(main.path(), &url);

    let clone_dir = tempfile::tempdir().expect("temp dir");
    let clone = clone_with(main.path(), clone_dir.path(), &settings);
    std::fs::write(clone.join(".gitignore"), ".codexos/\ncodexos.toml\n.env\n").expect("write");
    write(&clone, ".env", "zebra secret token\n");
    git(&clone, &["commit", "--quiet", "-am", "ignore .env"]);

    // Someone with access to the Chroma server forges files records for those paths.
    let chroma = codexos_shared::Chroma::new(
        url.parse().expect("a chroma URL"),
        std::time::Duration::from_secs(10),
    )
    .expect("a client");
    let space = published
        .collection
        .strip_prefix(&format!("{}-", url.rsplit('/').next().expect("a name")))
        .expect("named by space")
        .to_owned();
    let collection = chroma
        .open_collection(&space)
        .expect("reachable")
        .expect("published");
    let files = chroma
        .side_collection(&collection, codexos_shared::Side::Files, false)
        .expect("reachable")
        .expect("published");
    let forged: Vec<codexos_shared::PublishedFile> = ["link.rs", ".env", "../outside/id_rsa"]
        .iter()
        .map(|path| codexos_shared::PublishedFile {
            path: (*path).to_owned(),
            document: " key:3 secret:3 zebra:3 ".to_owned(),
            terms: vec!["key".to_owned(), "secret".to_owned(), "zebra".to_owned()],
            hash: format!("forged-{}", path.len()),
        })
        .collect();
    chroma.put_files(&files, &forged).expect("forged");

    let index = WorkspaceIndex::open_for_search(&clone).expect("opens");
    let hits = index
        .search(&SearchQuery {
            files: true,
            ..SearchQuery::new("zebra secret key")
        })
        .expect("searches");
    assert_eq!(index.shared_notice(), None);
    assert!(
        hits.iter()
            .all(|hit| !hit.text.contains("zebra") && hit.path != ".env"),
        "{hits:?}"
    );
}

/// A shared server that accepts connections and never answers: every request gives up after
/// `timeout_ms`, and indexing and search go on locally, saying why.
#[test]
fn a_shared_server_that_never_answers_times_out_into_local_search_with_a_notice() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for connection in listener.incoming().flatten() {
            held.push(connection); // accepted, never read, never answered
        }
    });
    let url = format!("chroma://127.0.0.1:{port}/silent");
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    write(
        root,
        "codexos.toml",
        &format!(
            "[index]\nembedder = \"builtin\"\nupgrade = \"none\"\n\n[index.shared]\nurl = \"{url}\"\ntimeout_ms = 200\n"
        ),
    );
    commit_repository(root, &[(".gitignore", ".codexos/\n"), ("wind.rs", WIND)]);

    let index = WorkspaceIndex::open(root, IndexMode::default()).expect("opens");
    let summary = index.index_all(&mut |_| {}).expect("indexes");
    assert_eq!(summary.files_indexed, 2, "everything, locally: {summary:?}");
    // A hang would be stopped by nextest's slow-timeout; finishing at all shows the timeout.
    let hits = search(&index, "wind speed knots");
    assert_eq!(hits[0].path, "wind.rs", "{hits:?}");
    let notice = index.shared_notice().expect("a notice");
    assert!(
        notice.contains(&url)
            && notice.contains("timed out")
            && notice.contains("local index only"),
        "{notice}"
    );
}
