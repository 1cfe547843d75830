//! A string that holds a secret value and never shows it.

use std::fmt;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroize;

/// A secret value (an API key, a token, a password).
///
/// `Debug` prints `***`, there is no `Display` and no `Serialize`, so the value cannot reach a log
/// line, a trace or an error by accident; [`SecretString::expose`] is the one explicit way to read
/// it. The memory is wiped when the value is dropped. It deserializes from a JSON string, so
/// command arguments can hold one directly (see [`crate::PutRequest`]).
#[derive(Clone, Default)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The plain value. Call it only where the value is really used (an HTTP header, a child
    /// process's environment), never to format a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_secret_never_contains_its_value() {
        let secret = SecretString::from("sk-live-1234567890");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret:#?}"), "***");
        assert_eq!(secret.expose(), "sk-live-1234567890");
    }
}
