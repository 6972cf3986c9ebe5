//! The signed proof of verification: after a right code, an RS256 JSON Web Token naming the
//! verified number, which the application's backend (or an API Gateway JWT authorizer) checks
//! against the public keys this service publishes. It carries nothing else: no code, no hash.

use std::sync::Arc;

use base64::Engine;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rand::Rng;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::config::{ConfigError, TokenConfig, problem};
use crate::domain::PhoneNumber;

/// RSA keys shorter than this are refused (NIST SP 800-57: 112-bit security and up).
const MIN_RSA_BITS: usize = 2048;
/// How long verifiers may cache the published keys and the discovery document. Keep a
/// retired key listed (`OTP_TOKEN_PREVIOUS_PUBLIC_KEYS`) for at least this plus the token
/// lifetime after rotating.
pub(crate) const DISCOVERY_MAX_AGE: u64 = 300;

/// Signs tokens, and publishes the keys that check them.
pub struct TokenIssuer {
    key: EncodingKey,
    header: Header,
    issuer: String,
    audience: String,
    ttl: u64,
    jwks: String,
    openid_configuration: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("kid", &self.header.kid)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// A token could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("token not signed")]
pub struct TokenError(#[source] jsonwebtoken::errors::Error);

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    phone_number: &'a str,
    phone_number_verified: bool,
    iat: u64,
    exp: u64,
    jti: String,
}

/// The PEM blocks in `text`, when nothing but white space and commas lies around them.
fn pem_blocks(text: &str) -> Option<Vec<(&str, &str)>> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        if !rest[..start].chars().all(|c| c.is_whitespace() || c == ',') {
            return None;
        }
        let label_end = start
            + rest[start..]
                .find("-----\n")
                .or(rest[start..].find("-----\r"))?;
        let label = &rest[start + "-----BEGIN ".len()..label_end];
        let end = format!("-----END {label}-----");
        let stop = label_end + rest[label_end..].find(&end)? + end.len();
        blocks.push((label, &rest[start..stop]));
        rest = &rest[stop..];
    }
    rest.chars()
        .all(|c| c.is_whitespace() || c == ',')
        .then_some(blocks)
}

/// The PEM text of base64 DER `text` under `label`, or `None` when it is not base64.
fn wrap(text: &str, label: &str) -> Option<String> {
    let compact: String = text.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .ok()?;
    Some(format!(
        "-----BEGIN {label}-----\n{compact}\n-----END {label}-----\n"
    ))
}

/// The signing key as one PEM block: the one block given (nothing else beside it), or base64
/// DER wrapped as PKCS#8.
fn private_key_pem(text: &str) -> Option<String> {
    if !text.contains("-----BEGIN") {
        return wrap(text, "PRIVATE KEY");
    }
    match pem_blocks(text)?.as_slice() {
        [(label, block)] if matches!(*label, "PRIVATE KEY" | "RSA PRIVATE KEY") => {
            Some((*block).to_owned())
        }
        _ => None,
    }
}

/// The public JWK of `jwk` as published: key type, use, algorithm, id and the RSA numbers.
fn published(jwk: &Jwk, var: &'static str) -> Result<(String, Value), ConfigError> {
    let jsonwebtoken::jwk::AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return Err(problem(var, "must be an RSA key"));
    };
    // A small public exponent lets lenient PKCS#1 v1.5 verifiers (Bleichenbacher 2006) accept
    // forged signatures: the verifiers of these tokens are other people's libraries.
    if rsa.e != "AQAB" {
        return Err(problem(
            var,
            "must be an RSA key with public exponent 65537",
        ));
    }
    let modulus = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&rsa.n)
        .map_err(|_| problem(var, "is not a usable RSA key"))?;
    let bits = modulus.iter().skip_while(|b| **b == 0).count() * 8;
    if bits < MIN_RSA_BITS {
        return Err(problem(
            var,
            format!("must be an RSA key of at least {MIN_RSA_BITS} bits"),
        ));
    }
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| problem(var, "is not a usable RSA key"))?;
    let public = json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": rsa.n, "e": rsa.e,
    });
    Ok((kid, public))
}

/// The retired public keys: PEM blocks (`PUBLIC KEY` or `RSA PUBLIC KEY`), or base64 of
/// SubjectPublicKeyInfo DER separated by commas or white space. Anything else fails init.
fn previous_keys(list: &str) -> Result<Vec<Value>, ConfigError> {
    const VAR: &str = "OTP_TOKEN_PREVIOUS_PUBLIC_KEYS";
    let unusable = || problem(VAR, "must list RSA public keys, as PEM or base64 DER");
    let blocks: Vec<String> = if list.contains("-----BEGIN") {
        let blocks = pem_blocks(list).ok_or_else(unusable)?;
        if !blocks
            .iter()
            .all(|(label, _)| matches!(*label, "PUBLIC KEY" | "RSA PUBLIC KEY"))
        {
            return Err(unusable());
        }
        blocks
            .iter()
            .map(|(_, block)| (*block).to_owned())
            .collect()
    } else {
        list.split([',', ' ', '\n', '\t', '\r'])
            .filter(|item| !item.trim().is_empty())
            .map(|item| wrap(item, "PUBLIC KEY").ok_or_else(unusable))
            .collect::<Result<_, _>>()?
    };
    blocks
        .iter()
        .map(|pem| {
            let key = DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| unusable())?;
            let jwk =
                Jwk::from_decoding_key(&key, Some(Algorithm::RS256)).map_err(|_| unusable())?;
            Ok(published(&jwk, VAR)?.1)
        })
        .collect()
}

