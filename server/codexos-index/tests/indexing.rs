//! The indexer on real workspaces in temporary folders, with the real store and the
//! built-in embedder (counted, to prove what is and is not re-embedded).

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use codexos_embed::{EmbedError, Embedder, HashingEmbedder, SpaceId};
use codexos_index::{
    FileOutcome, HitSource, IndexError, IndexSettings, IndexSummary, Indexer, OpenOptions,
    SearchHit, SearchMode, SearchRequest, SkipReason,
};
use common::write;

/// The built-in embedder, counting the texts it embeds.
#[derive(Default)]
struct CountingEmbedder {
    inner: HashingEmbedder,
    texts: AtomicUsize,
}

impl Embedder for CountingEmbedder {
    fn space(&self) -> &SpaceId {
        self.inner.space()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.texts.fetch_add(texts.len(), Ordering::SeqCst);
        self.inner.embed(texts)
    }
}

fn fixture(root: &Path) {
    write(root, "src/lib.rs", "pub mod parse;\npub mod print;\n");
    write(
        root,
        "src/parse.rs",
        r#"
/// Parses one header line into a name and a value.
pub fn parse_header(line: &str) -> Option<(&str, &str)> {
    line.split_once(':')
}
"#,
    );
    write(
        root,
        "src/print.rs",
        r#"
/// Prints a match with its line number.
pub fn print_match(number: usize, line: &str) {
    println!("{number}:{line}");
}
"#,
    );
    write(root, "README.md", "# Fixture\n\nA tiny workspace.\n");
}

fn index(indexer: &Indexer) -> IndexSummary {
    indexer
        .index_all(&mut |_| {}, &AtomicBool::new(false))
        .unwrap()
}

fn open(root: &Path, embedder: Arc<CountingEmbedder>) -> Indexer {
    Indexer::open(
        root,
        embedder,
        IndexSettings::default(),
        &OpenOptions::default(),
    )
    .unwrap()
}

/// An indexer with `root`'s `codexos.toml` settings and the built-in embedder.
fn open_configured(root: &Path) -> Indexer {
    Indexer::open(
        root,
        Arc::new(HashingEmbedder::new()),
        IndexSettings::load(root).unwrap(),
        &OpenOptions::default(),
    )
    .unwrap()
}

#[test]
fn unchanged_files_are_never_re_embedded_and_a_changed_file_alone_is() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let embedder = Arc::new(CountingEmbedder::default());
    let indexer = open(dir.path(), Arc::clone(&embedder));
    let first = index(&indexer);
    assert_eq!((first.files_indexed, first.files_unchanged), (4, 0));
    let embedded_first = embedder.texts.load(Ordering::SeqCst);
    assert_eq!(embedded_first, first.chunks_written);

    let again = index(&indexer);
    assert_eq!((again.files_indexed, again.files_unchanged), (0, 4));
    assert_eq!(
        embedder.texts.load(Ordering::SeqCst),
        embedded_first,
        "nothing re-embedded"
    );

    write(dir.path(), "src/print.rs", "pub fn print_all() {}\n");
    let outcome = indexer.reindex_file(Path::new("src/print.rs")).unwrap();
    assert_eq!(outcome, FileOutcome::Indexed { chunks: 1 });
    assert_eq!(
        embedder.texts.load(Ordering::SeqCst),
        embedded_first + 1,
        "only the edited file's chunk"
    );
    assert_eq!(
        indexer.reindex_file(Path::new("src/print.rs")).unwrap(),
        FileOutcome::Unchanged
    );
    assert!(indexer.store().check_consistency().unwrap().is_consistent());
}

#[test]
fn deleted_files_leave_the_index_on_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let indexer = open(dir.path(), Arc::default());
    index(&indexer);
    std::fs::remove_file(dir.path().join("src/print.rs")).unwrap();
    let summary = index(&indexer);
    assert_eq!(summary.files_removed, 1);
    assert!(indexer.store().file("src/print.rs").unwrap().is_none());
    assert!(indexer.store().check_consistency().unwrap().is_consistent());
}

