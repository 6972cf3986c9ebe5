//! What the bare function and the EMF writers built on it share: the one fixed answer.

use lambda_http::{Body, Error, Response};

/// A 400 JSON answer, the same for every request.
pub fn refused() -> Result<Response<Body>, Error> {
    Response::builder()
        .status(400)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"error":"invalid_request"}"#))
        .map_err(Error::from)
}
