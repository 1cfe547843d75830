//! "Did you mean": the known name closest to one that is not known.
//!
//! A name is a likely typo of another within `len / 3` edits (at least one), counted as the
//! optimal string alignment distance (insertions, deletions, substitutions and swaps of
//! neighbours, case ignored). The closest wins, then the shortest, then the first given.
//!
//! A check compares every unknown reference with every node id: a 10,000-node flow whose edges
//! all name unknown ids would take 10⁸ distances. [`Names`] answers the same question in a time
//! that grows with the number of near matches instead:
//! - each comparison is cut off as soon as it exceeds the best distance so far, and is skipped
//!   when the lengths or the sets of letters of the two names already differ by more;
//! - once a set of names is asked about often, it builds a deletion index (as SymSpell does):
//!   two names within 2 edits share a string made by deleting at most 2 characters from each
//!   (a swap of neighbours is one deletion on each side), so the names within 2 edits of a
//!   typo are found by looking up its own deletions;
//! - only a name of 9 or more characters can be a typo at 3 or more edits; when nothing is
//!   within 2, the names of a length close enough are compared one by one, up to
//!   [`FAR_COMPARISONS`] a set of names once it is indexed (past that, in a generated flow with
//!   thousands of unknown long names, only typos within 2 edits are suggested).

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    Names::new(candidates).closest(name, None)
}

/// Below this many names of a length close enough to a question's, comparing with each one is
/// as fast as any index.
const INDEX_MIN_NAMES: usize = 256;
/// Questions answered by comparing with each name before the deletion index is built: it pays
/// for itself after a few dozen on a large set of names, and costs nothing for a check with a
/// handful of unknown references.
const INDEX_AFTER_QUESTIONS: usize = 16;
/// Distances up to this are answered by the deletion index.
const INDEXED_DISTANCE: usize = 2;
/// Names compared one by one, per set of names, in search of a typo farther than the index
/// reaches (3 or more edits, in a name of 9 or more characters), once the index is built: enough
/// for any flow written by hand, and a bound on the time a generated one can take (10,000 names
/// of 20 characters, each compared with the 10,000 others, would take minutes).
const FAR_COMPARISONS: usize = 200_000;

/// Known names, asked "which is closest to this one?" many times (see the module docs).
pub struct Names<'a> {
    names: Vec<&'a str>,
    /// Each name lowercased, as characters: name `i` is `folded[starts[i]..starts[i + 1]]`.
    folded: Vec<char>,
    starts: Vec<usize>,
    /// The letters each name uses ([`letters`]).
    letters: Vec<u64>,
    /// Name positions ordered by their folded length, and where each length begins in it.
    by_length: Vec<usize>,
    length_starts: Vec<usize>,
    questions: usize,
    /// The number of names a question must be compared with for the index to be used.
    index_min_names: usize,
    index: Option<DeletionIndex>,
    /// What is left of [`FAR_COMPARISONS`].
    far_comparisons: usize,
    distance: EditDistance,
    /// `seen[i] == question` when name `i` was already compared for the current question.
    seen: Vec<usize>,
}

/// The best candidate so far: its distance, length in bytes and position.
type Best = Option<(usize, usize, usize)>;

