//! The vault against real files: round trips, wrong keys, damaged files, concurrent writers in
//! threads and in processes, identity files, and a scan of every byte written for a secret.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;

use codexos_vault::{
    KeySource, MasterKey, PutOutcome, PutRequest, SecretString, Vault, VaultConfig, VaultError,
};
use expect_test::expect;
use tempfile::TempDir;

const PLANTED: &str = "sk-PLANTED-7d1f0c2b9e";

fn vault_path(dir: &TempDir) -> PathBuf {
    dir.path().join(".codexos").join("vault.age")
}

/// A vault with one secret, and the key that opens it.
fn vault_with_planted_secret(dir: &TempDir) -> (Vault, MasterKey) {
    let key = MasterKey::generate();
    let vault = Vault::open(vault_path(dir), key.clone()).unwrap();
    vault
        .put("openai_key", SecretString::from(PLANTED), ["api", "llm"])
        .unwrap();
    (vault, key)
}

/// The error's message, with the temporary directory replaced by `$DIR`.
fn message(error: &VaultError, dir: &TempDir) -> String {
    error
        .to_string()
        .replace(&dir.path().display().to_string(), "$DIR")
}

fn all_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(all_files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn a_secret_put_in_comes_back_out_with_its_tags() {
    let dir = TempDir::new().unwrap();
    let (vault, key) = vault_with_planted_secret(&dir);

    let reopened = Vault::open(vault_path(&dir), key).unwrap();
    let secret = reopened.get("openai_key").unwrap().unwrap();
    assert_eq!(secret.value.expose(), PLANTED);
    assert_eq!(secret.tags, ["api", "llm"]);
    assert_eq!(secret.created, secret.updated);
    assert!(vault.get("missing").unwrap().is_none());
}

#[test]
fn putting_an_existing_key_updates_value_and_tags_and_keeps_created() {
    let dir = TempDir::new().unwrap();
    let (vault, _) = vault_with_planted_secret(&dir);
    let created = vault.get("openai_key").unwrap().unwrap().created;

    let outcome = vault
        .put("openai_key", SecretString::from("sk-rotated"), ["llm"])
        .unwrap();

    assert_eq!(outcome, PutOutcome::Updated);
    let secret = vault.get("openai_key").unwrap().unwrap();
    assert_eq!(secret.value.expose(), "sk-rotated");
    assert_eq!(secret.tags, ["llm"]);
    assert_eq!(secret.created, created);
}

#[test]
fn the_seed_put_body_is_accepted_as_is_and_its_debug_hides_the_value() {
    let dir = TempDir::new().unwrap();
    let vault = Vault::open(vault_path(&dir), MasterKey::generate()).unwrap();
    let body = format!(r#"{{"key": "openai_key", "value": "{PLANTED}", "tags": ["api", "llm"]}}"#);

    let request: PutRequest = serde_json::from_str(&body).unwrap();
    let debug = format!("{request:?}");
    let outcome = vault.put_request(request).unwrap();

    assert!(!debug.contains(PLANTED), "{debug}");
    assert_eq!(outcome, PutOutcome::Created);
    let secret = vault.get("openai_key").unwrap().unwrap();
    assert_eq!(
        (secret.value.expose(), secret.tags.as_slice()),
        (PLANTED, &["api".to_owned(), "llm".to_owned()][..])
    );
}

#[test]
fn list_shows_names_and_tags_never_values() {
    let dir = TempDir::new().unwrap();
    let (vault, _) = vault_with_planted_secret(&dir);
    vault
        .put(
            "github_token",
            SecretString::from("ghp_other"),
            ["oauth:github"],
        )
        .unwrap();

    let listed = vault.list().unwrap();
    let names: Vec<(&str, &[String])> = listed
        .iter()
        .map(|info| (info.key.as_str(), info.tags.as_slice()))
        .collect();
    assert_eq!(
        names,
        [
            ("github_token", &["oauth:github".to_owned()][..]),
            ("openai_key", &["api".to_owned(), "llm".to_owned()][..]),
        ]
    );
    let as_text = format!("{listed:?} {}", serde_json::to_string(&listed).unwrap());
    assert!(!as_text.contains(PLANTED) && !as_text.contains("ghp_other"));
}

#[test]
fn remove_deletes_a_secret_and_says_whether_it_was_there() {
    let dir = TempDir::new().unwrap();
    let (vault, _) = vault_with_planted_secret(&dir);

    assert!(vault.remove("openai_key").unwrap());
    assert!(!vault.remove("openai_key").unwrap());
    assert!(vault.get("openai_key").unwrap().is_none());
    assert!(vault.list().unwrap().is_empty());
}

#[test]
fn a_missing_vault_is_empty_and_is_not_created_by_reading_or_removing() {
    let dir = TempDir::new().unwrap();
    let vault = Vault::open(vault_path(&dir), MasterKey::generate()).unwrap();

    assert!(vault.list().unwrap().is_empty());
    assert!(!vault.remove("openai_key").unwrap());
    assert!(!dir.path().join(".codexos").exists());
}

#[test]
fn an_invalid_name_or_an_empty_value_is_refused_before_touching_the_file() {
    let dir = TempDir::new().unwrap();
    let vault = Vault::open(vault_path(&dir), MasterKey::generate()).unwrap();

    let bad_name = vault
        .put("open ai", SecretString::from("x"), Vec::<String>::new())
        .unwrap_err();
    let empty = vault
        .put("openai_key", SecretString::from(""), ["api"])
        .unwrap_err();

    expect![[r#"invalid secret name "open ai": character ' ' at byte 4 is not allowed; use letters, digits, '_', '-' or '.'"#]]
        .assert_eq(&bad_name.to_string());
    expect![[r#"secret "openai_key": the value is empty; an empty secret cannot be stored"#]]
        .assert_eq(&empty.to_string());
    assert!(!vault_path(&dir).exists());
}

#[test]
fn a_wrong_key_is_a_clear_error_and_leaves_the_file_byte_identical() {
    let dir = TempDir::new().unwrap();
    vault_with_planted_secret(&dir);
    let before = fs::read(vault_path(&dir)).unwrap();

    let opened = Vault::open(vault_path(&dir), MasterKey::generate()).unwrap_err();
    expect!["vault $DIR/.codexos/vault.age: cannot be decrypted with this key (it was encrypted for a different key, or its header is damaged); check VAULT_MASTER_KEY or the identity file. The vault was left untouched"]
        .assert_eq(&message(&opened, &dir));

    // A handle opened before the key changed must not overwrite the vault either.
    let empty_dir = TempDir::new().unwrap();
    let stale = Vault::open(vault_path(&empty_dir), MasterKey::generate()).unwrap();
    fs::create_dir_all(vault_path(&empty_dir).parent().unwrap()).unwrap();
    fs::write(vault_path(&empty_dir), &before).unwrap();
    let put = stale
        .put("other", SecretString::from("value"), ["x"])
        .unwrap_err();
    let removed = stale.remove("openai_key").unwrap_err();

    assert!(matches!(put, VaultError::WrongKey { .. }), "{put}");
    assert!(matches!(removed, VaultError::WrongKey { .. }), "{removed}");
    assert_eq!(fs::read(vault_path(&empty_dir)).unwrap(), before);
    assert_eq!(fs::read(vault_path(&dir)).unwrap(), before);
}

/// Damages a real vault file with `damage`; opening, reading and writing must then all fail with
/// `Damaged`, and the file must be left exactly as damaged.
fn assert_damage_is_reported_and_kept(
    damage: impl FnOnce(Vec<u8>) -> Vec<u8>,
    expected: expect_test::Expect,
) {
    let dir = TempDir::new().unwrap();
    let (vault, key) = vault_with_planted_secret(&dir);
    let damaged = damage(fs::read(vault_path(&dir)).unwrap());
    fs::write(vault_path(&dir), &damaged).unwrap();

    let opened = Vault::open(vault_path(&dir), key).unwrap_err();
    expected.assert_eq(&message(&opened, &dir));
    let errors = [
        vault.get("openai_key").map(drop).unwrap_err(),
        vault.list().map(drop).unwrap_err(),
        vault
            .put("another", SecretString::from("v"), ["t"])
            .map(drop)
            .unwrap_err(),
        vault.remove("openai_key").map(drop).unwrap_err(),
        vault.redactor().map(drop).unwrap_err(),
    ];
    for error in errors {
        assert!(matches!(error, VaultError::Damaged { .. }), "{error}");
        assert!(!error.to_string().contains(PLANTED));
    }
    assert_eq!(fs::read(vault_path(&dir)).unwrap(), damaged);
}

#[test]
fn a_flipped_byte_in_the_encrypted_body_is_reported_as_damage() {
    assert_damage_is_reported_and_kept(
        |mut bytes| {
            let near_the_end = bytes.len() - 5;
            bytes[near_the_end] ^= 0x40;
            bytes
        },
        expect![
            "vault $DIR/.codexos/vault.age is damaged: its encrypted contents are corrupted or cut short (decryption error). The vault was left untouched"
        ],
    );
}

#[test]
fn a_flipped_byte_in_the_header_mac_is_reported_as_damage() {
    assert_damage_is_reported_and_kept(
        |mut bytes| {
            let mac_start = bytes.windows(4).position(|w| w == b"--- ").unwrap() + 4;
            bytes[mac_start] = if bytes[mac_start] == b'A' { b'B' } else { b'A' };
            bytes
        },
        expect![
            "vault $DIR/.codexos/vault.age is damaged: its header was modified (the header MAC does not match). The vault was left untouched"
        ],
    );
}

#[test]
fn a_truncated_vault_is_reported_as_cut_short() {
    assert_damage_is_reported_and_kept(
        |mut bytes| {
            bytes.truncate(bytes.len() - 20);
            bytes
        },
        expect![
            "vault $DIR/.codexos/vault.age is damaged: its encrypted contents are corrupted or cut short (decryption error). The vault was left untouched"
        ],
    );
}

#[test]
fn a_vault_cut_inside_its_header_is_reported_as_damage() {
    assert_damage_is_reported_and_kept(
        |mut bytes| {
            bytes.truncate(40);
            bytes
        },
        expect![
            "vault $DIR/.codexos/vault.age is damaged: the file is cut short. The vault was left untouched"
        ],
    );
}

#[test]
fn an_empty_vault_file_is_reported_as_empty() {
    assert_damage_is_reported_and_kept(
        |_| Vec::new(),
        expect![
            "vault $DIR/.codexos/vault.age is damaged: the file is empty (0 bytes). The vault was left untouched"
        ],
    );
}

#[test]
fn a_file_that_is_not_age_is_reported_as_such() {
    assert_damage_is_reported_and_kept(
        |_| b"{\"openai_key\": \"sk-plain\"}\n".to_vec(),
        expect![
            "vault $DIR/.codexos/vault.age is damaged: it is not an age-encrypted file, or its header is cut short or damaged. The vault was left untouched"
        ],
    );
}

#[test]
fn a_decryptable_file_with_a_bad_document_is_damage_and_the_error_quotes_no_content() {
    let dir = TempDir::new().unwrap();
    let key = MasterKey::generate();
    let recipient: age::x25519::Recipient = key.recipient().parse().unwrap();
    let document = format!(
        r#"{{"format": 1, "secrets": {{"a": {{"value": "{PLANTED}", "created": "{PLANTED}"}}}}}}"#
    );
    let ciphertext = age::encrypt(&recipient, document.as_bytes()).unwrap();
    fs::create_dir_all(vault_path(&dir).parent().unwrap()).unwrap();
    fs::write(vault_path(&dir), &ciphertext).unwrap();

    let error = Vault::open(vault_path(&dir), key).unwrap_err();

    let text = message(&error, &dir);
    assert!(!text.contains(PLANTED), "{text}");
    expect!["vault $DIR/.codexos/vault.age is damaged: it decrypts, but the decrypted document does not have the vault's structure (line 1, column 100). The vault was left untouched"]
        .assert_eq(&text);
}

#[test]
fn a_vault_from_a_newer_format_is_refused_by_version() {
    let dir = TempDir::new().unwrap();
    let key = MasterKey::generate();
    let recipient: age::x25519::Recipient = key.recipient().parse().unwrap();
    let ciphertext = age::encrypt(&recipient, br#"{"format": 2, "entries": []}"#).unwrap();
    fs::create_dir_all(vault_path(&dir).parent().unwrap()).unwrap();
    fs::write(vault_path(&dir), &ciphertext).unwrap();

    let error = Vault::open(vault_path(&dir), key).unwrap_err();

    expect!["vault $DIR/.codexos/vault.age uses format version 2, this build reads version 1; update CodexOS. The vault was left untouched"]
        .assert_eq(&message(&error, &dir));
}

#[test]
fn concurrent_writers_in_threads_all_land() {
    let dir = TempDir::new().unwrap();
    let key = MasterKey::generate();
    let vault = Arc::new(Vault::open(vault_path(&dir), key.clone()).unwrap());

    let writers: Vec<_> = (0..6)
        .map(|writer| {
            let vault = Arc::clone(&vault);
            thread::spawn(move || {
                for index in 0..5 {
                    let name = format!("thread{writer}_key{index}");
                    vault
                        .put(&name, SecretString::from(format!("value-{name}")), ["t"])
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }

    let reopened = Vault::open(vault_path(&dir), key).unwrap();
    assert_eq!(reopened.list().unwrap().len(), 30);
    let sample = reopened.get("thread3_key4").unwrap().unwrap();
    assert_eq!(sample.value.expose(), "value-thread3_key4");
}

const CHILD_VAULT_VAR: &str = "CODEXOS_VAULT_TEST_CHILD_VAULT";
const CHILD_ID_VAR: &str = "CODEXOS_VAULT_TEST_CHILD_ID";
const MASTER_KEY_MATERIAL: &str = "concurrent-writers-test-master-key";

/// Runs as the parent, which spawns this same test in several child processes; each child (marked
/// by the environment) puts its own keys into the shared vault.
#[test]
fn concurrent_writers_in_processes_all_land() {
    let key_source = KeySource::MasterKey(SecretString::from(MASTER_KEY_MATERIAL));
    if let Some(vault_file) = std::env::var_os(CHILD_VAULT_VAR) {
        let child = std::env::var(CHILD_ID_VAR).unwrap();
        let config = VaultConfig::new(PathBuf::from(vault_file), key_source);
        let vault = Vault::open_with(&config).unwrap();
        for index in 0..5 {
            let name = format!("process{child}_key{index}");
            vault
                .put(&name, SecretString::from(format!("value-{name}")), ["p"])
                .unwrap();
        }
        return;
    }

    let dir = TempDir::new().unwrap();
    let children: Vec<_> = (0..4)
        .map(|child| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "concurrent_writers_in_processes_all_land"])
                .env(CHILD_VAULT_VAR, vault_path(&dir))
                .env(CHILD_ID_VAR, child.to_string())
                // Piped, so the children's test summaries do not mix into this run's output.
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "a writer process failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let vault = Vault::open_with(&VaultConfig::new(vault_path(&dir), key_source)).unwrap();
    let names: Vec<String> = vault
        .list()
        .unwrap()
        .into_iter()
        .map(|info| info.key)
        .collect();
    let expected: Vec<String> = (0..4)
        .flat_map(|child| (0..5).map(move |index| format!("process{child}_key{index}")))
        .collect();
    assert_eq!(names, expected);
}

#[test]
fn a_writer_that_cannot_get_the_lock_gives_up_with_a_clear_error() {
    let dir = TempDir::new().unwrap();
    let (vault, key) = vault_with_planted_secret(&dir);
    let before = fs::read(vault_path(&dir)).unwrap();
    let lock_path = dir.path().join(".codexos").join("vault.age.lock");
    let holder = fs::File::open(&lock_path).unwrap();
    holder.lock().unwrap();

    let impatient = Vault::open(vault_path(&dir), key)
        .unwrap()
        .with_lock_timeout(std::time::Duration::from_millis(50));
    let error = impatient
        .put("another", SecretString::from("v"), ["t"])
        .unwrap_err();

    assert!(matches!(error, VaultError::Locked { .. }), "{error}");
    assert!(message(&error, &dir).starts_with(
        "vault $DIR/.codexos/vault.age: another process has held the lock $DIR/.codexos/vault.age.lock for "
    ));
    assert_eq!(fs::read(vault_path(&dir)).unwrap(), before);
    assert_eq!(
        vault.get("openai_key").unwrap().unwrap().value.expose(),
        PLANTED
    );
}

#[cfg(unix)]
#[test]
fn the_identity_file_is_created_once_with_mode_0600_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new().unwrap();
    let identity_path = dir.path().join("data").join("codexos").join("vault.key");
    let config = VaultConfig::new(
        vault_path(&dir),
        KeySource::IdentityFile(identity_path.clone()),
    );

    let first = Vault::open_with(&config).unwrap();
    first
        .put("openai_key", SecretString::from(PLANTED), ["api"])
        .unwrap();
    let second = Vault::open_with(&config).unwrap();

    let mode = fs::metadata(&identity_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = fs::metadata(identity_path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    assert_eq!(second.recipient(), first.recipient());
    assert_eq!(
        second.get("openai_key").unwrap().unwrap().value.expose(),
        PLANTED
    );
    let text = fs::read_to_string(&identity_path).unwrap();
    assert!(text.contains(&format!("# public key: {}", first.recipient())));
}

#[cfg(unix)]
#[test]
fn an_identity_file_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new().unwrap();
    let identity_path = dir.path().join("vault.key");
    MasterKey::load_or_create_identity_file(&identity_path).unwrap();
    fs::set_permissions(&identity_path, fs::Permissions::from_mode(0o644)).unwrap();

    let error = MasterKey::load_or_create_identity_file(&identity_path).unwrap_err();

    expect!["identity file $DIR/vault.key: other users can access it (mode 644); run `chmod 600 $DIR/vault.key`"]
        .assert_eq(&message(&error, &dir));
}

#[test]
fn an_identity_file_without_a_key_line_names_the_problem_without_echoing_lines() {
    let dir = TempDir::new().unwrap();
    let identity_path = dir.path().join("vault.key");
    let write_private = |text: &str| {
        fs::write(&identity_path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&identity_path, fs::Permissions::from_mode(0o600)).unwrap();
        }
    };

    write_private("# only a comment\n\n");
    let no_key = MasterKey::load_or_create_identity_file(&identity_path).unwrap_err();
    write_private("# header\nAGE-SECRET-KEY-1NOTAKEYATALLxyz\n");
    let bad_key = MasterKey::load_or_create_identity_file(&identity_path).unwrap_err();

    expect!["identity file $DIR/vault.key: it holds no identity (only blank lines and comments)"]
        .assert_eq(&message(&no_key, &dir));
    expect!["identity file $DIR/vault.key: line 2 is not an age x25519 identity (AGE-SECRET-KEY-1…): invalid Bech32 encoding"]
        .assert_eq(&message(&bad_key, &dir));
}

#[test]
fn the_vault_file_opens_with_the_plain_age_identity_as_a_recovery_path() {
    let dir = TempDir::new().unwrap();
    let (_, key) = vault_with_planted_secret(&dir);
    let identity: age::x25519::Identity = key.to_identity_string().expose().parse().unwrap();

    let plaintext = age::decrypt(&identity, &fs::read(vault_path(&dir)).unwrap()).unwrap();

    assert!(contains(&plaintext, PLANTED.as_bytes()));
}

#[test]
fn the_vault_redactor_hides_every_stored_value() {
    let dir = TempDir::new().unwrap();
    let (vault, _) = vault_with_planted_secret(&dir);
    vault
        .put("github_token", SecretString::from("ghp_abc"), ["oauth"])
        .unwrap();

    let redactor = vault.redactor().unwrap();

    expect!["calling llm with [secret:openai_key], then git with [secret:github_token]"].assert_eq(
        &redactor.redact(&format!(
            "calling llm with {PLANTED}, then git with ghp_abc"
        )),
    );
}

#[test]
fn no_byte_written_to_disk_and_no_debug_output_contains_a_planted_secret() {
    let dir = TempDir::new().unwrap();
    let identity_path = dir.path().join("data").join("vault.key");
    let config = VaultConfig::new(vault_path(&dir), KeySource::IdentityFile(identity_path));
    let vault = Vault::open_with(&config).unwrap();
    vault
        .put("openai_key", SecretString::from(PLANTED), ["api"])
        .unwrap();
    vault
        .put("other", SecretString::from("second-value"), ["x"])
        .unwrap();
    vault
        .put(
            "openai_key",
            SecretString::from(PLANTED),
            ["api", "rotated"],
        )
        .unwrap();
    assert!(vault.remove("other").unwrap());

    let files = all_files_under(dir.path());
    let names: Vec<String> = files
        .iter()
        .map(|path| path.strip_prefix(dir.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names.iter().filter(|name| name.contains(".tmp-")).count(),
        0,
        "temporary files left behind: {names:?}"
    );
    for file in &files {
        let bytes = fs::read(file).unwrap();
        assert!(
            !contains(&bytes, PLANTED.as_bytes()),
            "{} holds the secret",
            file.display()
        );
        assert!(
            !contains(&bytes, b"second-value"),
            "{} holds a removed secret",
            file.display()
        );
    }
    let debug_output = format!(
        "{vault:?} {:?} {:?} {config:?} {:?}",
        vault.get("openai_key").unwrap(),
        vault.list().unwrap(),
        vault.redactor().unwrap()
    );
    assert!(!debug_output.contains(PLANTED), "{debug_output}");
}
