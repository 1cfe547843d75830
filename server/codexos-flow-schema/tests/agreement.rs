//! The schema and `codexos-flow`'s own field table (what `codexos check` enforces) describe the
//! same language: the same node types, fields, required fields, ranges, providers and ids.

use std::collections::BTreeSet;

use codexos_flow::catalog::PROVIDERS;
use codexos_flow::model::{FILE_FIELDS, FieldKind, NodeType, is_valid_id};
use codexos_flow_schema::FLOW_SCHEMA_JSON;
use serde_json::{Value, json};

fn schema() -> Value {
    serde_json::from_str(FLOW_SCHEMA_JSON).expect("the schema is JSON")
}

fn names(values: Option<&Value>) -> BTreeSet<String> {
    match values {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        _ => BTreeSet::new(),
    }
}

#[test]
fn node_types_agree() {
    let schema = schema();
    let in_schema: Vec<&str> = schema["$defs"]["node"]["properties"]["type"]["enum"]
        .as_array()
        .expect("the node type is an enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let in_checker: Vec<&str> = NodeType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(in_schema, in_checker);
}

#[test]
fn each_node_type_takes_and_requires_the_same_fields() {
    let schema = schema();
    for node_type in NodeType::ALL {
        let definition = &schema["$defs"][format!("{}Node", node_type.as_str())];
        let accepted: BTreeSet<String> =
            node_type.all_fields().map(|f| f.name.to_owned()).collect();
        let required: BTreeSet<String> = node_type
            .all_fields()
            .filter(|f| f.required)
            .map(|f| f.name.to_owned())
            .collect();
        let node_required = names(schema["$defs"]["node"].get("required"));
        let schema_required: BTreeSet<String> = node_required
            .union(&names(definition.get("required")))
            .cloned()
            .collect();
        assert_eq!(
            names(definition.get("properties")),
            accepted,
            "fields of `{}`",
            node_type.as_str()
        );
        assert_eq!(
            schema_required,
            required,
            "required fields of `{}`",
            node_type.as_str()
        );
    }
}

#[test]
fn numeric_ranges_agree() {
    let schema = schema();
    let properties = &schema["$defs"]["node"]["properties"];
    for node_type in NodeType::ALL {
        for field in node_type.all_fields() {
            let (min, max) = match field.kind {
                FieldKind::Integer { min, max } => (json!(min), json!(max)),
                FieldKind::Number { min, max } => (json!(min), json!(max)),
                _ => continue,
            };
            let declared = &properties[field.name];
            let as_f64 = |v: &Value| v.as_f64();
            assert_eq!(
                (as_f64(&declared["minimum"]), as_f64(&declared["maximum"])),
                (as_f64(&min), as_f64(&max)),
                "range of `{}` on `{}`",
                field.name,
                node_type.as_str()
            );
        }
    }
}

#[test]
fn file_fields_agree() {
    let schema = schema();
    let accepted: BTreeSet<String> = FILE_FIELDS.iter().map(|f| f.name.to_owned()).collect();
    let required: BTreeSet<String> = FILE_FIELDS
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name.to_owned())
        .collect();
    assert_eq!(names(schema.get("properties")), accepted);
    assert_eq!(names(schema.get("required")), required);
}

#[test]
fn providers_agree() {
    let schema = schema();
    let in_schema = names(schema["$defs"]["node"]["properties"]["provider"].get("enum"));
    let in_checker: BTreeSet<String> = PROVIDERS
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    assert_eq!(in_schema, in_checker);
}

#[test]
fn node_ids_and_variable_names_agree() {
    let schema = schema();
    let id_pattern =
        jsonschema::draft202012::new(&schema["$defs"]["nodeId"]).expect("the id schema compiles");
    let as_pattern = jsonschema::draft202012::new(&schema["$defs"]["node"]["properties"]["as"])
        .expect("the variable name schema compiles");
    for candidate in [
        "planner",
        "_draft",
        "step-2",
        "a_b-C9",
        "1st",
        "-x",
        "has space",
        "é",
        "",
        "a.b",
    ] {
        let value = json!(candidate);
        assert_eq!(
            id_pattern.is_valid(&value),
            is_valid_id(candidate),
            "node id {candidate:?}"
        );
        assert_eq!(
            as_pattern.is_valid(&value),
            is_valid_id(candidate),
            "variable name {candidate:?}"
        );
    }
}
