//! The forms a secret value takes on its way out: as itself, JSON-escaped, percent-encoded in a
//! URL or a form body, hex, base64 on its own or inside a longer blob, in another ASCII case.

use zeroize::Zeroizing;

use crate::SecretString;

/// Values shorter than this (in bytes) are hidden only as they are, byte for byte, and
/// JSON-escaped. The derived forms of a short value match ordinary text: a six-letter password
/// in another case is a word of prose, its hex is a prefix of commit hashes, and its base64 core
/// (4 characters for 4 bytes) turns up in any long base64 or alphanumeric run, which would then
/// be hidden whole. From 8 bytes on, hex is 16 digits and every base64 core at least 10
/// characters (60 bits), which ordinary text does not contain by chance; API keys and tokens
/// are longer still.
pub(super) const MIN_ENCODED_LEN: usize = 8;

/// How a needle is compared with the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Form {
    /// Byte for byte.
    Exact,
    /// Ignoring ASCII case; each byte may also be percent-encoded (`%2F`, `%2f`), and a space
    /// may be `+` (HTML forms). That one rule covers every URL encoder, however many characters
    /// it leaves alone.
    Text,
    /// The middle of a base64 encoding that does not depend on the bytes around the value;
    /// case-sensitive, with `+` and `/` possibly percent-encoded. The whole base64 run around it
    /// is hidden.
    Base64Core(Alphabet),
}

impl Form {
    pub(super) fn ignores_ascii_case(self) -> bool {
        self == Form::Text
    }

    pub(super) fn reads_percent_escapes(self) -> bool {
        matches!(self, Form::Text | Form::Base64Core(_))
    }

    pub(super) fn reads_plus_as_space(self) -> bool {
        self == Form::Text
    }
}

/// Which base64 characters a run around a core may hold besides letters and digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Alphabet {
    /// `+` and `/` (RFC 4648 base64).
    Standard,
    /// `-` and `_` (RFC 4648 base64url).
    UrlSafe,
    /// The core holds neither, so it is the same in both.
    Either,
}

