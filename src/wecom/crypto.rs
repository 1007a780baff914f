//! WeCom's callback crypto (the scheme of its WXBizMsgCrypt libraries),
//! written from WeCom's documentation (回调和回复的加解密方案, doc paths
//! 90968 and 101033), checked against its published vectors below:
//!
//! - key = base64-decode(EncodingAESKey + "="): 32 bytes; IV = key[0..16];
//!   AES-256-CBC.
//! - PKCS#7 padding to a multiple of **32** bytes (pad 1..=32, so a
//!   16-byte-block unpadder would refuse WeCom's own messages).
//! - plaintext = 16 random bytes + message length (4 bytes, big-endian) +
//!   message + receiveid (the corp id for a classic app, empty for the
//!   智能机器人).
//! - signature = lowercase hex SHA-1 of the sorted concatenation of token,
//!   timestamp, nonce and the encrypted text.

use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::NoPadding};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha1::{Digest, Sha1};

type Dec = cbc::Decryptor<aes::Aes256>;
type Enc = cbc::Encryptor<aes::Aes256>;

/// WeCom pads to this, not to the AES block.
const PAD_TO: usize = 32;

/// Why a request or a key was refused. No detail beyond the kind: it goes
/// to our log only, never to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the EncodingAESKey is not 43 characters of base64 (32 bytes)")]
    BadKey,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the text does not decrypt with our EncodingAESKey")]
    Undecryptable,
    #[error("the message is for another receiver")]
    WrongReceiver,
    #[error("no random bytes from the system")]
    NoRandom,
}

/// Base64 as WeCom writes it: its EncodingAESKey's last character carries
/// bits beyond the 32 bytes (the official example key does), which a
/// strict decoder refuses and WeCom's own libraries ignore.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Token, key and receiveid of one callback URL. Debug shows none of them.
#[derive(Clone)]
pub struct Crypto {
    token: String,
    key: [u8; 32],
    receive_id: String,
}

impl std::fmt::Debug for Crypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Crypto(***)")
    }
}

/// An encrypted passive reply's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub encrypt: String,
    pub signature: String,
}

