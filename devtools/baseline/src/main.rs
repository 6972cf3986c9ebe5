//! A bare lambda_http function that answers every request with a fixed 400 JSON body: the
//! Lambda runtime client and nothing else. The benchmark builds and runs it like the two
//! functions, so what they cost beyond it is their own work.

use lambda_http::{Error, Request, run, service_fn};

// The same runtime flavour as the functions.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async {
        lambda_baseline::refused()
    }))
    .await
}
