//! Rendering `{{ ... }}` templates against a run's values. Pure: the caller answers each
//! reference through [`Lookup`], so the same code serves prompts, tool arguments, expressions
//! and the exit's output.

use std::borrow::Cow;
use std::fmt;

/// What a `{{ ... }}` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference<'a> {
    Input,
    Context,
    NodeOutput(&'a str),
    Vault(&'a str),
    Var(&'a str),
}

impl fmt::Display for Reference<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Input => f.write_str("{{input}}"),
            Reference::Context => f.write_str("{{context}}"),
            Reference::NodeOutput(id) => write!(f, "{{{{nodes.{id}.output}}}}"),
            Reference::Vault(key) => write!(f, "{{{{vault.{key}}}}}"),
            Reference::Var(name) => write!(f, "{{{{vars.{name}}}}}"),
        }
    }
}

impl<'a> Reference<'a> {
    /// The reference written between `{{` and `}}` (already trimmed).
    pub fn parse(expr: &'a str) -> Option<Reference<'a>> {
        let parts: Vec<&str> = expr.split('.').collect();
        match parts.as_slice() {
            ["input"] => Some(Reference::Input),
            ["context"] => Some(Reference::Context),
            ["nodes", id, "output"] if !id.is_empty() => Some(Reference::NodeOutput(id)),
            ["vault", key] if !key.is_empty() => Some(Reference::Vault(key)),
            ["vars", name] if !name.is_empty() => Some(Reference::Var(name)),
            _ => None,
        }
    }
}

/// Answers template references; `Err` says why a reference has no value (shown to the user).
pub trait Lookup {
    fn lookup(&mut self, reference: Reference<'_>) -> Result<Cow<'_, str>, String>;
}

/// Why a template could not be rendered, at a byte offset of the template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    /// One-based, in characters.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for TemplateError {}

/// `template` with every `{{ ... }}` replaced by its value.
pub fn render(template: &str, lookup: &mut dyn Lookup) -> Result<String, TemplateError> {
    let error = |offset: usize, message: String| TemplateError {
        offset,
        column: template[..offset].chars().count() + 1,
        message,
    };
    let mut out = String::with_capacity(template.len());
    let mut from = 0;
    while let Some(open) = template[from..].find("{{").map(|i| from + i) {
        out.push_str(&template[from..open]);
        let Some(close) = template[open + 2..].find("}}").map(|i| open + 2 + i) else {
            return Err(error(open, "`{{` is never closed with `}}`".to_owned()));
        };
        let written = &template[open..close + 2];
        let expr = template[open + 2..close].trim();
        let Some(reference) = Reference::parse(expr) else {
            return Err(error(
                open,
                format!(
                    "`{written}` names nothing: use {{{{input}}}}, {{{{context}}}}, {{{{nodes.<id>.output}}}}, {{{{vault.<key>}}}} or {{{{vars.<name>}}}}"
                ),
            ));
        };
        match lookup.lookup(reference) {
            Ok(value) => out.push_str(&value),
            Err(message) => return Err(error(open, format!("`{written}`: {message}"))),
        }
        from = close + 2;
    }
    out.push_str(&template[from..]);
    Ok(out)
}

/// Whether `text` holds a template reference at all (plain strings skip rendering).
pub fn has_references(text: &str) -> bool {
    text.contains("{{")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use expect_test::{Expect, expect};

    use super::*;

    struct Values(HashMap<&'static str, &'static str>);

    impl Lookup for Values {
        fn lookup(&mut self, reference: Reference<'_>) -> Result<Cow<'_, str>, String> {
            let key = reference.to_string();
            self.0
                .iter()
                .find(|(name, _)| **name == key)
                .map(|(_, value)| Cow::Borrowed(*value))
                .ok_or_else(|| "has no value in this run".to_owned())
        }
    }

    fn check(template: &str, expected: Expect) {
        let mut values = Values(HashMap::from([
            ("{{input}}", "the input"),
            ("{{context}}", "ctx"),
            ("{{nodes.plan.output}}", "a plan"),
            ("{{vault.api_key}}", "s3cret"),
            ("{{vars.token}}", "t0ken"),
        ]));
        let rendered = match render(template, &mut values) {
            Ok(text) => text,
            Err(error) => format!("error {error}"),
        };
        expected.assert_eq(&rendered);
    }

    #[test]
    fn every_root_resolves_with_or_without_spaces() {
        check(
            "{{input}}|{{ context }}|{{nodes.plan.output}}|{{vault.api_key}}|{{  vars.token}}",
            expect!["the input|ctx|a plan|s3cret|t0ken"],
        );
    }

    #[test]
    fn text_without_references_comes_back_unchanged() {
        check("just { braces } here", expect!["just { braces } here"]);
    }

    #[test]
    fn an_unknown_root_names_the_ones_that_exist() {
        check(
            "Hi {{user.name}}",
            expect![
                "error at column 4: `{{user.name}}` names nothing: use {{input}}, {{context}}, {{nodes.<id>.output}}, {{vault.<key>}} or {{vars.<name>}}"
            ],
        );
    }

    #[test]
    fn an_unclosed_reference_points_at_its_braces() {
        check(
            "é {{input",
            expect!["error at column 3: `{{` is never closed with `}}`"],
        );
    }

    #[test]
    fn a_reference_without_a_value_says_which() {
        check(
            "{{nodes.later.output}}",
            expect!["error at column 1: `{{nodes.later.output}}`: has no value in this run"],
        );
    }
}
