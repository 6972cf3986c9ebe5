//! The token settings, read by verify-otp: the key that signs the proof of verification, its
//! claims and lifetime, and the retired keys still published.

use secrecy::SecretString;

use super::ConfigError;
use super::env::{Env, FromEnv, check_url, problem};

/// Settings for the signed proof of verification (`verify-otp` only): present when
/// `OTP_TOKEN_SIGNING_KEY` is set. The key itself is checked by `TokenIssuer::new`.
#[derive(Debug)]
pub struct TokenConfig {
    /// `OTP_TOKEN_SIGNING_KEY`: PEM, or base64 of the DER.
    pub(crate) signing_key: SecretString,
    /// `OTP_TOKEN_ISSUER`, the `iss` claim.
    pub(crate) issuer: String,
    /// `OTP_TOKEN_AUDIENCE`, the `aud` claim.
    pub(crate) audience: String,
    /// `OTP_TOKEN_TTL_SECONDS`: from `iat` to `exp`.
    pub(crate) ttl: u64,
    /// `OTP_TOKEN_PREVIOUS_PUBLIC_KEYS`, still published.
    pub(crate) previous_public_keys: Option<String>,
}

impl FromEnv for Option<TokenConfig> {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let Some(signing_key) = env.optional("OTP_TOKEN_SIGNING_KEY") else {
            // A token setting without the key is a deployment mistake: say so.
            for var in [
                "OTP_TOKEN_ISSUER",
                "OTP_TOKEN_AUDIENCE",
                "OTP_TOKEN_TTL_SECONDS",
                "OTP_TOKEN_PREVIOUS_PUBLIC_KEYS",
            ] {
                if env.optional(var).is_some() {
                    return Err(problem(var, "is set but OTP_TOKEN_SIGNING_KEY is not"));
                }
            }
            return Ok(None);
        };
        let issuer = env.required("OTP_TOKEN_ISSUER")?.trim().to_owned();
        check_url("OTP_TOKEN_ISSUER", &issuer)?;
        Ok(Some(TokenConfig {
            signing_key: SecretString::from(signing_key),
            issuer,
            audience: env.required("OTP_TOKEN_AUDIENCE")?.trim().to_owned(),
            ttl: env.number("OTP_TOKEN_TTL_SECONDS", 300u64, 30..=3600)?,
            previous_public_keys: env.optional("OTP_TOKEN_PREVIOUS_PUBLIC_KEYS"),
        }))
    }
}
