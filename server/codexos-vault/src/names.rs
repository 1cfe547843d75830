//! Rules for secret names and tags: short, printable, and safe to show in a terminal, a log line
//! or a template (`{{vault.openai_key}}`).

use crate::VaultError;

const MAX_NAME_LEN: usize = 128;
const MAX_TAG_LEN: usize = 64;

/// Checks a secret's name: 1 to 128 ASCII letters, digits, `_`, `-` or `.`.
pub fn validate_key_name(name: &str) -> Result<(), VaultError> {
    check_token(name, "a secret name", MAX_NAME_LEN, &[]).map_err(|reason| {
        VaultError::InvalidKeyName {
            name: name.to_owned(),
            reason,
        }
    })
}

/// Checks the tags of secret `key` and returns them without duplicates, in the order given.
/// A tag is 1 to 64 ASCII letters, digits, `_`, `-`, `.`, `:` or `/` (so `oauth:github` works).
pub fn normalize_tags<S: AsRef<str>>(
    key: &str,
    tags: impl IntoIterator<Item = S>,
) -> Result<Vec<String>, VaultError> {
    let mut normalized: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.as_ref();
        check_token(tag, "a tag", MAX_TAG_LEN, &[':', '/']).map_err(|reason| {
            VaultError::InvalidTag {
                key: key.to_owned(),
                tag: tag.to_owned(),
                reason,
            }
        })?;
        if !normalized.iter().any(|known| known == tag) {
            normalized.push(tag.to_owned());
        }
    }
    Ok(normalized)
}

/// Why `text` is not 1 to `max_len` ASCII letters, digits, `_`, `-`, `.` or one of `extra`.
fn check_token(text: &str, what: &str, max_len: usize, extra: &[char]) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("{what} cannot be empty"));
    }
    if text.len() > max_len {
        return Err(format!(
            "it is {} bytes long, the limit is {max_len}",
            text.len()
        ));
    }
    let allowed = |ch: char| {
        ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.') || extra.contains(&ch)
    };
    if let Some((index, ch)) = text.char_indices().find(|&(_, ch)| !allowed(ch)) {
        let mut choices: Vec<String> = ["letters", "digits", "'_'", "'-'", "'.'"]
            .map(String::from)
            .into();
        choices.extend(extra.iter().map(|ch| format!("'{ch}'")));
        let last = choices.pop().unwrap_or_default();
        return Err(format!(
            "character {ch:?} at byte {index} is not allowed; use {} or {last}",
            choices.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn names_of_letters_digits_underscore_dash_and_dot_are_accepted() {
        for name in ["openai_key", "GITHUB-TOKEN", "tool.jira.password", "k1"] {
            assert!(validate_key_name(name).is_ok(), "{name} was rejected");
        }
    }

    #[test]
    fn a_name_with_a_space_names_the_character_and_its_position() {
        let error = validate_key_name("openai key").unwrap_err();
        expect![[r#"invalid secret name "openai key": character ' ' at byte 6 is not allowed; use letters, digits, '_', '-' or '.'"#]]
            .assert_eq(&error.to_string());
    }

    #[test]
    fn an_empty_or_overlong_name_is_rejected() {
        expect![[r#"invalid secret name "": a secret name cannot be empty"#]]
            .assert_eq(&validate_key_name("").unwrap_err().to_string());
        let long = "a".repeat(129);
        assert!(
            validate_key_name(&long)
                .unwrap_err()
                .to_string()
                .contains("129 bytes long, the limit is 128")
        );
    }

    #[test]
    fn tags_keep_their_order_and_lose_duplicates() {
        let tags = normalize_tags("openai_key", ["api", "llm", "api", "oauth:github"]).unwrap();
        assert_eq!(tags, ["api", "llm", "oauth:github"]);
    }

    #[test]
    fn a_tag_with_a_comma_is_rejected_naming_the_secret() {
        let error = normalize_tags("openai_key", ["api,llm"]).unwrap_err();
        expect![[r#"invalid tag "api,llm" on secret "openai_key": character ',' at byte 3 is not allowed; use letters, digits, '_', '-', '.', ':' or '/'"#]]
            .assert_eq(&error.to_string());
    }
}
