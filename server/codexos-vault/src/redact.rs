//! Replaces secret values in text with `[secret:KEY]` before the text reaches a log line, a
//! progress message, a trace or a diagnostic.

mod forms;

use std::borrow::Cow;
use std::fmt;

use crate::SecretString;
use forms::{Alphabet, Form};

/// Knows a set of secret values and hides them in any text, in the forms they travel in (see
/// [`Redactor::add`]).
///
/// Matching is a single left-to-right pass that takes the longest match starting at each
/// position, so a value that contains another is hidden whole. Markers, the ones it writes and
/// the ones of its keys already in the text, are never matched again: redacting a redacted text
/// changes nothing. Empty values are ignored: they would match everywhere.
///
/// No match spans whitespace unless the value itself holds some, so text cut after a whitespace
/// character can be redacted piece by piece, as the runner does with streamed tokens.
#[derive(Clone)]
pub struct Redactor {
    patterns: Vec<Pattern>,
    /// `[secret:KEY]` for each key, indexed by [`Pattern::marker`].
    markers: Vec<String>,
    /// Indices of the patterns by the ASCII lower case of their needle's first byte (256 lists
    /// once a needle is added).
    by_first_byte: Vec<Vec<usize>>,
    /// Bit `256 * a + b` is set when a match or a marker may start at byte `a` followed by `b`:
    /// the first two bytes of a needle (in any ASCII case where its form ignores case; any `b`
    /// after a one-byte needle), and every pair with `%` or `+` (they stand for other bytes) or
    /// starting with `[`. Most positions in a text fail this one test, so the scan rarely looks
    /// at a pattern.
    candidate_pairs: Box<[u64; 1024]>,
}

#[derive(Clone)]
struct Pattern {
    needle: SecretString,
    form: Form,
    marker: usize,
}

/// A stretch of text to replace by a marker.
#[derive(Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    marker: usize,
}

const MARKER_PREFIX: &str = "[secret:";

impl Default for Redactor {
    fn default() -> Self {
        Self {
            patterns: Vec::new(),
            markers: Vec::new(),
            by_first_byte: Vec::new(),
            candidate_pairs: Box::new(escape_and_marker_pairs()),
        }
    }
}

/// The pairs of bytes where a match may start whatever the needles: `%XX` and `+` may stand for
/// a needle's first or second byte, and `[` may start a marker.
fn escape_and_marker_pairs() -> [u64; 1024] {
    let mut pairs = [0; 1024];
    for other in 0..=u8::MAX {
        for (first, second) in [
            (b'%', other),
            (b'+', other),
            (b'[', other),
            (other, b'%'),
            (other, b'+'),
        ] {
            set_pair(&mut pairs, first, second);
        }
    }
    pairs
}