impl<'a> Names<'a> {
    pub fn new(names: impl IntoIterator<Item = &'a str>) -> Names<'a> {
        let names: Vec<&str> = names.into_iter().collect();
        let mut folded = Vec::new();
        let mut starts = Vec::with_capacity(names.len() + 1);
        let mut letters_of = Vec::with_capacity(names.len());
        for name in &names {
            starts.push(folded.len());
            folded.extend(name.chars().flat_map(char::to_lowercase));
            letters_of.push(letters(&folded[starts[starts.len() - 1]..]));
        }
        starts.push(folded.len());
        let length = |i: usize| starts[i + 1] - starts[i];
        let mut by_length: Vec<usize> = (0..names.len()).collect();
        by_length.sort_by_key(|&i| length(i));
        let longest = by_length.last().map_or(0, |&i| length(i));
        let mut length_starts = Vec::with_capacity(longest + 2);
        let mut at = 0;
        for wanted in 0..=longest + 1 {
            while at < by_length.len() && length(by_length[at]) < wanted {
                at += 1;
            }
            length_starts.push(at);
        }
        Names {
            seen: vec![0; names.len()],
            names,
            folded,
            starts,
            letters: letters_of,
            by_length,
            length_starts,
            questions: 0,
            index_min_names: INDEX_MIN_NAMES,
            index: None,
            far_comparisons: FAR_COMPARISONS,
            distance: EditDistance::default(),
        }
    }

    /// The name closest to `name`, if it is close enough to be a likely typo, leaving out the
    /// name at position `except` (a node's own id, say).
    pub fn closest(&mut self, name: &str, except: Option<usize>) -> Option<&'a str> {
        self.questions += 1;
        let query: Vec<char> = name.to_lowercase().chars().collect();
        let query_letters = letters(&query);
        let limit = (name.chars().count() / 3).max(1);
        let skip = |names: &Names, i: usize| Some(i) == except || names.names[i] == name;
        // Only names whose length is within `limit` of the query's can be close enough.
        let longest = self.length_starts.len() - 2;
        let first = query.len().saturating_sub(limit).min(longest + 1);
        let last = (query.len() + limit).min(longest);
        let window = self.length_starts[first]..self.length_starts[(last + 1).max(first)];
        let mut best: Best = None;
        if window.len() >= self.index_min_names {
            if self.index.is_none() && self.questions > INDEX_AFTER_QUESTIONS {
                self.index = Some(DeletionIndex::new(self));
            }
            // Most typos are one edit away: look there first.
            for within in 1..=limit.min(INDEXED_DISTANCE) {
                let Some(index) = &self.index else { break };
                let mut hits = Vec::new();
                index.near(&query, within, &mut hits);
                for i in hits {
                    if self.seen[i] == self.questions || skip(self, i) {
                        continue;
                    }
                    self.seen[i] = self.questions;
                    self.compare(&query, query_letters, i, limit, &mut best);
                }
                // Every name within `within` edits was a hit: if the best is that close, or no
                // name may be farther, no other name can be closer or as close.
                if limit <= within || best.is_some_and(|(distance, _, _)| distance <= within) {
                    return best.map(|(_, _, i)| self.names[i]);
                }
            }
            if self.index.is_some() {
                if window.len() > self.far_comparisons {
                    // Out of time for far typos: the best of the near names, if any.
                    return best.map(|(_, _, i)| self.names[i]);
                }
                self.far_comparisons -= window.len();
            }
        }
        for at in window {
            let i = self.by_length[at];
            if self.seen[i] == self.questions || skip(self, i) {
                continue;
            }
            self.compare(&query, query_letters, i, limit, &mut best);
        }
        best.map(|(_, _, i)| self.names[i])
    }

    /// Compares `query` with name `i`, keeping it as `best` if it is closer (then shorter, then
    /// earlier) and within `limit`.
    fn compare(
        &mut self,
        query: &[char],
        query_letters: u64,
        i: usize,
        limit: usize,
        best: &mut Best,
    ) {
        let candidate = &self.folded[self.starts[i]..self.starts[i + 1]];
        let bound = best.map_or(limit, |(distance, _, _)| distance);
        if query.len().abs_diff(candidate.len()) > bound
            || letters_apart(query_letters, self.letters[i]) > bound
        {
            return;
        }
        let Some(distance) = self.distance.within(query, candidate, bound) else {
            return;
        };
        let key = (distance, self.names[i].len(), i);
        if best.is_none_or(|best| key < best) {
            *best = Some(key);
        }
    }
}

