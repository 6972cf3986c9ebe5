//! `local-stack`: the whole service on this machine, with no AWS or Plivo account.
//!
//! - DynamoDB: dynalite on 127.0.0.1:8000, persisting under `.local/dynalite` (an already
//!   running DynamoDB-compatible server on that port is reused), with the table created from
//!   `template.yaml`.
//! - Plivo: a sandbox on 127.0.0.1:8010 that prints every SMS and lists them at `/messages`.
//! - The two function binaries, run as Lambda runs them (through the Lambda Runtime API),
//!   behind `POST /auth/send-otp` and `POST /auth/verify-otp` on 127.0.0.1:3000.
//!
//! - The Lambda Invoke API on [::1]:9000 and 127.0.0.1:9000, for
//!   `cargo lambda invoke send-otp --data-file events/send-otp.json`.
//!
//! Ports can be changed with `LOCAL_API_PORT`, `LOCAL_DYNAMODB_PORT`, `LOCAL_PLIVO_PORT` and
//! `LOCAL_INVOKE_PORT` (0: any free port), the data folder with `LOCAL_STATE_DIR`.
//! Ctrl-C stops everything it started.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use otp_devtools::dynalite::{Dynalite, local_client};
use otp_devtools::lambda::{LocalApi, build_functions};
use otp_devtools::plivo_sandbox::PlivoSandbox;
use otp_devtools::{invoke_api, random_hex, repo_root, table};

const TABLE: &str = "otp-local";
/// Sandbox credentials: they only open the local Plivo sandbox.
const SANDBOX_AUTH_ID: &str = "MALOCALSANDBOX000000";
const SANDBOX_AUTH_TOKEN: &str = "local-sandbox-token";
const SENDER_ID: &str = "+14155550100";

fn port(var: &str, default: u16) -> anyhow::Result<u16> {
    match std::env::var(var) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{var} must be a port number")),
        Err(_) => Ok(default),
    }
}

/// A secret for local hashing, made once and kept under `.local/`.
fn local_secret(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("otp-secret");
    if let Ok(secret) = std::fs::read_to_string(&path)
        && secret.trim().len() >= 32
    {
        return Ok(secret.trim().to_owned());
    }
    let secret = random_hex(32);
    std::fs::write(&path, &secret)?;
    Ok(secret)
}

async fn dynamodb(port: u16, dir: &Path) -> anyhow::Result<(String, Option<Dynalite>)> {
    let endpoint = format!("http://127.0.0.1:{port}");
    let probe = local_client(&endpoint).list_tables().limit(1).send();
    if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), probe).await {
        println!("DynamoDB: reusing the server already at {endpoint}");
        return Ok((endpoint, None));
    }
    let server = Dynalite::start(port, Some(&dir.join("dynalite")))?;
    println!(
        "DynamoDB: dynalite at {} (data in .local/dynalite)",
        server.endpoint()
    );
    Ok((server.endpoint(), Some(server)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = repo_root();
    let state = std::env::var_os("LOCAL_STATE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join(".local"));
    std::fs::create_dir_all(&state)?;
    let api_port = port("LOCAL_API_PORT", 3000)?;

    println!("Building send-otp and verify-otp ...");
    let bin = build_functions(&root).await?;

    let (endpoint, _dynalite) = dynamodb(port("LOCAL_DYNAMODB_PORT", 8000)?, &state).await?;
    if table::ensure_table(&local_client(&endpoint), TABLE).await? {
        println!("DynamoDB: created table {TABLE} from template.yaml");
    }

    let plivo_addr = SocketAddr::from(([127, 0, 0, 1], port("LOCAL_PLIVO_PORT", 8010)?));
    let plivo = PlivoSandbox::start(plivo_addr, SANDBOX_AUTH_ID, SANDBOX_AUTH_TOKEN, true)
        .await
        .context("start the Plivo sandbox")?;
    println!(
        "Plivo: sandbox at {} (messages at {}/messages)",
        plivo.url(),
        plivo.url()
    );

    let env = vec![
        ("OTP_TABLE_NAME", TABLE.to_owned()),
        ("OTP_SECRET", local_secret(&state)?),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.clone()),
        ("PLIVO_API_URL", plivo.url()),
        ("PLIVO_AUTH_ID", SANDBOX_AUTH_ID.to_owned()),
        ("PLIVO_AUTH_TOKEN", SANDBOX_AUTH_TOKEN.to_owned()),
        ("PLIVO_SENDER_ID", SENDER_ID.to_owned()),
        // Locally any region may be tried; a deployment must choose (template.yaml).
        ("OTP_ALLOWED_COUNTRIES", "*".to_owned()),
    ];
    let addr = SocketAddr::from(([127, 0, 0, 1], api_port));
    let mut api = LocalApi::start(&bin, &env, addr)
        .await
        .context("serve the API (set LOCAL_API_PORT to use another port)")?;
    let addr = api.addr;
    let invoke_port = port("LOCAL_INVOKE_PORT", 9000)?;
    let functions = vec![
        ("send-otp".to_owned(), api.send.runtime.clone()),
        ("verify-otp".to_owned(), api.verify.runtime.clone()),
    ];
    // `cargo lambda invoke` sends to [::1]:9000 by default; serve IPv4 loopback too.
    let invoke = invoke_api::serve(
        &[
            SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], invoke_port)),
            SocketAddr::from(([127, 0, 0, 1], invoke_port)),
        ],
        functions,
    )
    .await
    .context("serve the Lambda Invoke API (set LOCAL_INVOKE_PORT to use another port)")?;
    println!("Lambda Invoke API for `cargo lambda invoke`: {}", invoke[1]);
    println!(
        "\nThe OTP service is running at http://{addr}\n\n  \
         curl -s -X POST http://{addr}/auth/send-otp -H 'content-type: application/json' \\\n    \
         -d '{{\"phoneNumber\":\"+14155552671\"}}'\n  \
         # the SMS, with its code, is printed here and listed at {}/messages\n  \
         curl -s -X POST http://{addr}/auth/verify-otp -H 'content-type: application/json' \\\n    \
         -d '{{\"phoneNumber\":\"+14155552671\",\"otp\":\"<code>\"}}'\n\nCtrl-C stops everything.",
        plivo.url()
    );

    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("\nStopping."),
        status = api.send.child.wait() => bail!("send-otp exited ({status:?}); see its log above"),
        status = api.verify.child.wait() => bail!("verify-otp exited ({status:?}); see its log above"),
    }
    Ok(())
}
