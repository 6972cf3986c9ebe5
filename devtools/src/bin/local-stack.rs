//! `local-stack`: the whole service on this machine, with no AWS or Plivo account.
//!
//! - DynamoDB: dynalite on 127.0.0.1:8000, persisting under `.local/dynalite` (an already
//!   running DynamoDB-compatible server on that port is reused), with the table created from
//!   `template.yaml`.
//! - Plivo: a sandbox on 127.0.0.1:8010 that prints every SMS and lists them at `/messages`,
//!   and reports each message's delivery, signed, to `POST /plivo/callback/status`; for a
//!   voice call it fetches `POST /plivo/callback/answer` and prints what the call says.
//! - The two functions under `cargo lambda watch`, which runs them through its Lambda Runtime
//!   API, rebuilds them when the code changes, and routes `POST /auth/send-otp`,
//!   `POST /auth/verify-otp`, the Plivo callbacks and the token keys' GETs (the workspace's
//!   `[workspace.metadata.lambda.watch.router]`), on a free port of its own.
//! - In front of it on 127.0.0.1:3000, the routes and CORS rules `template.yaml` gives API
//!   Gateway (any other request: API Gateway's `404 {"message":"Not Found"}`),
//!   allowing the demo page (`examples/web`), which is served on 127.0.0.1:8080.
//! - Port 9000 on [::1] and 127.0.0.1 forwarded to watch's Lambda Invoke API, where
//!   `cargo lambda invoke send-otp --data-file events/send-otp.json` looks by default.
//!
//! Ports can be changed with `LOCAL_API_PORT`, `LOCAL_DYNAMODB_PORT`, `LOCAL_PLIVO_PORT`,
//! `LOCAL_INVOKE_PORT` and `LOCAL_WEB_PORT` (0: any free port), the data folder with
//! `LOCAL_STATE_DIR`.
//! Ctrl-C (or SIGTERM) stops everything it started.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::http::HeaderValue;
use otp_devtools::dynalite::{Dynalite, local_client};
use otp_devtools::plivo_sandbox::PlivoSandbox;
use otp_devtools::{edge, random_hex, repo_root, rsa_signing_key, table};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::signal::unix::{SignalKind, signal};

const TABLE: &str = "otp-local";
/// The audience of the local stack's tokens.
const LOCAL_AUDIENCE: &str = "otp-lambda-local";

fn port(var: &str, default: u16) -> anyhow::Result<u16> {
    match std::env::var(var) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{var} must be a port number")),
        Err(_) => Ok(default),
    }
}

/// Writes `text` to a file only this user can read.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .with_context(|| format!("write {}", path.display()))
}

/// A secret for local hashing, made once and kept in the data folder.
fn local_secret(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("otp-secret");
    if let Ok(secret) = std::fs::read_to_string(&path)
        && secret.trim().len() >= 32
    {
        return Ok(secret.trim().to_owned());
    }
    let secret = random_hex(32);
    write_private(&path, &secret)?;
    Ok(secret)
}

/// An RSA key that signs the local stack's tokens (PKCS#8 DER, base64), made once and kept in
/// the data folder.
fn local_signing_key(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("token-signing-key");
    if let Ok(key) = std::fs::read_to_string(&path)
        && !key.trim().is_empty()
    {
        return Ok(key.trim().to_owned());
    }
    let key = rsa_signing_key()?;
    write_private(&path, &key)?;
    Ok(key)
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
        "DynamoDB: dynalite at {} (data in {})",
        server.endpoint(),
        dir.join("dynalite").display()
    );
    Ok((server.endpoint(), Some(server)))
}

/// The functions' settings, in a file only this user can read (it holds the hashing secret).
fn env_file(dir: &Path, env: &[(&str, String)]) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join("functions.env");
    // Quoted: cargo-lambda's reader refuses an unquoted `=` in a value (base64 padding).
    if let Some((key, _)) = env.iter().find(|(_, v)| v.contains(['"', '\n'])) {
        bail!("{key} cannot be written to an env file");
    }
    let text: String = env.iter().map(|(k, v)| format!("{k}=\"{v}\"\n")).collect();
    write_private(&path, &text)?;
    Ok(path)
}

