//! Holds `docs/configuration.md` to what CodexOS reads: each table of `codexos.toml` keys there
//! lists exactly the fields of the struct that reads them, its complete example loads through the
//! real loaders with no unknown key, and its VS Code and Neovim tables list exactly the settings of
//! `editors/vscode/package.json` and the Neovim plugin's defaults.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde::de::{self, Visitor};

use crate::config::Config;
use crate::providers::{LlmTable, ProviderTable};

const DOC: &str = include_str!("../../../docs/configuration.md");
const PACKAGE_JSON: &str = include_str!("../../../editors/vscode/package.json");
const NVIM_PLUGIN: &str = include_str!("../../../editors/nvim/lua/codexos/init.lua");

/// The field names serde's derive gives a struct: it names them when it asks a deserializer for a
/// struct, which this one records and refuses.
fn fields_of<'de, T: Deserialize<'de>>() -> BTreeSet<&'static str> {
    struct Recorder(Vec<&'static str>);
    #[derive(Debug)]
    struct Recorded;
    impl std::fmt::Display for Recorded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("recorded")
        }
    }
    impl std::error::Error for Recorded {}
    impl de::Error for Recorded {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Recorded
        }
    }
    impl<'de> de::Deserializer<'de> for &mut Recorder {
        type Error = Recorded;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Recorded> {
            Err(Recorded)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Recorded> {
            self.0.extend(fields);
            Err(Recorded)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut recorder = Recorder(Vec::new());
    let _ = T::deserialize(&mut recorder);
    assert!(
        !recorder.0.is_empty(),
        "{} names no fields (a flattened struct cannot be listed this way)",
        std::any::type_name::<T>()
    );
    recorder.0.into_iter().collect()
}

/// The first column of the first table after the heading that names `heading` (or the paragraph
/// that starts with it): the keys it documents, without their backticks.
fn documented(heading: &str) -> BTreeSet<String> {
    let start = DOC
        .lines()
        .position(|line| {
            (line.starts_with('#') && line.contains(heading)) || line.starts_with(heading)
        })
        .unwrap_or_else(|| panic!("no heading `{heading}` in docs/configuration.md"));
    let table_start = DOC
        .lines()
        .skip(start + 1)
        .position(|line| line.starts_with('|'))
        .map(|offset| start + 1 + offset)
        .unwrap_or_else(|| panic!("no table after `{heading}`"));
    let mut lines = DOC.lines().skip(table_start);
    let mut keys = BTreeSet::new();
    // A table: the header, the `|---|` line, then rows until a line that is not a row.
    lines.next();
    lines.next();
    let first = start + 1;
    let next_heading = DOC
        .lines()
        .skip(first)
        .position(|line| line.starts_with('#'))
        .map_or(usize::MAX, |offset| first + offset);
    assert!(
        table_start < next_heading,
        "`{heading}` has no table of its own"
    );
    for row in lines.take_while(|line| line.starts_with('|')) {
        let cell = row.split('|').nth(1).unwrap_or_default().trim();
        keys.insert(cell.trim_matches('`').to_owned());
    }
    keys
}

fn owned(fields: BTreeSet<&'static str>) -> BTreeSet<String> {
    fields.into_iter().map(str::to_owned).collect()
}

#[test]
fn every_codexos_toml_table_documents_exactly_the_keys_its_struct_reads() {
    let without = |mut fields: BTreeSet<String>, key: &str| {
        fields.remove(key);
        fields
    };
    let with = |mut fields: BTreeSet<String>, key: &str| {
        fields.insert(key.to_owned());
        fields
    };
    let sections: [(&str, BTreeSet<String>); 9] = [
        (
            "`[index]`",
            without(
                without(owned(fields_of::<codexos_index::IndexTable>()), "http"),
                "shared",
            ),
        ),
        (
            "`[index.shared]`",
            owned(fields_of::<codexos_index::SharedTable>()),
        ),
        (
            "`[index.http]`",
            owned(fields_of::<codexos_embed::HttpEmbedderConfig>()),
        ),
        (
            "`[llm]`",
            with(
                without(owned(fields_of::<LlmTable>()), "providers"),
                "models",
            ),
        ),
        (
            "`[llm.providers.NAME]`",
            owned(fields_of::<ProviderTable>()),
        ),
        (
            "`[flows]`",
            owned(fields_of::<crate::config::FlowsConfig>()),
        ),
        (
            "`[tools]`",
            owned(fields_of::<codexos_tools::ToolSettings>()),
        ),
        (
            "`[[mcp.servers]]`",
            owned(fields_of::<codexos_tools::mcp::McpServerConfig>()),
        ),
        (
            "`[network]`",
            owned(fields_of::<crate::config::NetworkConfig>()),
        ),
    ];
    for (heading, read) in sections {
        assert_eq!(
            documented(heading),
            read,
            "docs/configuration.md, {heading}"
        );
    }
}

#[test]
fn the_complete_example_loads_through_the_real_loaders_without_an_unknown_key() {
    let example = DOC
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a toml block");
    let loaded = Config::parse(example, std::path::Path::new("codexos.toml"))
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(loaded.warnings, Vec::new());
    let config = loaded.config;

    let index: codexos_index::IndexTable = toml::Value::Table(config.index.clone())
        .try_into()
        .expect("[index]");
    assert!(index.http.is_some());
    assert!(index.shared.is_some());
    let mut ignored = Vec::new();
    let _: codexos_index::IndexTable =
        serde_ignored::deserialize(toml::Value::Table(config.index.clone()), |path| {
            ignored.push(path.to_string())
        })
        .expect("[index]");
    assert_eq!(ignored, Vec::<String>::new(), "[index] keys nothing reads");

    let tools: codexos_tools::ToolSettings = toml::Value::Table(config.tools.registry.clone())
        .try_into()
        .expect("[tools]");
    assert_eq!(tools.python.as_deref(), Some("python3"));
    let mcp: codexos_tools::mcp::McpConfig = toml::Value::Table(config.mcp.clone())
        .try_into()
        .expect("[mcp]");
    assert_eq!(mcp.servers.len(), 1);
    let llm: LlmTable = toml::Value::Table(config.llm.router.clone())
        .try_into()
        .expect("[llm]");
    assert_eq!(llm.providers.len(), 1);
    assert_eq!(config.llm.models.len(), 1);
}

#[test]
fn the_vs_code_table_lists_exactly_the_settings_of_package_json() {
    let package: serde_json::Value = serde_json::from_str(PACKAGE_JSON).expect("package.json");
    let configuration = &package["contributes"]["configuration"];
    let sections = match configuration.as_array() {
        Some(sections) => sections.clone(),
        None => vec![configuration.clone()],
    };
    let settings: BTreeSet<String> = sections
        .iter()
        .filter_map(|section| section["properties"].as_object())
        .flat_map(|properties| properties.keys().cloned())
        .collect();
    assert_eq!(documented("## VS Code settings"), settings);
}

#[test]
fn the_neovim_table_lists_exactly_the_plugins_options() {
    let defaults = NVIM_PLUGIN
        .split("local defaults = {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("the plugin's defaults");
    let options: BTreeSet<String> = defaults
        .lines()
        .filter_map(|line| line.strip_prefix("  "))
        .filter(|line| !line.starts_with(' ') && !line.starts_with("--"))
        .filter_map(|line| line.split_once(" = ").map(|(key, _)| key.to_owned()))
        .collect();
    assert_eq!(documented("## Neovim options"), options);
}
