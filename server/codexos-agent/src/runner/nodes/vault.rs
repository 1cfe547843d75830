//! `vault`: reads a secret and makes it available as `{{vars.<name>}}`.

use crate::graph::NodeSpec;
use crate::runner::state::{Failure, Outcome, RunState, Scope, lock};

impl RunState<'_> {
    pub(super) fn vault(
        &self,
        scope: &Scope<'_>,
        spec: &NodeSpec,
        key: &str,
        var: Option<&str>,
        input: String,
    ) -> Result<Outcome, Failure> {
        let value = self.secret(key)?;
        let name = var.unwrap_or(key).to_owned();
        lock(&scope.vars).insert(name.clone(), value);
        let note = format!("secret `{key}` is available as {{{{vars.{name}}}}}");
        Ok(Outcome::passing(spec, input, Some(note)))
    }
}