fn set_pair(pairs: &mut [u64; 1024], first: u8, second: u8) {
    let bit = usize::from(first) << 8 | usize::from(second);
    pairs[bit >> 6] |= 1 << (bit & 63);
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Hides `value` as `[secret:KEY]`. Other sources of secrets (say an API key taken from the
    /// environment) are added the same way.
    ///
    /// The value is hidden as it is and JSON-escaped, whatever its length. A value of at least
    /// 8 bytes is also hidden
    /// - in any ASCII case (`SK-ABC…` for `sk-abc…`),
    /// - percent-encoded, by any encoder: each byte as itself or as `%XX` in either case, a
    ///   space also as `+` (URL paths, queries, form bodies),
    /// - JSON-escaped with non-ASCII characters as `\uXXXX`, and any of these JSON forms
    ///   percent-encoded (JSON inside a URL),
    /// - in hex, in either case,
    /// - in base64, standard or URL-safe, padded or not, on its own or anywhere inside a longer
    ///   blob (`Basic base64(user:value)`): the whole blob is hidden.
    ///
    /// Shorter values are hidden only as they are because their derived forms match ordinary
    /// text (see `forms::MIN_ENCODED_LEN`).
    pub fn add(&mut self, key: &str, value: &SecretString) {
        let needles = forms::needles(value.expose());
        if needles.is_empty() {
            return;
        }
        let marker = format!("{MARKER_PREFIX}{key}]");
        let marker = match self.markers.iter().position(|known| *known == marker) {
            Some(index) => index,
            None => {
                self.markers.push(marker);
                self.markers.len() - 1
            }
        };
        for (needle, form) in needles {
            self.add_needle(needle, form, marker);
        }
    }

    /// [`Redactor::add`] for building in one expression.
    pub fn with(mut self, key: &str, value: &SecretString) -> Self {
        self.add(key, value);
        self
    }

    fn add_needle(&mut self, needle: SecretString, form: Form, marker: usize) {
        let bytes = needle.expose().as_bytes();
        let Some(&first) = bytes.first() else {
            return;
        };
        let cases = |byte: u8| {
            if form.ignores_ascii_case() {
                [byte.to_ascii_lowercase(), byte.to_ascii_uppercase()]
            } else {
                [byte, byte]
            }
        };
        for first in cases(first) {
            match bytes.get(1) {
                Some(&second) => cases(second)
                    .into_iter()
                    .for_each(|second| set_pair(&mut self.candidate_pairs, first, second)),
                None => (0..=u8::MAX)
                    .for_each(|second| set_pair(&mut self.candidate_pairs, first, second)),
            }
        }
        let first = first.to_ascii_lowercase();
        if self.by_first_byte.is_empty() {
            self.by_first_byte = vec![Vec::new(); 256];
        }
        let bucket = &mut self.by_first_byte[usize::from(first)];
        let known = bucket.iter().any(|&index| {
            let pattern = &self.patterns[index];
            pattern.form == form
                && pattern.marker == marker
                && pattern.needle.expose() == needle.expose()
        });
        if !known {
            bucket.push(self.patterns.len());
            self.patterns.push(Pattern {
                needle,
                form,
                marker,
            });
        }
    }

    /// Whether a match or a marker may start at `at` (see [`Redactor::candidate_pairs`]).
    fn may_start_at(&self, bytes: &[u8], at: usize) -> bool {
        match bytes.get(at + 1) {
            Some(&second) => {
                let bit = usize::from(bytes[at]) << 8 | usize::from(second);
                self.candidate_pairs[bit >> 6] & (1 << (bit & 63)) != 0
            }
            None => true,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// `text` with every known secret value replaced by its marker; borrowed when nothing matched.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.patterns.is_empty() {
            return Cow::Borrowed(text);
        }
        let bytes = text.as_bytes();
        let mut redacted = String::new();
        let mut copied_up_to = 0;
        let mut position = 0;
        while position < bytes.len() {
            if !self.may_start_at(bytes, position) {
                position += 1;
                continue;
            }
            if bytes[position] == b'['
                && let Some(marker_len) = self.known_marker_len(&bytes[position..])
            {
                position += marker_len;
                continue;
            }
            match self.longest_hit(text, position, copied_up_to) {
                Some(hit) => {
                    redacted.push_str(&text[copied_up_to..hit.start]);
                    redacted.push_str(&self.markers[hit.marker]);
                    position = hit.end;
                    copied_up_to = hit.end;
                }
                None => position += 1,
            }
        }
        if copied_up_to == 0 {
            return Cow::Borrowed(text);
        }
        redacted.push_str(&text[copied_up_to..]);
        Cow::Owned(redacted)
    }

    fn known_marker_len(&self, rest: &[u8]) -> Option<usize> {
        if !rest.starts_with(MARKER_PREFIX.as_bytes()) {
            return None;
        }
        self.markers
            .iter()
            .find(|marker| rest.starts_with(marker.as_bytes()))
            .map(String::len)
    }

    /// The longest match that starts at `at` (a base64 run may start earlier, but not before
    /// `floor`, the end of the last replaced stretch).
    fn longest_hit(&self, text: &str, at: usize, floor: usize) -> Option<Hit> {
        let bytes = text.as_bytes();
        let first = bytes[at];
        let mut best: Option<Hit> = None;
        let mut consider = |first_byte: u8| {
            for &index in &self.by_first_byte[usize::from(first_byte)] {
                let pattern = &self.patterns[index];
                let needle = pattern.needle.expose().as_bytes();
                let Some(end) = matched_end(bytes, at, needle, pattern.form) else {
                    continue;
                };
                let (start, end) = match pattern.form {
                    Form::Base64Core(alphabet) => base64_run(bytes, at, end, alphabet, floor),
                    Form::Exact | Form::Text => (at, end),
                };
                let longer = best
                    .is_none_or(|best| end > best.end || (end == best.end && start < best.start));
                if longer && text.is_char_boundary(end) {
                    best = Some(Hit {
                        start,
                        end,
                        marker: pattern.marker,
                    });
                }
            }
        };
        let first_lower = first.to_ascii_lowercase();
        consider(first_lower);
        if let Some(decoded) = percent_decoded(bytes, at)
            && decoded.to_ascii_lowercase() != first_lower
        {
            consider(decoded.to_ascii_lowercase());
        }
        if first == b'+' {
            consider(b' ');
        }
        best
    }
}

/// Where `needle` ends when it matches `bytes` from `start` in `form`.
fn matched_end(bytes: &[u8], start: usize, needle: &[u8], form: Form) -> Option<usize> {
    let same = |got: u8, wanted: u8| {
        got == wanted || (form.ignores_ascii_case() && got.eq_ignore_ascii_case(&wanted))
    };
    let mut at = start;
    for &wanted in needle {
        let &got = bytes.get(at)?;
        if got == b'%'
            && form.reads_percent_escapes()
            && percent_decoded(bytes, at).is_some_and(|decoded| same(decoded, wanted))
        {
            at += 3;
        } else if same(got, wanted) || (got == b'+' && wanted == b' ' && form.reads_plus_as_space())
        {
            at += 1;
        } else {
            return None;
        }
    }
    Some(at)
}

/// The byte of the `%XX` escape at `at`, if there is one.
fn percent_decoded(bytes: &[u8], at: usize) -> Option<u8> {
    match bytes.get(at..at + 3)? {
        [b'%', high, low] => {
            let digit = |byte: u8| char::from(byte).to_digit(16);
            Some((digit(*high)? * 16 + digit(*low)?) as u8)
        }
        _ => None,
    }
}

/// The base64 run around a core matched at `start..end`: back over the alphabet (not before
/// `floor`), forward over the alphabet and up to two `=`; `%XX` escapes of its characters
/// included, other escapes ending it.
fn base64_run(
    bytes: &[u8],
    start: usize,
    end: usize,
    alphabet: Alphabet,
    floor: usize,
) -> (usize, usize) {
    let mut run_start = start;
    while run_start > floor {
        let escaped = run_start
            .checked_sub(3)
            .filter(|&escape| escape >= floor)
            .and_then(|escape| percent_decoded(bytes, escape));
        match escaped {
            Some(decoded) if alphabet.contains(decoded) => run_start -= 3,
            Some(_) => break,
            None if alphabet.contains(bytes[run_start - 1]) => run_start -= 1,
            None => break,
        }
    }
    let mut run_end = end;
    let mut padding = 0;
    while let Some(&byte) = bytes.get(run_end) {
        let (decoded, width) = match percent_decoded(bytes, run_end) {
            Some(decoded) => (decoded, 3),
            None => (byte, 1),
        };
        if decoded == b'=' && padding < 2 {
            padding += 1;
        } else if padding > 0 || !alphabet.contains(decoded) {
            break;
        }
        run_end += width;
    }
    (run_start, run_end)
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut markers: Vec<&str> = self.markers.iter().map(String::as_str).collect();
        markers.sort_unstable();
        f.debug_struct("Redactor").field("hides", &markers).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn redactor(pairs: &[(&str, &str)]) -> Redactor {
        pairs
            .iter()
            .fold(Redactor::new(), |redactor, (key, value)| {
                redactor.with(key, &SecretString::from(*value))
            })
    }

    /// Each line redacted on its own.
    fn redacted_lines(redactor: &Redactor, lines: &[&str]) -> String {
        lines
            .iter()
            .map(|line| format!("{}\n", redactor.redact(line)))
            .collect()
    }

    #[test]
    fn a_value_inside_a_longer_line_is_replaced_by_its_key() {
        let redactor = redactor(&[("openai_key", "sk-abc123")]);
        expect!["POST /v1/chat Authorization: Bearer [secret:openai_key] (retry 2, key [secret:openai_key])"]
            .assert_eq(&redactor.redact(
                "POST /v1/chat Authorization: Bearer sk-abc123 (retry 2, key sk-abc123)",
            ));
    }

    #[test]
    fn a_line_without_secrets_is_returned_borrowed() {
        let redactor = redactor(&[("openai_key", "sk-abc123")]);
        assert!(matches!(
            redactor.redact("node planner finished in 12 ms, GET /?q=a%20b Basic dXNlcg=="),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_value_containing_another_value_is_hidden_whole() {
        let redactor = redactor(&[("short", "abc"), ("long", "xxabcxx")]);
        expect!["[secret:long] and [secret:short]"].assert_eq(&redactor.redact("xxabcxx and abc"));
    }

    #[test]
    fn a_marker_is_never_redacted_again() {
        let redactor = redactor(&[
            ("openai_key", "sk-1"),
            ("word", "secret"),
            ("db_password", "password"),
        ]);
        let once = redactor.redact("sk-1 secret PASSWORD");
        expect!["[secret:openai_key] [secret:word] [secret:db_password]"].assert_eq(&once);
        assert_eq!(redactor.redact(&once), once);
    }

    #[test]
    fn a_value_is_hidden_inside_json_too() {
        let redactor = redactor(&[("db_password", r#"pa"ss\word"#)]);
        let trace_line = serde_json::json!({"node": "db", "env": r#"pa"ss\word"#}).to_string();
        expect![[r#"{"env":"[secret:db_password]","node":"db"}"#]]
            .assert_eq(&redactor.redact(&trace_line));
    }

    #[test]
    fn a_non_ascii_value_is_hidden_in_ascii_only_json() {
        let redactor = redactor(&[("passphrase", "clé-secrète-42")]);
        expect![[r#"{"env": "[secret:passphrase]", "again": "[secret:passphrase]"}"#]].assert_eq(
            &redactor.redact(
                r#"{"env": "cl\u00e9-secr\u00e8te-42", "again": "CL\u00E9-SECR\u00E8TE-42"}"#,
            ),
        );
    }

    #[test]
    fn values_around_multibyte_text_keep_the_text_intact() {
        let redactor = redactor(&[("token", "tøken-é"), ("long", "tøken-éé-long")]);
        expect!["→ [secret:token] ← → [secret:long] ← → [secret:long] ←"].assert_eq(
            &redactor.redact("→ tøken-é ← → tøken-éé-long ← → t%C3%B8ken-%c3%a9%C3%A9-LONG ←"),
        );
    }

    #[test]
    fn a_value_is_hidden_in_every_percent_encoding_of_a_url_or_a_form() {
        let redactor = redactor(&[("password", "p@ss/w rd+x")]);
        expect![[r#"
            path segment: /login/[secret:password]/next
            whole path: /files/[secret:password]
            component: ?pw=[secret:password]&next=1
            form body: user=ann&pw=[secret:password]&remember=on
            every byte: [secret:password]
            lower-case hex: [secret:password]
            plain: "[secret:password]"
        "#]]
        .assert_eq(&redacted_lines(
            &redactor,
            &[
                "path segment: /login/p@ss%2Fw%20rd+x/next",
                "whole path: /files/p@ss/w%20rd+x",
                "component: ?pw=p%40ss%2Fw%20rd%2Bx&next=1",
                "form body: user=ann&pw=p%40ss%2Fw+rd%2Bx&remember=on",
                "every byte: %70%40%73%73%2F%77%20%72%64%2B%78",
                "lower-case hex: p%40ss%2fw%20rd%2bx",
                r#"plain: "p@ss/w rd+x""#,
            ],
        ));
    }

    #[test]
    fn a_secret_in_a_url_query_is_hidden_and_the_rest_of_the_url_kept() {
        let redactor = redactor(&[("search_key", "sk-live-4f9a2c7e1b")]);
        expect![[r#"
            http_fetch GET https://api.example.com/v1/search?q=rust%20traits&api_key=[secret:search_key]&page=2: 401
        "#]]
        .assert_eq(&redacted_lines(
            &redactor,
            &[
                "http_fetch GET https://api.example.com/v1/search?q=rust%20traits&api_key=sk%2Dlive%2D4f9a2c7e1b&page=2: 401",
            ],
        ));
    }

    #[test]
    fn an_upper_cased_or_mixed_case_value_is_hidden() {
        let redactor = redactor(&[("search_key", "sk-live-4f9a2c7e1b")]);
        expect![[r#"
            KEY=[secret:search_key]
            key=[secret:search_key]
            echo [secret:search_key]
        "#]]
        .assert_eq(&redacted_lines(
            &redactor,
            &[
                "KEY=SK-LIVE-4F9A2C7E1B",
                "key=Sk-Live-4F9a2C7e1B",
                "echo sk-live-4f9a2c7e1b",
            ],
        ));
    }

    #[test]
    fn a_value_is_hidden_in_hex_of_either_case() {
        let redactor = redactor(&[("search_key", "sk-live-4f9a2c7e1b")]);
        expect![[r#"
            bytes: [secret:search_key]
            BYTES: [secret:search_key]
            inside a longer dump: 00ff[secret:search_key]0a
        "#]]
        .assert_eq(&redacted_lines(
            &redactor,
            &[
                "bytes: 736b2d6c6976652d34663961326337653162",
                "BYTES: 736B2D6C6976652D34663961326337653162",
                "inside a longer dump: 00ff736b2d6c6976652d346639613263376531620a",
            ],
        ));
    }

    #[test]
    fn a_value_is_hidden_in_base64_padded_or_not_standard_or_url_safe() {
        let redactor = redactor(&[("token", "tok/en?+>>?~~k3y")]);
        expect![[r#"
            standard: [secret:token]
            unpadded: [secret:token].
            url-safe: [secret:token]
            url-safe unpadded: [secret:token].
            percent-encoded in a query: ?auth=[secret:token]&next=1
        "#]]
        .assert_eq(&redacted_lines(
            &redactor,
            &[
                "standard: dG9rL2VuPys+Pj9+fmszeQ==",
                "unpadded: dG9rL2VuPys+Pj9+fmszeQ.",
                "url-safe: dG9rL2VuPys-Pj9-fmszeQ==",
                "url-safe unpadded: dG9rL2VuPys-Pj9-fmszeQ.",
                "percent-encoded in a query: ?auth=dG9rL2VuPys%2BPj9%2BfmszeQ%3D%3D&next=1",
            ],
        ));
    }

    #[test]
    fn a_value_is_hidden_inside_a_longer_base64_blob_at_every_offset() {
        let redactor = redactor(&[("search_key", "sk-live-4f9a2c7e1b")]);
        // base64 of "u:", "us:" and "user:" followed by the value (offsets 2, 0 and 2 + 3), and
        // of "ci-bot:" + the value + ":x" (offset 1, bytes after it).
        expect![[r#"
            [secret:search_key]
            [secret:search_key]
            [secret:search_key]
            [secret:search_key] end
        "#]]
        .assert_eq(&redacted_lines(
            &redactor,
            &[
                "dTpzay1saXZlLTRmOWEyYzdlMWI=",
                "dXM6c2stbGl2ZS00ZjlhMmM3ZTFi",
                "dXNlcjpzay1saXZlLTRmOWEyYzdlMWI=",
                "Y2ktYm90OnNrLWxpdmUtNGY5YTJjN2UxYjp4 end",
            ],
        ));
    }

    #[test]
    fn a_basic_auth_header_is_hidden_whole() {
        let redactor = redactor(&[("search_key", "sk-live-4f9a2c7e1b")]);
        expect![[r#"{"headers":{"Authorization":"Basic [secret:search_key]","Accept":"*/*"}}"#]]
            .assert_eq(&redactor.redact(
                r#"{"headers":{"Authorization":"Basic dXNlcjpzay1saXZlLTRmOWEyYzdlMWI=","Accept":"*/*"}}"#,
            ));
    }

    #[test]
    fn a_value_inside_json_inside_a_url_is_hidden() {
        let value = r#"pa"ss/w0rd-xyz"#;
        let redactor = redactor(&[("db_password", value)]);
        let state = serde_json::json!({ "token": value }).to_string();
        let url = format!(
            "https://cb.example/return?state={}",
            state
                .bytes()
                .map(|byte| match byte {
                    b'a'..=b'z' | b'0'..=b'9' | b'-' => char::from(byte).to_string(),
                    _ => format!("%{byte:02X}"),
                })
                .collect::<String>()
        );
        expect!["https://cb.example/return?state=%7B%22token%22%3A%22[secret:db_password]%22%7D"]
            .assert_eq(&redactor.redact(&url));
    }

    #[test]
    fn a_value_with_spaces_is_hidden_with_plus_signs_or_escapes() {
        let redactor = redactor(&[("passphrase", "correct horse battery")]);
        expect!["q=[secret:passphrase]&r=[secret:passphrase]"]
            .assert_eq(&redactor.redact("q=correct+horse+battery&r=Correct%20Horse%20Battery"));
    }

    #[test]
    fn a_short_value_is_hidden_only_as_it_is() {
        let redactor = redactor(&[("pin", "hunter2")]);
        expect!["[secret:pin] HUNTER2 hunter%32 aHVudGVyMg== 68756e74657232"]
            .assert_eq(&redactor.redact("hunter2 HUNTER2 hunter%32 aHVudGVyMg== 68756e74657232"));
    }

    #[test]
    fn the_text_around_a_base64_run_is_kept() {
        let redactor = redactor(&[("search_key", "sk-live-4f9a2c7e1b")]);
        expect!["see=([secret:search_key]), next=%20[secret:search_key]%26"].assert_eq(
            &redactor.redact("see=(c2stbGl2ZS00ZjlhMmM3ZTFi), next=%20c2stbGl2ZS00ZjlhMmM3ZTFi%26"),
        );
    }

    #[test]
    fn text_cut_after_whitespace_is_redacted_the_same_piece_by_piece() {
        let redactor = redactor(&[
            ("search_key", "sk-live-4f9a2c7e1b"),
            ("password", "p@ss/w0rd+x"),
            ("pin", "1234"),
        ]);
        let text = "GET /?k=SK%2DLIVE%2D4f9a2c7e1b Basic dXNlcjpzay1saXZlLTRmOWEyYzdlMWI=\n\
                    hex 736b2d6c6976652d34663961326337653162 pw=p%40ss%2Fw0rd%2Bx\tpin 1234 [secret:pin]";
        let whole = redactor.redact(text);
        expect![[r#"
            GET /?k=[secret:search_key] Basic [secret:search_key]
            hex [secret:search_key] pw=[secret:password]	pin [secret:pin] [secret:pin]"#]]
        .assert_eq(&whole);
        for (index, character) in text.char_indices() {
            if character.is_whitespace() {
                let cut = index + character.len_utf8();
                let pieces = format!(
                    "{}{}",
                    redactor.redact(&text[..cut]),
                    redactor.redact(&text[cut..])
                );
                assert_eq!(pieces, whole, "cut after byte {cut}");
            }
        }
    }

    #[test]
    fn empty_values_are_ignored() {
        let redactor = redactor(&[("empty", "")]);
        assert!(redactor.is_empty());
        assert_eq!(redactor.redact("anything"), "anything");
    }

    #[test]
    fn debug_of_a_redactor_names_keys_but_not_values() {
        let redactor = redactor(&[("openai_key", "sk-abc123"), ("json", "a\"b")]);
        expect![[r#"Redactor { hides: ["[secret:json]", "[secret:openai_key]"] }"#]]
            .assert_eq(&format!("{redactor:?}"));
    }
}