/// The signature of an encrypted text (or echostr).
pub fn signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    let mut parts = [token, timestamp, nonce, encrypt];
    parts.sort_unstable();
    let mut h = Sha1::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Crypto {
    /// `receive_id` is "" for the 智能机器人.
    pub fn new(
        token: &str,
        encoding_aes_key: &str,
        receive_id: &str,
    ) -> Result<Crypto, CryptoError> {
        let k = encoding_aes_key.trim();
        if k.len() != 43 {
            return Err(CryptoError::BadKey);
        }
        let bytes = LENIENT
            .decode(format!("{k}="))
            .map_err(|_| CryptoError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(Crypto {
            token: token.to_string(),
            key,
            receive_id: receive_id.to_string(),
        })
    }

    pub fn signature(&self, timestamp: &str, nonce: &str, encrypt: &str) -> String {
        signature(&self.token, timestamp, nonce, encrypt)
    }

    /// The signature checked in a time that does not depend on where it
    /// differs.
    pub fn verify(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
    ) -> Result<(), CryptoError> {
        let want = self.signature(timestamp, nonce, encrypt);
        let got = msg_signature.trim().to_ascii_lowercase();
        if crate::feishu::crypto::same(want.as_bytes(), got.as_bytes()) {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }

    /// Signature first, then the message.
    pub fn open(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
    ) -> Result<Vec<u8>, CryptoError> {
        self.verify(msg_signature, timestamp, nonce, encrypt)?;
        self.decrypt(encrypt)
    }

    /// The message inside an encrypted text: padding 1..=32, a length that
    /// fits, and our receiveid after it.
    pub fn decrypt(&self, encrypt: &str) -> Result<Vec<u8>, CryptoError> {
        let bad = CryptoError::Undecryptable;
        let mut buf = base64::engine::general_purpose::STANDARD
            .decode(encrypt.trim())
            .map_err(|_| bad)?;
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err(bad);
        }
        let plain = Dec::new_from_slices(&self.key, &self.key[..16])
            .map_err(|_| bad)?
            .decrypt_padded::<NoPadding>(&mut buf)
            .map_err(|_| bad)?;
        let pad = usize::from(*plain.last().ok_or(bad)?);
        if !(1..=PAD_TO).contains(&pad) || pad > plain.len() {
            return Err(bad);
        }
        let (content, padding) = plain.split_at(plain.len() - pad);
        if padding.iter().any(|&b| usize::from(b) != pad) {
            return Err(bad);
        }
        let len_bytes: [u8; 4] = content
            .get(16..20)
            .ok_or(bad)?
            .try_into()
            .map_err(|_| bad)?;
        let len = usize::try_from(u32::from_be_bytes(len_bytes)).map_err(|_| bad)?;
        let end = 20usize.checked_add(len).ok_or(bad)?;
        let msg = content.get(20..end).ok_or(bad)?;
        let receiver = &content[end..];
        if receiver != self.receive_id.as_bytes() {
            return Err(CryptoError::WrongReceiver);
        }
        Ok(msg.to_vec())
    }

    /// Encrypt `msg` with 16 bytes of the system's randomness in front.
    pub fn encrypt(&self, msg: &[u8]) -> Result<String, CryptoError> {
        let mut random = [0u8; 16];
        getrandom::getrandom(&mut random).map_err(|_| CryptoError::NoRandom)?;
        self.encrypt_with(random, msg)
    }

    /// Encrypt `msg` behind the given 16 bytes (tests reproduce vectors).
    pub fn encrypt_with(&self, random: [u8; 16], msg: &[u8]) -> Result<String, CryptoError> {
        let len = u32::try_from(msg.len()).map_err(|_| CryptoError::Undecryptable)?;
        let mut buf = Vec::with_capacity(msg.len() + self.receive_id.len() + 20 + PAD_TO);
        buf.extend_from_slice(&random);
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(msg);
        buf.extend_from_slice(self.receive_id.as_bytes());
        let pad = PAD_TO - buf.len() % PAD_TO;
        // 1..=32, so it fits a byte.
        buf.resize(buf.len() + pad, pad as u8);
        let n = buf.len();
        let ct = Enc::new_from_slices(&self.key, &self.key[..16])
            .map_err(|_| CryptoError::BadKey)?
            .encrypt_padded::<NoPadding>(&mut buf, n)
            .map_err(|_| CryptoError::Undecryptable)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(ct))
    }

    /// A passive reply's encrypted text and its signature.
    pub fn seal(&self, msg: &[u8], timestamp: &str, nonce: &str) -> Result<Sealed, CryptoError> {
        let encrypt = self.encrypt(msg)?;
        let signature = self.signature(timestamp, nonce, &encrypt);
        Ok(Sealed { encrypt, signature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // WeCom's official vector: doc path 90968 (加解密方案说明), the same
    // values in the sample of its Python library (sbzhu/weworkapi_python,
    // callback/Sample.py, the comments of 使用示例一 and 使用示例二), quoted
    // in ../shared/reference/messengers.md.
    const TOKEN: &str = "QDG6eK";
    const AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    const CORP_ID: &str = "wx5823bf96d3bd56c7";
    const GET_SIG: &str = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3";
    const GET_TS: &str = "1409659589";
    const GET_NONCE: &str = "263014780";
    const ECHOSTR: &str =
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==";
    const POST_SIG: &str = "477715d11cdb4164915debcba66cb864d751f3e6";
    const POST_TS: &str = "1409659813";
    const POST_NONCE: &str = "1372623149";
    const POST_ENCRYPT: &str = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==";

    fn official() -> Crypto {
        Crypto::new(TOKEN, AES_KEY, CORP_ID).unwrap()
    }

    #[test]
    fn the_official_get_vector_verifies_and_decrypts_to_its_echo() {
        let c = official();
        assert_eq!(c.signature(GET_TS, GET_NONCE, ECHOSTR), GET_SIG);
        let echo = c.open(GET_SIG, GET_TS, GET_NONCE, ECHOSTR).unwrap();
        assert_eq!(echo, b"1616140317555161061");
    }

    #[test]
    fn the_official_post_vector_verifies_and_decrypts_to_hello() {
        let c = official();
        assert_eq!(c.signature(POST_TS, POST_NONCE, POST_ENCRYPT), POST_SIG);
        let xml = String::from_utf8(c.open(POST_SIG, POST_TS, POST_NONCE, POST_ENCRYPT).unwrap())
            .unwrap();
        assert!(xml.starts_with("<xml>") && xml.ends_with("</xml>"), "{xml}");
        assert!(
            xml.contains("<Content><![CDATA[hello]]></Content>"),
            "{xml}"
        );
        assert!(
            xml.contains(&format!("<ToUserName><![CDATA[{CORP_ID}]]>")),
            "{xml}"
        );
        // Its padding is 30 bytes: more than a 16-byte block's padder allows.
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(POST_ENCRYPT)
            .unwrap();
        let n = raw.len();
        let plain = Dec::new_from_slices(&c.key, &c.key[..16])
            .unwrap()
            .decrypt_padded::<NoPadding>(&mut raw)
            .unwrap();
        assert_eq!(plain[n - 1], 30);
    }

    #[test]
    fn encrypt_then_decrypt_gives_the_message_back() {
        let bot = Crypto::new("t", AES_KEY, "").unwrap();
        for msg in [
            "",
            "a",
            &"长".repeat(10),
            &"x".repeat(12),
            &"题".repeat(700),
        ] {
            let e = bot.encrypt(msg.as_bytes()).unwrap();
            assert_eq!(bot.decrypt(&e).unwrap(), msg.as_bytes(), "{msg}");
            assert_eq!(
                base64::engine::general_purpose::STANDARD
                    .decode(&e)
                    .unwrap()
                    .len()
                    % 32,
                0
            );
        }
        // The random part is random: the same message encrypts differently.
        assert_ne!(bot.encrypt(b"x").unwrap(), bot.encrypt(b"x").unwrap());
        // Fixed random bytes reproduce the official GET vector's layout:
        // re-encrypting its plaintext with its own random prefix gives it back.
        let c = official();
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(ECHOSTR)
            .unwrap();
        let plain = Dec::new_from_slices(&c.key, &c.key[..16])
            .unwrap()
            .decrypt_padded::<NoPadding>(&mut raw)
            .unwrap();
        let random: [u8; 16] = plain[..16].try_into().unwrap();
        assert_eq!(
            c.encrypt_with(random, b"1616140317555161061").unwrap(),
            ECHOSTR
        );
        let sealed = c.seal(b"reply", "1", "n").unwrap();
        assert_eq!(c.signature("1", "n", &sealed.encrypt), sealed.signature);
        assert_eq!(c.decrypt(&sealed.encrypt).unwrap(), b"reply");
    }

    #[test]
    fn a_wrong_signature_receiver_key_or_padding_is_refused() {
        let c = official();
        let mut sig = GET_SIG.to_string();
        sig.replace_range(0..1, "6");
        assert_eq!(
            c.open(&sig, GET_TS, GET_NONCE, ECHOSTR),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            c.open(GET_SIG, "1409659590", GET_NONCE, ECHOSTR),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            c.open("", GET_TS, GET_NONCE, ECHOSTR),
            Err(CryptoError::BadSignature)
        );
        // Upper-case hex is the same signature.
        assert!(
            c.verify(&GET_SIG.to_uppercase(), GET_TS, GET_NONCE, ECHOSTR)
                .is_ok()
        );
        // The AI bot's receiveid is empty: the corp's message is not for it.
        let bot = Crypto::new(TOKEN, AES_KEY, "").unwrap();
        assert_eq!(bot.decrypt(ECHOSTR), Err(CryptoError::WrongReceiver));
        let other = Crypto::new(TOKEN, AES_KEY, "wx0000000000000000").unwrap();
        assert_eq!(other.decrypt(ECHOSTR), Err(CryptoError::WrongReceiver));
        // Another key: garbage padding or length.
        let k2 = Crypto::new(
            TOKEN,
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            CORP_ID,
        )
        .unwrap();
        assert!(k2.decrypt(ECHOSTR).is_err());
        // Padding: 0, 33, and bytes that disagree.
        let raw_with = |last: &dyn Fn(&mut Vec<u8>)| {
            let mut p = vec![7u8; 16];
            p.extend_from_slice(&3u32.to_be_bytes());
            p.extend_from_slice(b"abc");
            p.extend_from_slice(CORP_ID.as_bytes());
            last(&mut p);
            let n = p.len();
            let ct = Enc::new_from_slices(&c.key, &c.key[..16])
                .unwrap()
                .encrypt_padded::<NoPadding>(&mut p, n)
                .unwrap()
                .to_vec();
            base64::engine::general_purpose::STANDARD.encode(ct)
        };
        // 41 bytes of content: 23 bytes of padding make 64.
        let good = raw_with(&|p| p.resize(64, 23));
        assert_eq!(c.decrypt(&good).unwrap(), b"abc");
        let zero = raw_with(&|p| p.resize(64, 0));
        let mixed = raw_with(&|p| {
            p.resize(64, 23);
            p[50] = 22;
        });
        let too_big = raw_with(&|p| p.resize(96, 33));
        for bad in [zero, mixed, too_big] {
            assert_eq!(c.decrypt(&bad), Err(CryptoError::Undecryptable));
        }
        // A length beyond the message.
        let long = raw_with(&|p| {
            p[16..20].copy_from_slice(&999u32.to_be_bytes());
            p.resize(64, 23);
        });
        assert_eq!(c.decrypt(&long), Err(CryptoError::Undecryptable));
        for bad in ["", "AAAA", "not base64!", &ECHOSTR[..40]] {
            assert!(c.decrypt(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_must_be_43_characters_of_base64() {
        for bad in [
            "",
            "short",
            &format!("{AES_KEY}A"),
            "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert_eq!(
                Crypto::new(TOKEN, bad, "").err(),
                Some(CryptoError::BadKey),
                "{bad}"
            );
        }
        assert!(!format!("{:?}", official()).contains(TOKEN));
    }
}
