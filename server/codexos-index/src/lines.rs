//! What a hit shows of a file that waits for its chunks (the first stage of a run wrote only its
//! whole-file BM25 document): the lines around its best-matching line, read from the file, as
//! `rg -C` shows a match.

use std::collections::HashSet;
use std::path::Path;

use codexos_store::tokens::for_each_term;

use crate::walk::check_link;

/// The `kind` of such a hit (a chunk's is the chunker's: `function`, `section`, …).
pub(crate) const KIND: &str = "lines";
/// Lines shown on either side of the best-matching line.
const CONTEXT_LINES: usize = 3;
/// A file grown past this since the index read it is not read again by a search.
const MAX_READ_BYTES: u64 = 16 << 20;

/// Lines `start_line..=end_line` (1-based) of a file, and their text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Lines {
    pub start_line: u32,
    pub end_line: u32,
    pub text: String,
}

/// The lines around the best match of `query_terms` in the workspace file `path`, or `None`
/// when it cannot be shown as it is now: gone, too large, not UTF-8, or (through a symbolic
/// link) outside the workspace.
pub(crate) fn around_best_match(root: &Path, path: &str, query_terms: &[String]) -> Option<Lines> {
    let real_root = root.canonicalize().ok()?;
    let absolute = real_root.join(path);
    check_link(&real_root, &absolute).ok()?;
    if std::fs::metadata(&absolute).ok()?.len() > MAX_READ_BYTES {
        return None;
    }
    let text = String::from_utf8(std::fs::read(&absolute).ok()?).ok()?;
    Some(best_lines(&text, query_terms))
}

/// The line holding the most distinct query terms (then the most occurrences; the first of
/// equals) with [`CONTEXT_LINES`] on either side. A file none of whose lines holds a query
/// term (found by its path's words) shows its first lines.
fn best_lines(text: &str, query_terms: &[String]) -> Lines {
    let wanted: HashSet<&str> = query_terms.iter().map(String::as_str).collect();
    let lines: Vec<&str> = text.lines().collect();
    let mut best = (0, 0, 0);
    for (number, line) in lines.iter().enumerate() {
        let mut distinct = HashSet::new();
        let mut occurrences = 0;
        for_each_term(line, |term, _, _| {
            if let Some(&term) = wanted.get(term) {
                distinct.insert(term);
                occurrences += 1;
            }
        });
        if (distinct.len(), occurrences) > (best.0, best.1) {
            best = (distinct.len(), occurrences, number);
        }
    }
    let start = best.2.saturating_sub(CONTEXT_LINES);
    let end = (best.2 + CONTEXT_LINES).min(lines.len().saturating_sub(1));
    let shown = lines.get(start..=end).unwrap_or_default();
    Lines {
        start_line: line_number(start + 1),
        end_line: line_number(start + shown.len().max(1)),
        text: shown.join("\n"),
    }
}

fn line_number(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use codexos_store::tokens::terms;

    fn shown(text: &str, query: &str) -> (u32, u32, String) {
        let lines = best_lines(text, &terms(query));
        (lines.start_line, lines.end_line, lines.text)
    }

    #[test]
    fn the_line_with_the_most_query_words_is_shown_with_three_lines_either_side() {
        let text = "a\nb\nc\nd\nfn parse_header() {}\nparse\ne\nf\ng\nh\n";
        assert_eq!(
            shown(text, "parse header"),
            (
                2,
                8,
                "b\nc\nd\nfn parse_header() {}\nparse\ne\nf".to_owned()
            )
        );
    }

    #[test]
    fn a_match_near_the_start_or_the_end_shows_what_there_is() {
        assert_eq!(
            shown("needle\nb\nc\nd\ne\n", "needle"),
            (1, 4, "needle\nb\nc\nd".to_owned())
        );
        assert_eq!(
            shown("a\nb\nneedle", "needle"),
            (1, 3, "a\nb\nneedle".to_owned())
        );
    }

    #[test]
    fn a_file_found_by_its_path_alone_shows_its_first_lines() {
        assert_eq!(
            shown("one\ntwo\nthree\nfour\nfive\n", "absent"),
            (1, 4, "one\ntwo\nthree\nfour".to_owned())
        );
        assert_eq!(shown("", "absent"), (1, 1, String::new()));
    }

    #[test]
    fn a_file_that_leaves_the_workspace_or_is_gone_shows_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "needle\n").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            dir.path().join("link.txt"),
        )
        .unwrap();
        std::fs::write(dir.path().join("here.txt"), "needle\n").unwrap();
        let query = terms("needle");
        assert_eq!(around_best_match(dir.path(), "link.txt", &query), None);
        assert_eq!(around_best_match(dir.path(), "gone.txt", &query), None);
        assert_eq!(
            around_best_match(dir.path(), "here.txt", &query),
            Some(Lines {
                start_line: 1,
                end_line: 1,
                text: "needle".to_owned()
            })
        );
    }
}
