//! Running the function binaries as Lambda runs them: built by cargo, started with the
//! Lambda environment variables, fed through a [`RuntimeApi`].

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::runtime_api::RuntimeApi;

/// The functions' packages, as cargo and cargo lambda name them.
pub const FUNCTIONS: [&str; 3] = ["send-otp", "verify-otp", "plivo-callback"];

/// The function executables.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub send_otp: PathBuf,
    pub verify_otp: PathBuf,
    pub plivo_callback: PathBuf,
}

impl Binaries {
    /// cargo's layout: `<dir>/send-otp`, `<dir>/verify-otp`.
    pub fn in_cargo_dir(dir: &Path) -> Self {
        Self {
            send_otp: dir.join("send-otp"),
            verify_otp: dir.join("verify-otp"),
            plivo_callback: dir.join("plivo-callback"),
        }
    }

    /// cargo lambda's layout: `<dir>/send-otp/bootstrap`, `<dir>/verify-otp/bootstrap`.
    pub fn in_lambda_dir(dir: &Path) -> Self {
        Self {
            send_otp: lambda_bootstrap(dir, "send-otp"),
            verify_otp: lambda_bootstrap(dir, "verify-otp"),
            plivo_callback: lambda_bootstrap(dir, "plivo-callback"),
        }
    }

    /// `sam build`'s layout: `<dir>/SendOtpFunction/bootstrap`, the artifacts it deploys.
    pub fn in_sam_build(dir: &Path) -> Self {
        Self {
            send_otp: dir.join("SendOtpFunction/bootstrap"),
            verify_otp: dir.join("VerifyOtpFunction/bootstrap"),
            plivo_callback: dir.join("PlivoCallbackFunction/bootstrap"),
        }
    }
}

/// Where cargo lambda puts binary `name` when told `--lambda-dir <dir>`.
pub fn lambda_bootstrap(dir: &Path, name: &str) -> PathBuf {
    dir.join(name).join("bootstrap")
}

/// Builds the functions (debug) and returns them.
pub async fn build_functions(root: &Path) -> anyhow::Result<Binaries> {
    let status = Command::new("cargo")
        .args(["build", "-q"])
        .args(FUNCTIONS.iter().flat_map(|name| ["-p", name]))
        .current_dir(root)
        .status()
        .await?;
    if !status.success() {
        bail!("cargo build failed");
    }
    Ok(Binaries::in_cargo_dir(
        &target_dir(root).await?.join("debug"),
    ))
}

/// The binaries end-to-end tests run: the debug builds, or with `OTP_SAM_BUILD_DIR` set, the
/// artifacts `sam build` left in that folder (see [`command`] for running another
/// architecture's).
pub async fn functions_under_test(root: &Path) -> anyhow::Result<Binaries> {
    match std::env::var_os("OTP_SAM_BUILD_DIR") {
        Some(dir) => Ok(Binaries::in_sam_build(Path::new(&dir))),
        None => build_functions(root).await,
    }
}

/// A command that runs `binary`: directly, or through the program `OTP_FUNCTION_RUNNER`
/// names when set (`qemu-aarch64-static` runs the arm64 artifacts on an x86_64 machine).
pub fn command(binary: &Path) -> Command {
    match std::env::var_os("OTP_FUNCTION_RUNNER").filter(|r| !r.is_empty()) {
        Some(runner) => {
            let mut command = Command::new(runner);
            command.arg(binary);
            command
        }
        None => Command::new(binary),
    }
}

/// The workspace's target folder (honours `CARGO_TARGET_DIR`).
pub async fn target_dir(root: &Path) -> anyhow::Result<PathBuf> {
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .await?;
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let target = meta["target_directory"]
        .as_str()
        .context("cargo metadata gave no target_directory")?;
    Ok(PathBuf::from(target))
}

/// Where a function process's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// To this process's own output.
    Inherit,
    /// Nowhere (as a benchmark wants: Lambda ships it away through a pipe).
    Discard,
    /// Standard output to a pipe the caller reads (`child.stdout`).
    Capture,
}

/// One function process and the Runtime API it polls.
pub struct LocalFunction {
    /// Dropped (killed) before its Runtime API, which it would otherwise poll as it closes.
    pub child: Child,
    pub runtime: RuntimeApi,
    /// Just before the process was spawned.
    pub started: std::time::Instant,
}

impl LocalFunction {
    /// Starts `binary` as function `name` with `env` on top of the Lambda variables. Its
    /// AWS credentials are dummies: the endpoints in `env` decide where it connects.
    pub async fn start(
        binary: &Path,
        name: &str,
        env: &[(&str, String)],
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        Self::start_with_output(binary, name, env, timeout, Output::Inherit).await
    }

    /// Like [`start`](Self::start), with the process's output going where `output` says.
    pub async fn start_with_output(
        binary: &Path,
        name: &str,
        env: &[(&str, String)],
        timeout: Duration,
        output: Output,
    ) -> anyhow::Result<Self> {
        let runtime = RuntimeApi::start(name, timeout).await?;
        Self::start_with_runtime(binary, runtime, env, output).await
    }

    /// Starts `binary` polling `runtime`, which may already hold an event.
    pub async fn start_with_runtime(
        binary: &Path,
        runtime: RuntimeApi,
        env: &[(&str, String)],
        output: Output,
    ) -> anyhow::Result<Self> {
        let name = runtime.function_name().to_owned();
        let mut command = command(binary);
        command
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_LAMBDA_RUNTIME_API", runtime.endpoint())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        match output {
            Output::Inherit => {}
            Output::Discard => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
            Output::Capture => {
                command.stdout(Stdio::piped());
            }
        }
        for (k, v) in env {
            command.env(k, v);
        }
        let started = std::time::Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        Ok(Self {
            runtime,
            child,
            started,
        })
    }
}
