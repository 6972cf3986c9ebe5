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

/// `text` as PEM: itself, or base64 of DER wrapped with `label`.
fn pem(text: &str, label: &str) -> Option<String> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return Some(text.to_owned());
    }
    let compact: String = text.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .ok()?;
    Some(format!(
        "-----BEGIN {label}-----\n{compact}\n-----END {label}-----\n"
    ))
}

/// The public JWK of `jwk` as published: key type, use, algorithm, id and the RSA numbers.
fn published(jwk: &Jwk, var: &'static str) -> Result<(String, Value), ConfigError> {
    let jsonwebtoken::jwk::AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return Err(problem(var, "must be an RSA key"));
    };
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

/// The retired public keys, PEM blocks or base64 of SubjectPublicKeyInfo DER, separated by
/// commas or white space.
fn previous_keys(list: &str) -> Result<Vec<Value>, ConfigError> {
    const VAR: &str = "OTP_TOKEN_PREVIOUS_PUBLIC_KEYS";
    let items: Vec<String> = if list.contains("-----BEGIN") {
        list.split_inclusive("-----END PUBLIC KEY-----")
            .map(|block| block.trim().trim_start_matches(',').trim().to_owned())
            .filter(|block| !block.is_empty())
            .collect()
    } else {
        list.split([',', ' ', '\n', '\t'])
            .filter(|item| !item.trim().is_empty())
            .map(str::to_owned)
            .collect()
    };
    items
        .iter()
        .map(|item| {
            let pem = pem(item, "PUBLIC KEY")
                .ok_or_else(|| problem(VAR, "must list PEM or base64 DER public keys"))?;
            let key = DecodingKey::from_rsa_pem(pem.as_bytes())
                .map_err(|_| problem(VAR, "lists a key that is not an RSA public key"))?;
            let jwk = Jwk::from_decoding_key(&key, Some(Algorithm::RS256))
                .map_err(|_| problem(VAR, "lists a key that is not an RSA public key"))?;
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
        let pem = pem(config.signing_key.expose_secret(), "PRIVATE KEY").ok_or_else(unusable)?;
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| unusable())?;
        let jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).map_err(|_| unusable())?;
        let (kid, public) = published(&jwk, VAR)?;
        let mut keys = vec![public];
        if let Some(list) = &config.previous_public_keys {
            keys.extend(previous_keys(list)?);
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
    pub(crate) fn jwks(&self) -> &str {
        &self.jwks
    }

    /// `GET /.well-known/openid-configuration`: the issuer and where its keys are.
    pub(crate) fn openid_configuration(&self) -> &str {
        &self.openid_configuration
    }
}
