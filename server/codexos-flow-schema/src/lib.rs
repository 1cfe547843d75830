//! The JSON Schema of flow files, `flows/schema/flow.schema.json`, as the text editors and tools
//! are given. It is the basic, editor-agnostic layer of flow validation; `codexos-flow`'s checks
//! go far beyond it. The tests of this crate keep the schema and the shipped flows in agreement.

/// The text of `flows/schema/flow.schema.json` (JSON Schema draft 2020-12).
pub const FLOW_SCHEMA_JSON: &str = include_str!("../../../flows/schema/flow.schema.json");

/// Where the schema lives in the repository, relative to its root.
pub const FLOW_SCHEMA_PATH: &str = "flows/schema/flow.schema.json";