impl TokenIssuer {
    /// Checks the key and precomputes what is published. Errors name the variable and never
    /// repeat the key.
    pub fn new(config: TokenConfig, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        const VAR: &str = "OTP_TOKEN_SIGNING_KEY";
        let unusable = || {
            problem(
                VAR,
                "must be an RSA private key, PKCS#8, as PEM or base64 DER",
            )
        };
        let pem = private_key_pem(config.signing_key.expose_secret()).ok_or_else(unusable)?;
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| unusable())?;
        let jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).map_err(|_| unusable())?;
        let (kid, public) = published(&jwk, VAR)?;
        let mut keys = vec![public];
        // Each key once: a key listed twice, or the signing key in the retired list (a
        // rollback), would repeat a `kid`, which libraries such as jose refuse to choose from.
        for key in previous_keys(config.previous_public_keys.as_deref().unwrap_or(""))? {
            if !keys.iter().any(|k| k["kid"] == key["kid"]) {
                keys.push(key);
            }
        }
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid);
        let jwks = json!({ "keys": keys }).to_string();
        let base = config.issuer.trim_end_matches('/');
        let openid_configuration = json!({
            "issuer": config.issuer,
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["iss", "aud", "sub", "phone_number", "phone_number_verified", "iat", "exp", "jti"],
        })
        .to_string();
        // Sign once now: a key that parses but cannot sign fails init, not the first verify.
        let issuer = Self {
            key,
            header,
            issuer: config.issuer,
            audience: config.audience,
            ttl: config.ttl,
            jwks,
            openid_configuration,
            clock,
        };
        // (Not through PhoneNumber: parsing one compiles the phone library's patterns, a
        // first request's work that init need not do twice.)
        issuer.sign("+14155552671").map_err(|_| unusable())?;
        Ok(issuer)
    }

    /// A token saying `phone` was verified now.
    pub(crate) fn issue(&self, phone: &PhoneNumber) -> Result<String, TokenError> {
        self.sign(phone.e164())
    }

    /// A token for the E.164 number `number`.
    fn sign(&self, number: &str) -> Result<String, TokenError> {
        let now = self.clock.now();
        let mut jti = [0u8; 16];
        rand::rng().fill_bytes(&mut jti);
        let claims = Claims {
            iss: &self.issuer,
            aud: &self.audience,
            sub: number,
            phone_number: number,
            phone_number_verified: true,
            iat: now,
            exp: now + self.ttl,
            jti: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jti),
        };
        jsonwebtoken::encode(&self.header, &claims, &self.key).map_err(TokenError)
    }

    /// `GET /.well-known/jwks.json`: the signing key's public half, and the retired ones.
    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    /// `GET /.well-known/openid-configuration`: the issuer and where its keys are.
    pub(crate) fn openid_configuration(&self) -> &str {
        &self.openid_configuration
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa_jwk(modulus_bytes: usize, e: &str) -> Jwk {
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(vec![0xc5; modulus_bytes]);
        serde_json::from_value(json!({"kty": "RSA", "n": n, "e": e})).unwrap()
    }

    #[test]
    fn only_keys_verifiers_can_check_safely_are_published() {
        assert!(published(&rsa_jwk(256, "AQAB"), "V").is_ok());
        // Public exponent 3: forgeable against lenient PKCS#1 v1.5 verifiers.
        let err = published(&rsa_jwk(256, "Aw"), "V").unwrap_err();
        assert!(err.to_string().contains("65537"), "{err}");
        let err = published(&rsa_jwk(128, "AQAB"), "V").unwrap_err();
        assert!(err.to_string().contains("2048"), "{err}");
    }

    #[test]
    fn pem_text_is_blocks_and_nothing_else() {
        let block = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----";
        assert_eq!(
            pem_blocks(&format!("{block}\n, {block}\n")).unwrap().len(),
            2
        );
        assert!(pem_blocks(&format!("{block}\njunk\n{block}")).is_none());
        assert!(pem_blocks(&format!("junk {block}")).is_none());
        assert!(pem_blocks("-----BEGIN PUBLIC KEY-----\nAAAA\n").is_none());
        assert!(private_key_pem(&format!("{block}\ntrailing")).is_none());
    }
}