#[test]
fn gitignored_hidden_and_codexos_toml_excluded_files_are_not_indexed() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    write(dir.path(), ".gitignore", "target/\n");
    write(dir.path(), "target/debug/out.rs", "fn generated() {}\n");
    write(dir.path(), ".hidden/secret.rs", "fn hidden() {}\n");
    write(dir.path(), "vendor/dep.rs", "fn vendored() {}\n");
    write(
        dir.path(),
        "codexos.toml",
        "[index]\nexclude = [\"vendor/**\"]\n",
    );
    let indexer = open_configured(dir.path());
    index(&indexer);
    let paths: Vec<String> = indexer
        .store()
        .files()
        .unwrap()
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    assert_eq!(
        paths,
        [
            "README.md",
            "codexos.toml",
            "src/lib.rs",
            "src/parse.rs",
            "src/print.rs"
        ]
    );
}

/// Every file under `root`, ignored or not, workspace-relative (the index's own folder aside).
fn every_file(root: &Path) -> Vec<String> {
    fn visit(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with(".codexos/index") {
                    visit(root, &path, out);
                }
            } else {
                let relative = path.strip_prefix(root).unwrap().to_str().unwrap();
                out.push(relative.to_owned());
            }
        }
    }
    let mut out = Vec::new();
    visit(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn a_saved_or_edited_file_is_indexed_exactly_when_the_walk_would_index_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fixture(root);
    write(root, ".gitignore", "target/\n*.log\n");
    write(root, "src/.ignore", "scratch.rs\n");
    write(
        root,
        "codexos.toml",
        "[index]\nexclude = [\"vendor/**\"]\nmax_file_bytes = 400\n",
    );
    let indexer = open_configured(root);
    index(&indexer);
    let indexed_paths = || -> Vec<String> {
        let files = indexer.store().files().unwrap();
        files.into_iter().map(|(path, _)| path).collect()
    };
    let indexed_by_the_walk = indexed_paths();

    write(root, "target/debug/out.rs", "fn generated_output() {}\n");
    write(root, "build.log", "fn logged_line() {}\n");
    write(root, "src/scratch.rs", "fn scratch_pad() {}\n");
    write(root, "vendor/dep.rs", "fn vendored_dependency() {}\n");
    write(root, ".hidden/secret.rs", "fn hidden_secret() {}\n");
    write(
        root,
        ".codexos/runs/trace.jsonl",
        "{\"node\": \"fn traced() {}\"}\n",
    );
    write(root, ".git/info/notes.rs", "fn git_internal() {}\n");
    write(root, "src/huge.rs", &"fn huge() {}\n".repeat(100));
    std::fs::write(root.join("src/blob.rs"), b"fn blob() {}\0\x01").unwrap();
    let mut outcomes = Vec::new();
    for path in every_file(root) {
        let from_disk = indexer.reindex_file(Path::new(&path)).unwrap();
        let text = String::from_utf8_lossy(&std::fs::read(root.join(&path)).unwrap()).into_owned();
        let from_buffer = indexer
            .reindex_text(&root.join(&path), &format!("{text}\n"))
            .unwrap();
        outcomes.push(format!("{path}: {from_disk:?} / {from_buffer:?}"));
    }
    expect_test::expect![[r#"
        .codexos/.gitignore: Skipped(Excluded) / Skipped(Excluded)
        .codexos/runs/trace.jsonl: Skipped(Excluded) / Skipped(Excluded)
        .git/info/notes.rs: Skipped(Excluded) / Skipped(Excluded)
        .gitignore: Skipped(Excluded) / Skipped(Excluded)
        .hidden/secret.rs: Skipped(Excluded) / Skipped(Excluded)
        README.md: Unchanged / Indexed { chunks: 1 }
        build.log: Skipped(Excluded) / Skipped(Excluded)
        codexos.toml: Unchanged / Indexed { chunks: 1 }
        src/.ignore: Skipped(Excluded) / Skipped(Excluded)
        src/blob.rs: Skipped(Binary) / Skipped(Binary)
        src/huge.rs: Skipped(TooLarge { bytes: 1300, limit: 400 }) / Skipped(TooLarge { bytes: 1301, limit: 400 })
        src/lib.rs: Unchanged / Indexed { chunks: 1 }
        src/parse.rs: Unchanged / Indexed { chunks: 1 }
        src/print.rs: Unchanged / Indexed { chunks: 1 }
        src/scratch.rs: Skipped(Excluded) / Skipped(Excluded)
        target/debug/out.rs: Skipped(Excluded) / Skipped(Excluded)
        vendor/dep.rs: Skipped(Excluded) / Skipped(Excluded)"#]]
    .assert_eq(&outcomes.join("\n"));
    assert_eq!(
        indexed_paths(),
        indexed_by_the_walk,
        "the walk's files, no more"
    );
    assert_eq!(
        indexed_paths(),
        codexos_index::walk(root, &IndexSettings::load(root).unwrap())
            .unwrap()
            .into_iter()
            .filter(
                |file| !file.relative.ends_with("blob.rs") && !file.relative.ends_with("huge.rs")
            )
            .map(|file| file.relative)
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_file_newly_ignored_leaves_the_index_when_it_is_saved_again() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let indexer = open(dir.path(), Arc::default());
    index(&indexer);
    write(dir.path(), "src/.ignore", "print.rs\n");
    assert_eq!(
        indexer.reindex_file(Path::new("src/print.rs")).unwrap(),
        FileOutcome::Skipped(SkipReason::Excluded)
    );
    assert!(indexer.store().file("src/print.rs").unwrap().is_none());
    assert!(indexer.store().check_consistency().unwrap().is_consistent());
}

/// Log lines written while `run` runs.
fn logs_of(run: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    // Skipped files are logged one by one at debug level.
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        // Each skipped file is logged at debug level; a run's summary at info.
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    tracing::subscriber::with_default(subscriber, run);
    let bytes = buffer.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn invalid_utf8_binary_huge_minified_and_looping_files_are_skipped_with_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    std::fs::write(dir.path().join("latin1.py"), b"name = '\xe9t\xe9'\n").unwrap();
    std::fs::write(dir.path().join("image.rs"), b"\x89PNG\r\n\x1a\n\0\0\0").unwrap();
    let minified = "var a=1;".repeat(50 * 1024 * 1024 / 8);
    std::fs::write(dir.path().join("bundle.min.js"), minified).unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("src/loop")).unwrap();
    let indexer = open(dir.path(), Arc::default());
    let mut summary = IndexSummary::default();
    let logs = logs_of(|| summary = index(&indexer));
    assert_eq!(
        (summary.files_indexed, summary.files_skipped),
        (4, 3),
        "{logs}"
    );
    assert_eq!(
        summary.skipped_by_reason,
        [("binary", 1), ("not UTF-8", 1), ("too large", 1)].into(),
        "counted by reason, for the run's one summary line"
    );
    for expected in [
        "latin1.py",
        "InvalidUtf8",
        "image.rs",
        "Binary",
        "bundle.min.js",
        "TooLarge",
        "src/loop",
    ] {
        assert!(
            logs.contains(expected),
            "no log line mentions {expected}:\n{logs}"
        );
    }
    assert!(indexer.store().check_consistency().unwrap().is_consistent());
}

/// The fixture, with symbolic links out of the workspace (to a file and to a folder of
/// `outside`), into it (a folder and a file), into tools' state, and a loop.
fn linked_fixture(root: &Path, outside: &Path) {
    use std::os::unix::fs::symlink;
    fixture(root);
    write(outside, "secret.txt", "the outside password\n");
    write(
        outside,
        "project/notes.md",
        "# The sibling project's notes\n",
    );
    write(root, ".git/config", "[core]\n");
    symlink(outside.join("secret.txt"), root.join("src/secret.txt")).unwrap();
    symlink(outside.join("project"), root.join("sibling")).unwrap();
    symlink(root.join("src"), root.join("alias")).unwrap();
    symlink("parse.rs", root.join("src/parse_again.rs")).unwrap();
    symlink(".git/config", root.join("gitconfig")).unwrap();
    symlink(root, root.join("src/loop")).unwrap();
}

fn indexed_paths(indexer: &Indexer) -> Vec<String> {
    let files = indexer.store().files().unwrap();
    files.into_iter().map(|(path, _)| path).collect()
}

#[test]
fn symlinks_out_of_the_workspace_are_skipped_with_a_log_line_and_links_inside_are_followed() {
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    linked_fixture(dir.path(), outside.path());
    let indexer = open(dir.path(), Arc::default());
    let logs = logs_of(|| {
        index(&indexer);
    });
    expect_test::expect![[r#"
        README.md
        alias/lib.rs
        alias/parse.rs
        alias/parse_again.rs
        alias/print.rs
        src/lib.rs
        src/parse.rs
        src/parse_again.rs
        src/print.rs"#]]
    .assert_eq(&indexed_paths(&indexer).join("\n"));
    let outside = outside.path().canonicalize().unwrap();
    for (link, target) in [
        ("src/secret.txt", outside.join("secret.txt")),
        ("alias/secret.txt", outside.join("secret.txt")),
        ("sibling", outside.join("project")),
        ("gitconfig", dir.path().join(".git/config")),
    ] {
        let line = logs
            .lines()
            .find(|line| line.contains(&format!("{}", dir.path().join(link).display())))
            .unwrap_or_else(|| panic!("no log line names {link}:\n{logs}"));
        assert!(
            line.contains(&format!("{}", target.display())),
            "the line about {link} does not say where it leads:\n{line}"
        );
    }
    assert!(logs.contains("src/loop"), "{logs}");
}

#[test]
fn a_file_replaced_by_a_symlink_out_of_the_workspace_is_never_read_again() {
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    linked_fixture(root, outside.path());
    let indexer = open(root, Arc::default());
    index(&indexer);
    let replace_by_link_out = |path: &str| {
        std::fs::remove_file(root.join(path)).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join(path)).unwrap();
    };

    replace_by_link_out("README.md");
    assert_eq!(
        indexer.reindex_file(Path::new("README.md")).unwrap(),
        FileOutcome::Skipped(SkipReason::Excluded),
        "saved"
    );
    assert_eq!(
        indexer
            .reindex_text(&root.join("README.md"), "edited\n")
            .unwrap(),
        FileOutcome::Skipped(SkipReason::Excluded),
        "edited"
    );
    assert_eq!(
        indexer.reindex_file(Path::new("sibling/notes.md")).unwrap(),
        FileOutcome::Skipped(SkipReason::Excluded),
        "under a folder link out"
    );
    assert!(!indexed_paths(&indexer).contains(&"README.md".to_owned()));

    let mut summary = IndexSummary::default();
    write(root, "src/print.rs", "fn changed() {}\n");
    let logs = logs_of(|| {
        summary = indexer
            .index_all(
                // Called once the walk has listed the files, before any is read.
                &mut |progress| {
                    if progress.files_done == 0 && !root.join("src/print.rs").is_symlink() {
                        replace_by_link_out("src/print.rs");
                    }
                },
                &AtomicBool::new(false),
            )
            .unwrap();
    });
    assert_eq!(
        summary.files_skipped, 2,
        "src/print.rs through src/ and alias/:\n{logs}"
    );
    assert!(
        logs.contains("src/print.rs") && logs.contains("LinkLeavesWorkspace"),
        "{logs}"
    );
    assert!(!indexed_paths(&indexer).contains(&"src/print.rs".to_owned()));
    let password = indexer
        .searcher()
        .search(&SearchRequest {
            mode: SearchMode::Bm25,
            ..SearchRequest::new("password")
        })
        .unwrap();
    assert!(password.is_empty(), "{password:?}");
    assert!(indexer.store().check_consistency().unwrap().is_consistent());
}

#[test]
fn a_file_that_vanished_is_skipped_with_a_log_line_and_leaves_the_index() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let indexer = open(dir.path(), Arc::default());
    index(&indexer);
    std::fs::remove_file(dir.path().join("src/parse.rs")).unwrap();
    let mut outcome = None;
    let logs = logs_of(|| outcome = Some(indexer.reindex_file(Path::new("src/parse.rs")).unwrap()));
    assert_eq!(outcome, Some(FileOutcome::Removed));
    assert!(
        logs.contains("src/parse.rs") && logs.contains("Vanished"),
        "{logs}"
    );
    let mut never = None;
    let logs = logs_of(|| never = Some(indexer.reindex_file(Path::new("src/never.rs")).unwrap()));
    assert_eq!(never, Some(FileOutcome::Skipped(SkipReason::Vanished)));
    assert!(logs.contains("src/never.rs"), "{logs}");
}

#[test]
fn a_file_that_vanishes_between_the_walk_and_its_read_is_skipped_with_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let indexer = open(dir.path(), Arc::default());
    let vanishing = dir.path().join("src/print.rs");
    let mut summary = None;
    let logs = logs_of(|| {
        summary = Some(
            indexer
                .index_all(
                    // Called once the walk has listed the files, before any is read.
                    &mut |progress| {
                        if progress.files_done == 0 && vanishing.exists() {
                            std::fs::remove_file(&vanishing).unwrap();
                        }
                    },
                    &AtomicBool::new(false),
                )
                .unwrap(),
        );
    });
    let summary = summary.unwrap();
    assert_eq!(
        (
            summary.files_seen,
            summary.files_indexed,
            summary.files_skipped
        ),
        (4, 3, 1),
        "{logs}"
    );
    assert!(
        logs.contains("src/print.rs") && logs.contains("Vanished"),
        "{logs}"
    );
    assert_eq!(indexer.store().file("src/print.rs").unwrap(), None);
    assert!(indexer.store().check_consistency().unwrap().is_consistent());
}

#[test]
fn a_cancelled_run_keeps_what_it_committed_and_the_next_run_finishes() {
    let dir = tempfile::tempdir().unwrap();
    for number in 0..40 {
        write(
            dir.path(),
            &format!("src/m{number}.rs"),
            &format!("pub fn function_{number}() -> u32 {{ {number} }}\n"),
        );
    }
    let settings = IndexSettings {
        commit_chunks: 5,
        ..IndexSettings::default()
    };
    let embedder = Arc::new(CountingEmbedder::default());
    let indexer = Indexer::open(
        dir.path(),
        Arc::clone(&embedder) as Arc<dyn Embedder>,
        settings,
        &OpenOptions::default(),
    )
    .unwrap();
    let cancel = AtomicBool::new(false);
    let result = indexer.index_all(
        &mut |progress| {
            if progress.files_chunked >= 12 {
                cancel.store(true, Ordering::SeqCst);
            }
        },
        &cancel,
    );
    assert!(result.is_err(), "cancelled run reports it");
    let committed = indexer.store().stats().unwrap().files as usize;
    assert!(
        (10..40).contains(&committed),
        "{committed} files committed before the cancel"
    );
    let summary = index(&indexer);
    assert_eq!(
        (summary.files_unchanged, summary.files_indexed),
        (committed, 40 - committed)
    );
    assert_eq!(
        embedder.texts.load(Ordering::SeqCst),
        40,
        "every file embedded exactly once"
    );
}

#[test]
fn a_branch_switch_embeds_only_the_chunks_it_changed_and_switching_back_embeds_none() {
    let dir = tempfile::tempdir().unwrap();
    for number in 0..20 {
        write(
            dir.path(),
            &format!("src/m{number}.rs"),
            &format!("pub fn function_{number}() -> u32 {{ {number} }}\n"),
        );
    }
    let embedder = Arc::new(CountingEmbedder::default());
    let indexer = open(dir.path(), Arc::clone(&embedder));
    index(&indexer);
    let embedded = || embedder.texts.load(Ordering::SeqCst);
    assert_eq!(embedded(), 20);

    // The other branch changes two files of twenty.
    let main_m3 = std::fs::read_to_string(dir.path().join("src/m3.rs")).unwrap();
    let main_m7 = std::fs::read_to_string(dir.path().join("src/m7.rs")).unwrap();
    write(
        dir.path(),
        "src/m3.rs",
        "pub fn renamed_three() -> u32 { 33 }\n",
    );
    write(
        dir.path(),
        "src/m7.rs",
        "pub fn renamed_seven() -> u32 { 77 }\n",
    );
    let summary = index(&indexer);
    assert_eq!((summary.files_indexed, summary.chunks_reused), (2, 0));
    assert_eq!(embedded(), 22, "only the two changed chunks are embedded");

    // Back on the first branch: both chunks come back with the vectors they had.
    write(dir.path(), "src/m3.rs", &main_m3);
    write(dir.path(), "src/m7.rs", &main_m7);
    let summary = index(&indexer);
    assert_eq!((summary.files_indexed, summary.chunks_reused), (2, 2));
    assert_eq!(embedded(), 22, "switching back embeds nothing");
    assert!(indexer.store().check_consistency().unwrap().is_consistent());
    let hits = indexer
        .searcher()
        .search(&SearchRequest {
            mode: SearchMode::Vector,
            ..SearchRequest::new("function_3")
        })
        .unwrap();
    assert!(!hits.is_empty());
}

/// An indexer whose runs make every new file searchable by its words before chunking it,
/// however little text there is.
fn open_words_first(root: &Path, embedder: Arc<CountingEmbedder>) -> Indexer {
    let settings = IndexSettings {
        lexical_first_bytes: 0,
        ..IndexSettings::default()
    };
    Indexer::open(root, embedder, settings, &OpenOptions::default()).unwrap()
}

/// Runs the first stage of `indexer`'s run only: the run is cancelled once BM25 can search
/// every file, before any file is chunked.
fn index_words_only(indexer: &Indexer) {
    let cancel = AtomicBool::new(false);
    let result = indexer.index_all(
        &mut |progress| {
            if progress.searchable {
                cancel.store(true, Ordering::SeqCst);
            }
        },
        &cancel,
    );
    assert!(
        matches!(result, Err(IndexError::Cancelled { .. })),
        "{result:?}"
    );
}

fn search(indexer: &Indexer, request: SearchRequest) -> Vec<SearchHit> {
    indexer.searcher().search(&request).unwrap()
}

#[test]
fn after_the_first_stage_a_search_finds_a_file_by_a_word_and_shows_the_lines_around_it() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let indexer = open_words_first(dir.path(), Arc::default());
    index_words_only(&indexer);
    assert_eq!(
        indexer.store().stats().unwrap().chunks,
        0,
        "nothing chunked"
    );

    let expected = SearchHit {
        path: "src/parse.rs".into(),
        start_line: 1,
        end_line: 5,
        score: 0.0,
        symbol: String::new(),
        language: "rust".into(),
        source: HitSource::Lines(
            "\n/// Parses one header line into a name and a value.\npub fn parse_header(line: &str) -> Option<(&str, &str)> {\n    line.split_once(':')\n}".into(),
        ),
    };
    for mode in [SearchMode::Bm25, SearchMode::Hybrid, SearchMode::Rrf] {
        for collapse_files in [false, true] {
            let hits = search(
                &indexer,
                SearchRequest {
                    mode,
                    collapse_files,
                    ..SearchRequest::new("parse header")
                },
            );
            let best = SearchHit {
                score: 0.0,
                ..hits[0].clone()
            };
            assert_eq!(best, expected, "{mode:?}, collapsed: {collapse_files}");
        }
    }
    let in_markdown = search(
        &indexer,
        SearchRequest {
            language: Some("markdown".into()),
            ..SearchRequest::new("parse header")
        },
    );
    assert!(in_markdown.is_empty(), "{in_markdown:?}");
}

