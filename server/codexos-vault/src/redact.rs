//! Replaces secret values in text with `[secret:KEY]` before the text reaches a log line, a
//! progress message, a trace or a diagnostic.

use std::borrow::Cow;
use std::fmt;

use crate::SecretString;

/// Knows a set of secret values and hides them in any text.
///
/// Matching is a single left-to-right pass that takes the longest value starting at each
/// position, so a value that contains another is hidden whole, and a marker just written is never
/// matched again. Each value is also hidden in its JSON-escaped form (a value holding `"` or `\`
/// looks different inside a JSON trace line). Empty values are ignored: they would match
/// everywhere.
#[derive(Clone)]
pub struct Redactor {
    /// Longest needle first, so the first hit at a position is the longest one.
    patterns: Vec<Pattern>,
    /// Whether some needle starts with this byte: lets the scan skip most positions at once.
    starts: [bool; 256],
}

#[derive(Clone)]
struct Pattern {
    needle: SecretString,
    marker: String,
}

impl Default for Redactor {
    fn default() -> Self {
        Self {
            patterns: Vec::new(),
            starts: [false; 256],
        }
    }
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Hides `value` as `[secret:KEY]`. Other sources of secrets (say an API key taken from the
    /// environment) are added the same way.
    pub fn add(&mut self, key: &str, value: &SecretString) {
        let marker = format!("[secret:{key}]");
        let json_escaped = json_escaped(value.expose());
        if json_escaped.expose() != value.expose() {
            self.add_needle(json_escaped, marker.clone());
        }
        self.add_needle(value.clone(), marker);
    }

    /// [`Redactor::add`] for building in one expression.
    pub fn with(mut self, key: &str, value: &SecretString) -> Self {
        self.add(key, value);
        self
    }

    fn add_needle(&mut self, needle: SecretString, marker: String) {
        let Some(&first) = needle.expose().as_bytes().first() else {
            return;
        };
        self.starts[usize::from(first)] = true;
        let position = self
            .patterns
            .partition_point(|known| known.needle.expose().len() >= needle.expose().len());
        self.patterns.insert(position, Pattern { needle, marker });
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// `text` with every known secret value replaced by its marker; borrowed when nothing matched.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let bytes = text.as_bytes();
        let mut redacted = String::new();
        let mut copied_up_to = 0;
        let mut position = 0;
        while position < bytes.len() {
            let hit = if self.starts[usize::from(bytes[position])] {
                self.patterns.iter().find(|pattern| {
                    bytes[position..].starts_with(pattern.needle.expose().as_bytes())
                })
            } else {
                None
            };
            match hit {
                // A needle is valid UTF-8, so a hit starts and ends on character boundaries.
                Some(pattern) => {
                    redacted.push_str(&text[copied_up_to..position]);
                    redacted.push_str(&pattern.marker);
                    position += pattern.needle.expose().len();
                    copied_up_to = position;
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
}

fn json_escaped(value: &str) -> SecretString {
    let quoted = SecretString::new(
        serde_json::to_string(value).expect("serializing a string to JSON cannot fail"),
    );
    let inner = quoted.expose();
    SecretString::from(&inner[1..inner.len() - 1])
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut markers: Vec<&str> = self
            .patterns
            .iter()
            .map(|pattern| pattern.marker.as_str())
            .collect();
        markers.sort_unstable();
        markers.dedup();
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
            redactor.redact("node planner finished in 12 ms"),
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
        let redactor = redactor(&[("openai_key", "sk-1"), ("word", "secret")]);
        expect!["[secret:openai_key] [secret:word]"].assert_eq(&redactor.redact("sk-1 secret"));
    }

    #[test]
    fn a_value_is_hidden_inside_json_too() {
        let redactor = redactor(&[("db_password", r#"pa"ss\word"#)]);
        let trace_line = serde_json::json!({"node": "db", "env": r#"pa"ss\word"#}).to_string();
        expect![[r#"{"env":"[secret:db_password]","node":"db"}"#]]
            .assert_eq(&redactor.redact(&trace_line));
    }

    #[test]
    fn values_around_multibyte_text_keep_the_text_intact() {
        let redactor = redactor(&[("token", "tøken-é")]);
        expect!["→ [secret:token] ←"].assert_eq(&redactor.redact("→ tøken-é ←"));
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