/// `port`, or when it is 0 one the system has free now (`cargo lambda watch` needs a number).
fn port_number(port: u16) -> anyhow::Result<u16> {
    if port != 0 {
        return Ok(port);
    }
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// `cargo lambda watch` serving the routes and the Invoke API on `addr`. The functions read
/// their settings from `env_file` alone: nothing of this shell's AWS, Plivo or OTP settings
/// reaches them.
fn watch(root: &Path, addr: SocketAddr, env_file: &Path) -> anyhow::Result<Child> {
    if !on_path("cargo-lambda") {
        bail!(
            "cargo-lambda is not on PATH: `make local` installs it under .tools/lambda/bin \
             (or `pip install cargo-lambda`)"
        );
    }
    let mut command = Command::new("cargo");
    command
        .current_dir(root)
        .args(["lambda", "watch", "--invoke-address"])
        .arg(addr.ip().to_string())
        .arg("--invoke-port")
        .arg(addr.port().to_string())
        .arg("--env-file")
        .arg(env_file)
        .arg("--disable-cors")
        .stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if ["AWS_", "OTP_", "PLIVO_"]
            .iter()
            .any(|p| key.starts_with(p))
        {
            command.env_remove(key.as_ref());
        }
    }
    command.spawn().context("start cargo lambda watch")
}