impl Alphabet {
    pub(super) fn contains(self, byte: u8) -> bool {
        byte.is_ascii_alphanumeric()
            || match self {
                Alphabet::Standard => matches!(byte, b'+' | b'/'),
                Alphabet::UrlSafe => matches!(byte, b'-' | b'_'),
                Alphabet::Either => matches!(byte, b'+' | b'/' | b'-' | b'_'),
            }
    }
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Every needle that hides `value`, without duplicates. Empty for an empty value.
pub(super) fn needles(value: &str) -> Vec<(SecretString, Form)> {
    let mut needles: Vec<(SecretString, Form)> = Vec::new();
    let mut push = |needle: SecretString, form: Form| {
        let known = needles
            .iter()
            .any(|(known, known_form)| *known_form == form && known.expose() == needle.expose());
        if !needle.is_empty() && !known {
            needles.push((needle, form));
        }
    };
    let json = json_escaped(value);
    if value.len() < MIN_ENCODED_LEN {
        push(SecretString::from(value), Form::Exact);
        push(json, Form::Exact);
        return needles;
    }
    // `Text` reads `%25` as `%`, so a value that holds a `%` itself also needs its exact form.
    if value.contains('%') {
        push(SecretString::from(value), Form::Exact);
    }
    push(SecretString::from(value), Form::Text);
    push(json_ascii_escaped(json.expose()), Form::Text);
    push(json, Form::Text);
    push(hex(value.as_bytes()), Form::Text);
    for (core, alphabet) in base64_cores(value.as_bytes()) {
        push(core, Form::Base64Core(alphabet));
    }
    needles
}

/// `value` as it appears between the quotes of a JSON string (serde_json's escaping).
fn json_escaped(value: &str) -> SecretString {
    let quoted = SecretString::new(
        serde_json::to_string(value).expect("serializing a string to JSON cannot fail"),
    );
    let inner = quoted.expose();
    SecretString::from(&inner[1..inner.len() - 1])
}

/// A JSON-escaped string with every non-ASCII character as `\uXXXX` (UTF-16 units), as
/// ASCII-only encoders such as Python's `json.dumps` write it.
fn json_ascii_escaped(escaped: &str) -> SecretString {
    use std::fmt::Write as _;
    // At most 12 characters for a 4-byte character: the capacity is never outgrown, so no copy
    // of the value is left behind in a freed buffer.
    let mut ascii = String::with_capacity(3 * escaped.len());
    for character in escaped.chars() {
        if character.is_ascii() {
            ascii.push(character);
        } else {
            for unit in character.encode_utf16(&mut [0; 2]) {
                let _ = write!(ascii, "\\u{unit:04x}");
            }
        }
    }
    SecretString::new(ascii)
}

fn hex(bytes: &[u8]) -> SecretString {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(2 * bytes.len());
    for &byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    SecretString::new(hex)
}

/// The characters of the base64 encoding of `value` that depend on `value` alone, for each of
/// the three places it can start in a longer encoded blob (its offset from the blob's start,
/// modulo 3): a blob that holds the value holds one of these cores, whatever comes before and
/// after. Each in the standard and the URL-safe alphabet (once when both read the same).
fn base64_cores(value: &[u8]) -> Vec<(SecretString, Alphabet)> {
    let mut cores = Vec::with_capacity(6);
    for offset in 0..3 {
        let mut shifted = Zeroizing::new(Vec::with_capacity(offset + value.len()));
        shifted.resize(offset, 0);
        shifted.extend_from_slice(value);
        // Character `c` encodes bits [6c, 6c + 6) of the blob; the value's bits are
        // [8 * offset, 8 * (offset + len)).
        let first = (8 * offset).div_ceil(6);
        let end = 8 * shifted.len() / 6;
        let standard = base64_chars(&shifted, first..end, STANDARD);
        let url_safe = base64_chars(&shifted, first..end, URL_SAFE);
        if standard.expose() == url_safe.expose() {
            cores.push((standard, Alphabet::Either));
        } else {
            cores.push((standard, Alphabet::Standard));
            cores.push((url_safe, Alphabet::UrlSafe));
        }
    }
    cores
}

/// Characters `range` of the base64 encoding of `bytes`.
fn base64_chars(bytes: &[u8], range: std::ops::Range<usize>, alphabet: &[u8; 64]) -> SecretString {
    let mut chars = String::with_capacity(range.len());
    for index in range {
        let bit = 6 * index;
        let window = u16::from(bytes[bit / 8]) << 8
            | u16::from(bytes.get(bit / 8 + 1).copied().unwrap_or(0));
        let sextet = (window >> (10 - bit % 8)) & 63;
        chars.push(char::from(alphabet[usize::from(sextet)]));
    }
    SecretString::new(chars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
        let mut encoded = base64_chars(bytes, 0..(8 * bytes.len()).div_ceil(6), alphabet)
            .expose()
            .to_owned();
        while !encoded.len().is_multiple_of(4) {
            encoded.push('=');
        }
        encoded
    }

    fn listed(value: &str) -> String {
        needles(value)
            .iter()
            .map(|(needle, form)| format!("{form:?} {}\n", needle.expose()))
            .collect()
    }

    #[test]
    fn the_encoder_of_these_tests_agrees_with_rfc_4648() {
        // RFC 4648 section 10.
        let encoded: Vec<String> = ["f", "fo", "foo", "foob", "fooba", "foobar"]
            .iter()
            .map(|text| base64(text.as_bytes(), STANDARD))
            .collect();
        assert_eq!(
            encoded,
            ["Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"]
        );
    }

    #[test]
    fn a_blob_holding_the_value_holds_its_core_whatever_surrounds_it() {
        let value = b"s3cr3t-t0ken/+?\xff";
        let cores = base64_cores(value);
        for prefix_len in 0..7 {
            for suffix_len in 0..4 {
                let mut blob = b"user:pass".repeat(2)[..prefix_len].to_vec();
                blob.extend_from_slice(value);
                blob.extend_from_slice(&b"\x00\x7f\x80"[..suffix_len]);
                for (alphabet, table) in [
                    (Alphabet::Standard, STANDARD),
                    (Alphabet::UrlSafe, URL_SAFE),
                ] {
                    let encoded = base64(&blob, table);
                    let found = cores.iter().any(|(core, core_alphabet)| {
                        *core_alphabet == alphabet && encoded.contains(core.expose())
                    });
                    assert!(
                        found,
                        "prefix {prefix_len}, suffix {suffix_len}, {alphabet:?}: {encoded}"
                    );
                }
            }
        }
    }

    #[test]
    fn cores_of_an_eight_byte_value_are_ten_characters() {
        let lengths: Vec<usize> = base64_cores(b"12345678")
            .iter()
            .map(|(core, _)| core.expose().len())
            .collect();
        assert_eq!(lengths, [10, 10, 10]);
    }

    #[test]
    fn a_short_value_is_hidden_as_itself_and_json_escaped_only() {
        expect![[r#"
            Exact pa"ss
            Exact pa\"ss
        "#]]
        .assert_eq(&listed("pa\"ss"));
    }

    #[test]
    fn a_long_value_has_its_text_json_hex_and_base64_forms() {
        expect![[r#"
            Text "tok/en?+>>?~~k3y"
            Text \"tok/en?+>>?~~k3y\"
            Text 22746f6b2f656e3f2b3e3e3f7e7e6b337922
            Base64Core(Standard) InRvay9lbj8rPj4/fn5rM3ki
            Base64Core(UrlSafe) InRvay9lbj8rPj4_fn5rM3ki
            Base64Core(Standard) J0b2svZW4/Kz4+P35+azN5I
            Base64Core(UrlSafe) J0b2svZW4_Kz4-P35-azN5I
            Base64Core(Standard) idG9rL2VuPys+Pj9+fmszeS
            Base64Core(UrlSafe) idG9rL2VuPys-Pj9-fmszeS
        "#]]
        .assert_eq(&listed(r#""tok/en?+>>?~~k3y""#));
    }

    #[test]
    fn non_ascii_values_are_also_hidden_as_ascii_only_json() {
        expect![[r#"
            Text clé-secrète-😀
            Text cl\u00e9-secr\u00e8te-\ud83d\ude00
            Text 636cc3a92d73656372c3a874652df09f9880
        "#]]
        .assert_eq(
            &listed("clé-secrète-😀")
                .lines()
                .filter(|line| !line.starts_with("Base64"))
                .map(|line| format!("{line}\n"))
                .collect::<String>(),
        );
    }

    #[test]
    fn a_long_value_holding_a_percent_sign_keeps_its_exact_form() {
        assert_eq!(
            needles("100%25-off-coupon")
                .iter()
                .filter(|(_, form)| *form == Form::Exact)
                .count(),
            1
        );
    }
}
