//! The documents that check the tokens a right code earns: `GET /.well-known/jwks.json` and
//! `GET /.well-known/openid-configuration`, served by verify-otp (404 without a signing key).

use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Response};

use crate::error::OtpError;
use crate::service::VerifyOtp;
use crate::store::OtpStore;
use crate::token::DISCOVERY_MAX_AGE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Document {
    Jwks,
    OpenIdConfiguration,
}

impl Document {
    /// The document a path names, if any.
    pub(super) fn at(path: &str) -> Option<Self> {
        if path.ends_with("/.well-known/jwks.json") {
            Some(Document::Jwks)
        } else if path.ends_with("/.well-known/openid-configuration") {
            Some(Document::OpenIdConfiguration)
        } else {
            None
        }
    }
}

/// A discovery document, which verifiers may cache for a while.
pub(super) fn serve<S: OtpStore>(
    app: &VerifyOtp<S>,
    document: Document,
) -> Result<Response<Body>, OtpError> {
    let tokens = app.tokens().ok_or(OtpError::NotFound)?;
    let text = match document {
        Document::Jwks => tokens.jwks(),
        Document::OpenIdConfiguration => tokens.openid_configuration(),
    };
    let mut response = Response::new(Body::Text(text.to_owned()));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let cache = format!("public, max-age={DISCOVERY_MAX_AGE}");
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&cache).expect("ASCII"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_documents_are_found_under_any_base_path() {
        assert_eq!(Document::at("/.well-known/jwks.json"), Some(Document::Jwks));
        assert_eq!(
            Document::at("/prod/.well-known/openid-configuration"),
            Some(Document::OpenIdConfiguration)
        );
        assert_eq!(Document::at("/auth/verify-otp"), None);
        assert_eq!(Document::at("/.well-known/jwks"), None);
    }
}