/// Waits until `addr` accepts connections, or `child` exits.
async fn ready(addr: SocketAddr, child: &mut Child) -> anyhow::Result<()> {
    for _ in 0..1200 {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("cargo lambda watch exited ({status}); see its output above");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("cargo lambda watch did not listen on {addr} within 2 minutes")
}

/// Forwards every connection to `listener` on to `target`.
fn forward(listener: TcpListener, target: SocketAddr) {
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

/// Stops `cargo lambda watch` as Ctrl-C would, so it stops the function processes too.
async fn stop(mut child: Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .await;
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // One line that says what failed and why (a port in use names the port and its
    // variable), not a backtrace.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local-stack: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let root = repo_root();
    let state = std::env::var_os("LOCAL_STATE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join(".local"));
    std::fs::create_dir_all(&state)?;

    let (endpoint, _dynalite) = dynamodb(port("LOCAL_DYNAMODB_PORT", 8000)?, &state).await?;
    if table::ensure_table(&local_client(&endpoint), TABLE).await? {
        println!("DynamoDB: created table {TABLE} from template.yaml");
    }

    let plivo_addr = SocketAddr::from(([127, 0, 0, 1], port("LOCAL_PLIVO_PORT", 8010)?));
    let plivo = PlivoSandbox::start(plivo_addr, true)
        .await
        .with_context(|| {
            format!(
                "start the Plivo sandbox on {plivo_addr} (set LOCAL_PLIVO_PORT to use another port)"
            )
        })?;
    println!(
        "Plivo: sandbox at {} (messages at {}/messages)",
        plivo.url(),
        plivo.url()
    );

    let mut env = vec![
        ("OTP_TABLE_NAME", TABLE.to_owned()),
        ("OTP_SECRET", local_secret(&state)?),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.clone()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        // Locally any region may be tried; a deployment must choose (template.yaml).
        ("OTP_ALLOWED_COUNTRIES", "*".to_owned()),
    ];
    env.extend(plivo.function_env());
    let addr = SocketAddr::from(([127, 0, 0, 1], port_number(port("LOCAL_API_PORT", 3000)?)?));
    // Delivery reports: the sandbox posts each message's statuses, signed, to the API.
    env.push(("OTP_PUBLIC_BASE_URL", format!("http://{addr}")));
    // Voice calls: the sandbox fetches each call's answer, signed, and prints what it says.
    env.push(("OTP_VOICE_ENABLED", "true".to_owned()));
    // Tokens as a deployment with a signing key issues them; the keys at /.well-known/.
    env.extend([
        ("OTP_TOKEN_SIGNING_KEY", local_signing_key(&state)?),
        ("OTP_TOKEN_ISSUER", format!("http://{addr}")),
        ("OTP_TOKEN_AUDIENCE", LOCAL_AUDIENCE.to_owned()),
    ]);
    let env = env_file(&state, &env)?;
    // cargo lambda watch routes the requests to the functions on a port of its own; in front
    // of it, on the API's port, the CORS rules template.yaml gives API Gateway, allowing the
    // demo page's origin.
    let inner = SocketAddr::from(([127, 0, 0, 1], port_number(0)?));
    let mut functions = watch(&root, inner, &env)?;
    if let Err(e) = ready(inner, &mut functions).await {
        stop(functions).await;
        return Err(e);
    }
    // The page first (port 0 binds any free port), so the API knows the origin to allow.
    let served = async {
        let page_addr = SocketAddr::from(([127, 0, 0, 1], port("LOCAL_WEB_PORT", 8080)?));
        let page = edge::serve_page(
            page_addr,
            root.join("examples/web"),
            format!("http://{addr}"),
        )
        .await
        .context("serve the demo page (set LOCAL_WEB_PORT to use another port)")?;
        let origins = vec![
            HeaderValue::from_str(&format!("http://{page}"))?,
            HeaderValue::from_str(&format!("http://localhost:{}", page.port()))?,
        ];
        edge::serve_api(addr, inner, edge::template_routes()?, origins)
            .await
            .context("serve the API (set LOCAL_API_PORT to use another port)")?;
        anyhow::Ok(page)
    };
    let page = match served.await {
        Ok(page) => page,
        Err(e) => {
            stop(functions).await;
            return Err(e);
        }
    };

    // `cargo lambda invoke` sends to [::1]:9000 by default; serve IPv4 loopback too.
    let invoke_port = port("LOCAL_INVOKE_PORT", 9000)?;
    let mut invoke = Vec::new();
    for ip in ["::1", "127.0.0.1"] {
        let listener = match TcpListener::bind((ip, invoke_port)).await {
            Ok(listener) => listener,
            Err(e) => {
                stop(functions).await;
                return Err(e).context(format!(
                    "listen on {ip} port {invoke_port} for the Lambda Invoke API \
                     (set LOCAL_INVOKE_PORT to use another port)"
                ));
            }
        };
        invoke.push(listener.local_addr()?);
        forward(listener, inner);
    }
    println!("Lambda Invoke API for `cargo lambda invoke`: {}", invoke[1]);
    println!("Demo page (the passwordless flow in a browser): http://{page}/");
    println!(
        "\nThe OTP service is running at http://{addr}\n\n  \
         curl -s -X POST http://{addr}/auth/send-otp -H 'content-type: application/json' \\\n    \
         -d '{{\"phoneNumber\":\"+14155552671\"}}'\n  \
         # it answers the verificationId; the SMS, with its code, is printed here and listed \
         at {}/messages\n  \
         curl -s -X POST http://{addr}/auth/verify-otp -H 'content-type: application/json' \\\n    \
         -d '{{\"verificationId\":\"<verificationId>\",\"otp\":\"<code>\"}}'\n  \
         # a right code also answers a token (audience {LOCAL_AUDIENCE}), checked with the \
         keys at http://{addr}/.well-known/jwks.json\n  \
         curl -s http://{addr}/auth/verifications/<verificationId>\n  \
         # how it stands; POST .../cancel ends it while pending\n\nCtrl-C stops everything.",
        plivo.url()
    );

    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("\nStopping."),
        _ = terminate.recv() => println!("\nStopping."),
        status = functions.wait() => bail!("cargo lambda watch exited ({status:?}); see its output above"),
    }
    stop(functions).await;
    Ok(())
}