#[test]
fn a_run_stopped_after_the_first_stage_is_finished_by_the_next_with_each_file_once() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let embedder = Arc::new(CountingEmbedder::default());
    let indexer = open_words_first(dir.path(), Arc::clone(&embedder));
    index_words_only(&indexer);
    std::fs::remove_file(dir.path().join("src/print.rs")).unwrap();

    let summary = index(&indexer);
    assert_eq!(
        (summary.files_indexed, summary.files_removed),
        (3, 1),
        "the files the first stage wrote are chunked, the one deleted since leaves"
    );
    assert_eq!(
        embedder.texts.load(Ordering::SeqCst),
        summary.chunks_written
    );
    assert!(indexer.store().check_consistency().unwrap().is_consistent());
    let snapshot = indexer.store().snapshot().unwrap();
    assert_eq!(snapshot.unchunked_count().unwrap(), 0);
    let hits = search(
        &indexer,
        SearchRequest {
            mode: SearchMode::Bm25,
            collapse_files: true,
            ..SearchRequest::new("parse header print match fixture")
        },
    );
    let mut paths: Vec<&str> = hits.iter().map(|hit| hit.path.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["README.md", "src/lib.rs", "src/parse.rs"],
        "each file once"
    );
    assert!(
        hits.iter()
            .all(|hit| matches!(hit.source, HitSource::Chunk(_))),
        "{hits:?}"
    );

    let again = index(&indexer);
    assert_eq!((again.files_indexed, again.files_unchanged), (0, 3));
}

#[test]
fn a_run_with_little_new_text_leaves_it_to_the_chunk_stage() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let indexer = open(dir.path(), Arc::default());
    index_words_only(&indexer);
    assert_eq!(indexer.store().file_paths().unwrap(), Vec::<String>::new());
}
