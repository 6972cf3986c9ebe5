//! A bare lambda_http function that answers every request with a fixed 400 JSON body: the
//! Lambda runtime client and nothing else. The benchmark builds and runs it like the two
//! functions, so what they cost beyond it is their own work.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

// The same runtime flavour as the functions.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async {
        Response::builder()
            .status(400)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"error":"invalid_request"}"#))
            .map_err(Error::from)
    }))
    .await
}