/// The letters a name uses, as bits: one for each of `a`–`z`, `0`–`9`, `_` and `-`, and 26
/// shared by all other characters.
fn letters(name: &[char]) -> u64 {
    name.iter().fold(0, |bits, &c| {
        let bit = match c {
            'a'..='z' => c as u32 - 'a' as u32,
            '0'..='9' => 26 + c as u32 - '0' as u32,
            '_' => 36,
            '-' => 37,
            _ => 38 + c as u32 % 26,
        };
        bits | 1 << bit
    })
}

/// A lower bound of the edits between two names from their letters: each letter one uses and
/// the other does not takes an edit of its own (a swap changes no letter).
fn letters_apart(a: u64, b: u64) -> usize {
    (a & !b).count_ones().max((b & !a).count_ones()) as usize
}

/// For every string made by deleting up to [`INDEXED_DISTANCE`] characters from a name: the
/// names it comes from.
struct DeletionIndex {
    /// (hash of the string, name position, characters deleted), by bucket.
    entries: Vec<(u64, u32, u8)>,
    /// Where the bucket of the entries whose hash starts with each `bits`-bit prefix begins
    /// (hashes are evenly spread, so a lookup reads a few entries).
    directory: Vec<u32>,
    bits: u32,
}

impl DeletionIndex {
    fn new(names: &Names) -> DeletionIndex {
        let mut unsorted = Vec::new();
        for i in 0..names.names.len() {
            let name = &names.folded[names.starts[i]..names.starts[i + 1]];
            deletions(name, INDEXED_DISTANCE, |hash, deleted| {
                unsorted.push((hash, i as u32, deleted as u8));
            });
        }
        // About four entries a bucket; placed by their bucket alone (a counting sort): a lookup
        // compares the whole hash of each entry in its bucket.
        let bits = (unsorted.len() / 4)
            .next_power_of_two()
            .trailing_zeros()
            .clamp(1, 24);
        let bucket = |hash: u64| (hash >> (64 - bits)) as usize;
        let mut directory = vec![0u32; (1 << bits) + 1];
        for entry in &unsorted {
            directory[bucket(entry.0) + 1] += 1;
        }
        for at in 1..directory.len() {
            directory[at] += directory[at - 1];
        }
        let mut next = directory.clone();
        let mut entries = vec![(0, 0, 0); unsorted.len()];
        for entry in unsorted {
            let slot = &mut next[bucket(entry.0)];
            entries[*slot as usize] = entry;
            *slot += 1;
        }
        DeletionIndex {
            entries,
            directory,
            bits,
        }
    }

    /// Pushes onto `hits` the names that may be within `within` edits of `query`: all of them,
    /// and a few more (hashes may collide, and sharing a deletion is not enough).
    fn near(&self, query: &[char], within: usize, hits: &mut Vec<usize>) {
        deletions(query, within, |hash, _| {
            let prefix = (hash >> (64 - self.bits)) as usize;
            let bucket =
                &self.entries[self.directory[prefix] as usize..self.directory[prefix + 1] as usize];
            for &(entry_hash, name, deleted) in bucket {
                if entry_hash == hash && usize::from(deleted) <= within {
                    hits.push(name as usize);
                }
            }
        });
    }
}

const HASH_BASE: u64 = 0x100_0000_01b3;

/// Calls `found` with the hash of every string made by deleting up to `most` (at most 2)
/// characters from `name` and the number deleted (a string may come more than once).
fn deletions(name: &[char], most: usize, mut found: impl FnMut(u64, usize)) {
    let n = name.len();
    // prefix[i] is the hash of name[..i]; power[i] is HASH_BASE^i.
    let mut prefix = Vec::with_capacity(n + 1);
    let mut power = Vec::with_capacity(n + 1);
    prefix.push(0u64);
    power.push(1u64);
    for &c in name {
        let last = prefix[prefix.len() - 1];
        prefix.push(last.wrapping_mul(HASH_BASE).wrapping_add(u64::from(c) + 1));
        power.push(power[power.len() - 1].wrapping_mul(HASH_BASE));
    }
    let part = |from: usize, to: usize| {
        prefix[to].wrapping_sub(prefix[from].wrapping_mul(power[to - from]))
    };
    let mut found = |hash: u64, deleted: usize| found(spread(hash), deleted);
    found(prefix[n], 0);
    if most == 0 {
        return;
    }
    for p in 0..n {
        found(
            part(0, p)
                .wrapping_mul(power[n - 1 - p])
                .wrapping_add(part(p + 1, n)),
            1,
        );
        if most < 2 {
            continue;
        }
        for q in p + 1..n {
            found(
                part(0, p)
                    .wrapping_mul(power[n - 2 - p])
                    .wrapping_add(part(p + 1, q).wrapping_mul(power[n - 1 - q]))
                    .wrapping_add(part(q + 1, n)),
                2,
            );
        }
    }
}

