//! Hybrid search on a small fixture workspace whose answers are known.

mod common;

use codexos_embed::HashingEmbedder;
use codexos_index::{
    Candidate, CodeAwareReranker, Indexer, Reranker, SearchMode, SearchRequest, Searcher,
};
use codexos_store::Snapshot;
use common::write;

fn fixture() -> (tempfile::TempDir, Indexer) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "src/config.rs",
        r#"
/// Reads the configuration file and merges environment overrides.
pub fn load_config(path: &str) -> Config {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    Config::parse(&text)
}

pub struct Config {
    pub threads: usize,
}
"#,
    );
    write(
        root,
        "src/search/matcher.rs",
        r#"
/// Compiles the user's pattern into a case-insensitive regular expression.
pub fn build_matcher(pattern: &str, smart_case: bool) -> Regex {
    RegexBuilder::new(pattern).case_insensitive(smart_case).build()
}
"#,
    );
    write(
        root,
        "src/printer.rs",
        r#"
/// Prints one matching line with its line number and colours.
pub fn print_line(number: u64, line: &[u8], color: bool) {
    if color {
        print!("\x1b[32m{number}\x1b[0m:");
    }
    println!("{}", String::from_utf8_lossy(line));
}
"#,
    );
    write(
        root,
        "app/views.py",
        r#"
class LoginView:
    """Checks the password and starts a session for the user."""

    def post(self, request):
        user = authenticate(request.form["name"], request.form["password"])
        session_start(user)
"#,
    );
    write(
        root,
        "docs/guide.md",
        "# Guide\n\n## Colours\n\nUse `--color always` to force colours in output.\n",
    );
    let indexer = common::indexed_with_builtin_vectors(root);
    (dir, indexer)
}

fn top_paths(indexer: &Indexer, request: SearchRequest) -> Vec<String> {
    let embedder = HashingEmbedder::new();
    Searcher::new(indexer.store(), &embedder)
        .search(&request)
        .unwrap()
        .into_iter()
        .map(|hit| hit.path)
        .collect()
}

#[test]
fn every_mode_finds_the_file_that_answers_each_query_first() {
    let (_dir, indexer) = fixture();
    let cases = [
        ("load the configuration file", "src/config.rs"),
        ("case insensitive pattern matcher", "src/search/matcher.rs"),
        ("print line numbers in colour", "src/printer.rs"),
        ("user login password session", "app/views.py"),
    ];
    for mode in SearchMode::ALL {
        for (query, expected) in cases {
            let request = SearchRequest {
                mode,
                collapse_files: true,
                ..SearchRequest::new(query)
            };
            let paths = top_paths(&indexer, request);
            assert_eq!(
                paths.first().map(String::as_str),
                Some(expected),
                "{} for {query:?}: {paths:?}",
                mode.name()
            );
        }
    }
}

#[test]
fn chunk_results_carry_lines_and_symbol_paths() {
    let (_dir, indexer) = fixture();
    let embedder = HashingEmbedder::new();
    let hits = Searcher::new(indexer.store(), &embedder)
        .search(&SearchRequest::new("build_matcher smart_case"))
        .unwrap();
    let best = &hits[0];
    assert_eq!(
        (
            best.path.as_str(),
            best.symbol.as_str(),
            best.start_line,
            best.end_line
        ),
        (
            "src/search/matcher.rs",
            "search::matcher::build_matcher",
            2,
            5
        )
    );
}

#[test]
fn path_glob_and_language_filters_keep_only_matching_results() {
    let (_dir, indexer) = fixture();
    let colour = |glob: Option<&str>, language: Option<&str>| {
        let request = SearchRequest {
            path_glob: glob.map(str::to_owned),
            language: language.map(str::to_owned),
            collapse_files: true,
            ..SearchRequest::new("colour colours color")
        };
        top_paths(&indexer, request)
    };
    assert!(colour(None, None).len() >= 2);
    assert_eq!(colour(Some("docs/**"), None), ["docs/guide.md"]);
    assert_eq!(colour(None, Some("markdown")), ["docs/guide.md"]);
    assert!(
        colour(None, Some("python"))
            .iter()
            .all(|path| path.ends_with(".py"))
    );
}

#[test]
fn a_bad_glob_is_an_error_naming_it() {
    let (_dir, indexer) = fixture();
    let embedder = HashingEmbedder::new();
    let request = SearchRequest {
        path_glob: Some("src/[".into()),
        ..SearchRequest::new("config")
    };
    let error = Searcher::new(indexer.store(), &embedder)
        .search(&request)
        .unwrap_err()
        .to_string();
    assert!(error.contains("src/["), "{error}");
}

/// [`CodeAwareReranker`] that does not say how far it moves scores, so a search reranks (and
/// reads the metadata of) every candidate.
struct UnboundedReranker(CodeAwareReranker);

impl Reranker for UnboundedReranker {
    fn rerank(
        &self,
        query: &str,
        candidates: &mut [Candidate],
        snapshot: &Snapshot<'_>,
    ) -> codexos_index::Result<()> {
        self.0.rerank(query, candidates, snapshot)
    }
}

#[test]
fn reading_only_the_candidates_that_can_reach_the_top_k_returns_what_reading_all_does() {
    let (_dir, indexer) = fixture();
    let embedder = HashingEmbedder::new();
    // Large bonuses, so that the reranker reorders and a candidate far below the k-th can rise.
    let reranker = || CodeAwareReranker {
        symbol_bonus: 2.0,
        file_name_bonus: -0.5,
    };
    let shortlisted = Searcher::new(indexer.store(), &embedder).with_reranker(Box::new(reranker()));
    let every_candidate = Searcher::new(indexer.store(), &embedder)
        .with_reranker(Box::new(UnboundedReranker(reranker())));
    for query in [
        "load the configuration file",
        "matcher pattern",
        "print line colour",
        "config print",
        "session",
    ] {
        for mode in SearchMode::ALL {
            for k in [1, 2, 3, 10] {
                let request = SearchRequest {
                    mode,
                    k,
                    ..SearchRequest::new(query)
                };
                assert_eq!(
                    shortlisted.search(&request).unwrap(),
                    every_candidate.search(&request).unwrap(),
                    "{} top {k} for {query:?}",
                    mode.name()
                );
            }
        }
    }
}
