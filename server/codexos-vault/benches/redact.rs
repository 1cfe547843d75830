//! Redaction speed: every run event and trace line passes through the `Redactor`, so its scan
//! is on the path of every streamed token.
//!
//! `cargo bench -p codexos-vault --bench redact` — 50 secrets (API keys, tokens, passwords,
//! a few short PINs) over 64 KiB of trace-like text (JSON lines with prose, URLs, hashes and
//! base64). Divide the median by 65,536 for nanoseconds per byte.

use codexos_vault::{Redactor, SecretString};

const TEXT_BYTES: usize = 64 * 1024;

fn main() {
    divan::main();
}

/// A deterministic xorshift generator: the same secrets and text on every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn string(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const PASSWORD: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789@/+ !#$&*";

/// 20 OpenAI-style keys, 10 GitHub tokens, 10 passwords with URL-reserved characters, 5 long
/// JWT-like tokens and 5 six-character PINs.
fn fifty_secrets() -> Vec<String> {
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let mut secrets = Vec::new();
    for _ in 0..20 {
        secrets.push(format!("sk-proj-{}", random.string(ALNUM, 40)));
    }
    for _ in 0..10 {
        secrets.push(format!("ghp_{}", random.string(ALNUM, 36)));
    }
    for _ in 0..10 {
        let len = 12 + random.below(9);
        secrets.push(random.string(PASSWORD, len));
    }
    for _ in 0..5 {
        secrets.push(format!(
            "eyJ{}.{}",
            random.string(ALNUM, 60),
            random.string(ALNUM, 40)
        ));
    }
    for _ in 0..5 {
        secrets.push(random.string(ALNUM, 6));
    }
    secrets
}

fn redactor(secrets: &[String]) -> Redactor {
    secrets
        .iter()
        .enumerate()
        .fold(Redactor::new(), |redactor, (index, value)| {
            redactor.with(&format!("key_{index}"), &SecretString::from(value.as_str()))
        })
}

const WORDS: &[&str] = &[
    "the",
    "node",
    "planner",
    "finished",
    "with",
    "output",
    "search",
    "workspace",
    "returned",
    "chunks",
    "from",
    "src",
    "lib",
    "function",
    "error",
    "retry",
    "request",
    "model",
    "answer",
    "tokens",
    "context",
    "file",
    "path",
    "config",
    "value",
    "and",
    "for",
    "this",
    "that",
    "is",
];

/// About 64 KiB of trace lines: JSON with prose, fetched URLs, commit hashes and base64 blobs.
fn trace_text(hits: &[String]) -> String {
    let mut random = Random(0xD1B5_4A32_D192_ED03);
    let mut text = String::with_capacity(TEXT_BYTES + 512);
    let mut line = 0usize;
    while text.len() < TEXT_BYTES {
        let prose: Vec<&str> = (0..12).map(|_| WORDS[random.below(WORDS.len())]).collect();
        let extra = match line % 4 {
            0 => format!(
                "https://api.example.com/v1/items?q={}&page={}",
                random.string(ALNUM, 10),
                random.below(100)
            ),
            1 => random.string(b"0123456789abcdef", 40),
            2 => format!("Basic {}==", random.string(ALNUM, 30)),
            _ => random.string(ALNUM, 8),
        };
        let hit = if hits.is_empty() || line % 40 != 7 {
            ""
        } else {
            hits[(line / 40) % hits.len()].as_str()
        };
        text.push_str(&format!(
            "{{\"event\":\"node_finished\",\"node\":\"n{line}\",\"output\":\"{} {extra} {hit}\",\"t_ms\":{}}}\n",
            prose.join(" "),
            random.below(100_000)
        ));
        line += 1;
    }
    text
}

/// Secrets as they leak: plain, upper-cased, percent-encoded in a query, base64 in a header.
fn encoded_hits(secrets: &[String]) -> Vec<String> {
    secrets
        .iter()
        .take(8)
        .enumerate()
        .map(|(index, value)| match index % 4 {
            0 => value.clone(),
            1 => value.to_uppercase(),
            2 => format!("https://x.test/?k={}", percent_encode(value)),
            _ => format!("Basic {}", base64(format!("user:{value}").as_bytes())),
        })
        .collect()
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::new();
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0u32, |group, (i, &byte)| {
            group | u32::from(byte) << (16 - 8 * i)
        });
        for i in 0..=chunk.len() {
            encoded.push(char::from(ALPHABET[(group >> (18 - 6 * i) & 63) as usize]));
        }
    }
    while !encoded.len().is_multiple_of(4) {
        encoded.push('=');
    }
    encoded
}

#[divan::bench]
fn fifty_secrets_over_64_kib_without_a_secret(bencher: divan::Bencher) {
    let redactor = redactor(&fifty_secrets());
    let text = trace_text(&[]);
    bencher
        .counter(divan::counter::BytesCount::of_str(&text))
        .bench(|| redactor.redact(divan::black_box(&text)).len());
}

#[divan::bench]
fn fifty_secrets_over_64_kib_with_encoded_hits(bencher: divan::Bencher) {
    let secrets = fifty_secrets();
    let redactor = redactor(&secrets);
    let text = trace_text(&encoded_hits(&secrets));
    bencher
        .counter(divan::counter::BytesCount::of_str(&text))
        .bench(|| redactor.redact(divan::black_box(&text)).len());
}

#[divan::bench]
fn building_a_redactor_of_fifty_secrets(bencher: divan::Bencher) {
    let secrets = fifty_secrets();
    bencher.bench(|| redactor(divan::black_box(&secrets)));
}
