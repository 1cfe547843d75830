//! What templates and expressions read while a run goes: the input, the context, node outputs,
//! secrets and vars.

use std::borrow::Cow;

use serde_json::Value;

use super::state::{RunState, Scope, lock};
use crate::expr::Expr;
use crate::template::{self, Lookup, Reference};

impl RunState<'_> {
    pub(super) fn render(
        &self,
        scope: &Scope<'_>,
        field: &str,
        text: &str,
    ) -> Result<String, String> {
        if !template::has_references(text) {
            return Ok(text.to_owned());
        }
        template::render(text, &mut Values { run: self, scope })
            .map_err(|error| format!("`{field}` {error}"))
    }

    /// Renders every string inside a JSON value (tool arguments).
    pub(super) fn render_value(
        &self,
        scope: &Scope<'_>,
        field: &str,
        value: &Value,
    ) -> Result<Value, String> {
        Ok(match value {
            Value::String(text) => Value::String(self.render(scope, field, text)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.render_value(scope, field, item))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(key, item)| {
                        Ok((
                            key.clone(),
                            self.render_value(scope, &format!("{field}.{key}"), item)?,
                        ))
                    })
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }

    pub(super) fn evaluate(
        &self,
        scope: &Scope<'_>,
        field: &str,
        source: &str,
        expr: &Expr,
    ) -> Result<bool, String> {
        let mut render = |operand: &crate::expr::Operand| {
            template::render(&operand.template, &mut Values { run: self, scope }).map_err(|error| {
                format!(
                    "`{field}` at column {}: {}",
                    source[..operand.offset.min(source.len())].chars().count() + 1,
                    error.message
                )
            })
        };
        match expr.eval(source, &mut render)? {
            Ok(held) => Ok(held),
            Err(error) => Err(format!("`{field}` {error}")),
        }
    }
}

struct Values<'a> {
    run: &'a RunState<'a>,
    scope: &'a Scope<'a>,
}

impl Lookup for Values<'_> {
    fn lookup(&mut self, reference: Reference<'_>) -> Result<Cow<'_, str>, String> {
        match reference {
            Reference::Input => Ok(Cow::Borrowed(&self.scope.input)),
            Reference::Context => Ok(Cow::Borrowed(&self.run.context)),
            Reference::NodeOutput(id) => {
                let index = self
                    .scope
                    .graph
                    .index(id)
                    .ok_or_else(|| format!("no node `{id}` in this flow"))?;
                lock(&self.scope.outputs)
                    .get(&index)
                    .cloned()
                    .map(Cow::Owned)
                    .ok_or_else(|| format!("node `{id}` has not run in this run"))
            }
            Reference::Vault(key) => self
                .run
                .secret(key)
                .map(|value| Cow::Owned(value.expose().to_owned())),
            Reference::Var(name) => lock(&self.scope.vars)
                .get(name)
                .map(|value| Cow::Owned(value.expose().to_owned()))
                .ok_or_else(|| {
                    format!("no `vault` node with `\"as\": \"{name}\"` has run before this node")
                }),
        }
    }
}
