//! The webhook signature: `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the raw
//! request body under the Meta app's secret.
//!
//! Only the raw bytes are signed: Meta escapes non-ASCII text as `\uXXXX` in the body it signs,
//! so a body decoded and re-serialized would not verify. The comparison is constant-time
//! (`hmac`'s `verify_slice`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The hex digest of `body` under `secret`, as Meta puts it after `sha256=`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The header value Meta would send for `body`.
pub fn header_for(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", sign(secret, body))
}

/// The digest a header carries, or None when it is not `sha256=` and 64 hex digits.
pub fn parse_header(header: &str) -> Option<[u8; 32]> {
    let hex_digest = header.trim().strip_prefix("sha256=")?;
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut digest).ok()?;
    Some(digest)
}

/// Whether `digest` is `body`'s HMAC under `secret`, compared in constant time.
pub fn verify(secret: &str, body: &[u8], digest: &[u8; 32]) -> bool {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    mac.verify_slice(digest).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_published_vector() {
        // https://hexdocs.pm/whatsapp_sdk/WhatsApp.Webhook.html
        assert_eq!(
            sign("secret", b"test"),
            "0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
        );
        let digest = parse_header(&header_for("secret", b"test")).unwrap();
        assert!(verify("secret", b"test", &digest));
        assert!(!verify("secret", b"test ", &digest));
        assert!(!verify("other", b"test", &digest));
    }

    #[test]
    fn malformed_headers_carry_no_digest() {
        assert!(parse_header("sha1=00").is_none());
        assert!(parse_header("sha256=zz").is_none());
        assert!(parse_header(&format!("sha256={}", "0".repeat(62))).is_none());
        assert!(parse_header(&format!("sha256={}", "a".repeat(64))).is_some());
    }
}