/// Spreads a polynomial hash over all 64 bits (splitmix64's finaliser): the index reads the top
/// ones.
fn spread(hash: u64) -> u64 {
    let hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// Optimal-string-alignment distance (edits, with a swap of neighbours counting as one), with
/// its buffers kept between calls.
#[derive(Default)]
struct EditDistance {
    /// Rows `i - 2`, `i - 1` and `i` of the distance table.
    rows: [Vec<usize>; 3],
}

impl EditDistance {
    /// The distance between `a` and `b` if it is at most `bound`. Only the cells within `bound`
    /// of the diagonal are computed, and the computation stops at the first row whose every
    /// cell is over `bound` (no later row can do better).
    fn within(&mut self, a: &[char], b: &[char], bound: usize) -> Option<usize> {
        if a.len().abs_diff(b.len()) > bound {
            return None;
        }
        if a.is_empty() || b.is_empty() {
            return Some(a.len().max(b.len()));
        }
        let over = bound + 1;
        let width = b.len() + 1;
        for row in &mut self.rows {
            row.clear();
            row.resize(width, over);
        }
        let [before, previous, current] = &mut self.rows;
        for (j, cell) in previous.iter_mut().enumerate().take(over) {
            *cell = j;
        }
        for i in 1..=a.len() {
            current.fill(over);
            current[0] = if i <= bound { i } else { over };
            let mut smallest = current[0];
            for j in i.saturating_sub(bound).max(1)..=(i + bound).min(b.len()) {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut best = (previous[j] + 1)
                    .min(current[j - 1] + 1)
                    .min(previous[j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(before[j - 2] + 1);
                }
                current[j] = best.min(over);
                smallest = smallest.min(current[j]);
            }
            if smallest > bound {
                return None;
            }
            std::mem::swap(before, previous);
            std::mem::swap(previous, current);
        }
        Some(previous[b.len()]).filter(|&distance| distance <= bound)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Optimal-string-alignment distance, the whole table.
    fn osa(a: &[char], b: &[char]) -> usize {
        let mut table = vec![vec![0; b.len() + 1]; a.len() + 1];
        for (i, row) in table.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, cell) in table[0].iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut best = (table[i - 1][j] + 1)
                    .min(table[i][j - 1] + 1)
                    .min(table[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(table[i - 2][j - 2] + 1);
                }
                table[i][j] = best;
            }
        }
        table[a.len()][b.len()]
    }

    /// The definition: the full distance to every candidate.
    fn closest_by_comparing_all<'a>(
        name: &str,
        candidates: &[&'a str],
        except: Option<usize>,
    ) -> Option<&'a str> {
        let query: Vec<char> = name.to_lowercase().chars().collect();
        let limit = (name.chars().count() / 3).max(1);
        candidates
            .iter()
            .enumerate()
            .filter(|&(i, c)| Some(i) != except && *c != name)
            .filter_map(|(_, c)| {
                let folded: Vec<char> = c.chars().flat_map(char::to_lowercase).collect();
                let d = osa(&query, &folded);
                (d <= limit).then_some((d, *c))
            })
            .min_by_key(|(d, c)| (*d, c.len()))
            .map(|(_, c)| c)
    }

    #[test]
    fn edit_distance_counts_edits_and_neighbour_swaps_with_reused_buffers() {
        let mut distance = EditDistance::default();
        let mut between = |a: &str, b: &str| {
            let a: Vec<char> = a.chars().collect();
            let b: Vec<char> = b.chars().collect();
            let within = distance.within(&a, &b, 100).expect("within 100");
            assert_eq!(within, osa(&a, &b));
            within
        };
        assert_eq!(between("kitten", "sitting"), 3);
        assert_eq!(between("planer", "planner"), 1);
        assert_eq!(between("ab", "ba"), 1, "a swap of neighbours is one edit");
        assert_eq!(
            between("ca", "abc"),
            3,
            "optimal string alignment, not Damerau"
        );
        assert_eq!(between("", "abc"), 3);
        assert_eq!(between("étape", "etape"), 1, "characters, not bytes");
        assert_eq!(between("same", "same"), 0);
    }

    #[test]
    fn edit_distance_gives_up_past_its_bound() {
        let mut distance = EditDistance::default();
        let chars = |text: &str| text.chars().collect::<Vec<char>>();
        assert_eq!(
            distance.within(&chars("kitten"), &chars("sitting"), 2),
            None
        );
        assert_eq!(
            distance.within(&chars("kitten"), &chars("sitting"), 3),
            Some(3)
        );
        assert_eq!(distance.within(&chars("abcdef"), &chars("ab"), 3), None);
    }

    #[test]
    fn closest_finds_a_typo_but_not_an_unrelated_name() {
        let ids = ["planner", "summarizer", "end"];
        assert_eq!(closest("planer", ids), Some("planner"));
        assert_eq!(closest("summariser", ids), Some("summarizer"));
        assert_eq!(closest("fetch", ids), None);
        assert_eq!(closest("ned", ids), Some("end"));
    }

    #[test]
    fn the_closest_then_the_shortest_then_the_first_wins_and_a_name_is_never_its_own_typo() {
        assert_eq!(closest("abcd", ["abce", "abcf"]), Some("abce"));
        assert_eq!(closest("abcd", ["abcde", "abce"]), Some("abce"));
        assert_eq!(closest("Start", ["Start", "start"]), Some("start"));
        let mut names = Names::new(["step", "stop"]);
        assert_eq!(names.closest("stap", Some(0)), Some("stop"));
    }

    #[test]
    fn a_large_set_of_names_answers_as_comparing_with_each_one_does() {
        let ids: Vec<String> = (0..2_000).map(|i| format!("step_{i}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut names = Names::new(ids.iter().copied());
        for (query, except) in [
            ("step_1x", None),
            ("stpe_12", None),
            ("step_1999", Some(1_999)),
            ("missing_step_4", None),
            ("sleep_1", None),
            ("STEP_42", None),
        ]
        .into_iter()
        .cycle()
        .take(2 * INDEX_AFTER_QUESTIONS + 6)
        {
            assert_eq!(
                names.closest(query, except),
                closest_by_comparing_all(query, &ids, except),
                "{query}"
            );
        }
        assert!(names.index.is_some(), "the index was built");
    }

    proptest! {
        #[test]
        fn suggestions_are_those_of_comparing_with_every_name(
            candidates in proptest::collection::vec("[abcΣσς_-]{0,12}", 0..150),
            queries in proptest::collection::vec("[abcΣσς_-]{0,12}", 1..20),
            except in proptest::option::of(0usize..150),
        ) {
            let candidates: Vec<&str> = candidates.iter().map(String::as_str).collect();
            let mut compared = Names::new(candidates.iter().copied());
            let mut indexed = Names::new(candidates.iter().copied());
            // A small set answers by comparing: use the index whatever the size.
            indexed.index_min_names = 0;
            indexed.index = Some(DeletionIndex::new(&indexed));
            for query in &queries {
                let expected = closest_by_comparing_all(query, &candidates, except);
                prop_assert_eq!(compared.closest(query, except), expected, "{}", query);
                prop_assert_eq!(indexed.closest(query, except), expected, "{}", query);
            }
        }
    }
}
