//! Feishu's callback security: the Encrypt Key decryption and the
//! `X-Lark-Signature` check, written from the platform's documentation
//! (事件订阅 › Encrypt Key 加密 and 安全校验), not from an SDK.
//!
//! - Encrypted body `{"encrypt": base64}`: buf = base64-decode; key =
//!   SHA-256(Encrypt Key); IV = buf[0..16]; AES-256-CBC over the rest;
//!   PKCS#7 padding.
//! - Signature: hex(SHA-256(timestamp + nonce + Encrypt Key + raw body)),
//!   from the headers X-Lark-Request-Timestamp, X-Lark-Request-Nonce.

use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use sha2::{Digest, Sha256};

type Dec = cbc::Decryptor<aes::Aes256>;
type Enc = cbc::Encryptor<aes::Aes256>;

/// The body could not be decrypted (no detail: it goes nowhere but a
/// refusal and a log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the body does not decrypt with our Encrypt Key")]
pub struct Undecryptable;

fn key_of(encrypt_key: &str) -> [u8; 32] {
    Sha256::digest(encrypt_key.as_bytes()).into()
}

/// The plaintext of an `encrypt` field.
pub fn decrypt(encrypt_key: &str, encrypted: &str) -> Result<Vec<u8>, Undecryptable> {
    let buf = base64::engine::general_purpose::STANDARD
        .decode(encrypted.trim())
        .map_err(|_| Undecryptable)?;
    // An IV and at least one block, whole blocks only.
    if buf.len() < 32 || buf.len() % 16 != 0 {
        return Err(Undecryptable);
    }
    let (iv, rest) = buf.split_at(16);
    let mut data = rest.to_vec();
    let key = key_of(encrypt_key);
    let plain = Dec::new_from_slices(&key, iv)
        .map_err(|_| Undecryptable)?
        .decrypt_padded::<Pkcs7>(&mut data)
        .map_err(|_| Undecryptable)?;
    Ok(plain.to_vec())
}

/// What Feishu does to a body: for tests and fakes of the platform.
pub fn encrypt(encrypt_key: &str, iv: [u8; 16], plain: &[u8]) -> String {
    let key = key_of(encrypt_key);
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + 16 - plain.len() % 16, 0);
    let enc = match Enc::new_from_slices(&key, &iv) {
        Ok(e) => e,
        // 32-byte key and 16-byte IV: cannot happen.
        Err(_) => return String::new(),
    };
    let Ok(ct) = enc.encrypt_padded::<Pkcs7>(&mut buf, plain.len()) else {
        return String::new();
    };
    let mut out = iv.to_vec();
    out.extend_from_slice(ct);
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// `X-Lark-Signature` of a request.
pub fn signature(timestamp: &str, nonce: &str, encrypt_key: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(timestamp.as_bytes());
    h.update(nonce.as_bytes());
    h.update(encrypt_key.as_bytes());
    h.update(body);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal, in a time that does not depend on where they differ (a
/// signature or token guessed byte by byte learns nothing from timing).
pub fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feishu's published vector: the Encrypt Key example of the open
    /// platform's event-subscription guide ("Encrypt Key 加密配置示例",
    /// open.feishu.cn/document/server-docs/event-subscription-guide/
    /// event-subscription-configure-/encrypt-key-encryption-configuration-case),
    /// also quoted in ../shared/reference/messengers.md and checked here
    /// against openssl: `test key` decrypts this to `hello world`.
    #[test]
    fn decrypts_feishus_test_key_vector() {
        let got = decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=").unwrap();
        assert_eq!(got, b"hello world");
        assert_eq!(
            decrypt("other key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="),
            Err(Undecryptable)
        );
    }

    #[test]
    fn broken_bodies_do_not_decrypt() {
        for bad in ["", "AAAA", "not base64!", "P37w+VZImNgPEO1RBhJ6Rg=="] {
            assert_eq!(decrypt("test key", bad), Err(Undecryptable), "{bad:?}");
        }
        // A flipped byte in the last block breaks the padding.
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")
            .unwrap();
        raw[31] ^= 0x55;
        let flipped = base64::engine::general_purpose::STANDARD.encode(raw);
        assert_eq!(decrypt("test key", &flipped), Err(Undecryptable));
    }

    #[test]
    fn encrypt_is_what_decrypt_undoes() {
        for text in [
            "",
            "hello world",
            "{\"challenge\":\"c\"}",
            &"长".repeat(100),
        ] {
            let e = encrypt("k", [7; 16], text.as_bytes());
            assert_eq!(decrypt("k", &e).unwrap(), text.as_bytes());
        }
        // Same IV, same key: the published ciphertext again.
        let iv: [u8; 16] = base64::engine::general_purpose::STANDARD
            .decode("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")
            .unwrap()[..16]
            .try_into()
            .unwrap();
        assert_eq!(
            encrypt("test key", iv, b"hello world"),
            "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="
        );
    }

    /// Computed with `printf '%s' '1700000000n0ncetest key{...}' | sha256sum`.
    #[test]
    fn signature_vector() {
        let body = br#"{"encrypt":"P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="}"#;
        assert_eq!(
            signature("1700000000", "n0nce", "test key", body),
            "bed8fdd3e4bbc581364c140b572ec676edff3db612d57bbc07a24d062c40ddf3"
        );
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd") && !same(b"abc", b"ab"));
    }
}
