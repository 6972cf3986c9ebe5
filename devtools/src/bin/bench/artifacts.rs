//! Building what is measured: the release binaries, as deployed, and the deployed zips.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use otp_devtools::lambda::{FUNCTIONS, lambda_bootstrap, target_dir};

/// What `sam build` builds (the Makefile's `LAMBDA_TARGET`).
pub(crate) const DEPLOYED_TARGET: &str = "aarch64-unknown-linux-musl";

/// Builds the functions (and, unless zipping, the baseline) for `target` with cargo lambda
/// into their own folder under the target directory (its default folder is shared by every
/// target's build), and returns that folder.
pub(crate) async fn lambda_build(root: &Path, target: &str, zip: bool) -> anyhow::Result<PathBuf> {
    let dir = target_dir(root).await?.join("bench").join(if zip {
        format!("{target}-zip")
    } else {
        target.to_owned()
    });
    let dir_arg = dir.to_str().context("target directory is not UTF-8")?;
    let mut args = vec!["lambda", "build", "--release", "--target", target];
    args.extend(FUNCTIONS.iter().flat_map(|name| ["-p", name]));
    args.extend(["--lambda-dir", dir_arg]);
    if zip {
        args.extend(["--output-format", "zip"]);
    }
    run_cargo(root, &args, target).await?;
    if !zip {
        // Built on their own: in one build, cargo would unify the features their dependencies
        // ask for with the functions' (metrique turns on tracing-subscriber's log bridge).
        let mut baseline = vec!["lambda", "build", "--release", "--target", target];
        baseline.extend(["-p", "lambda-baseline", "--lambda-dir", dir_arg]);
        run_cargo(root, &baseline, target).await?;
    }
    Ok(dir)
}

pub(crate) async fn run_cargo(root: &Path, args: &[&str], target: &str) -> anyhow::Result<()> {
    let status = tokio::process::Command::new("cargo")
        .args(args)
        .current_dir(root)
        .status()
        .await
        .context("cargo lambda (pip install cargo-lambda)")?;
    if !status.success() {
        bail!("cargo lambda build --target {target} failed");
    }
    Ok(())
}

pub(crate) async fn zip_sizes(root: &Path) -> anyhow::Result<Vec<(String, f64)>> {
    let dir = lambda_build(root, DEPLOYED_TARGET, true).await?;
    let mut sizes = Vec::new();
    for name in FUNCTIONS {
        let zip = lambda_bootstrap(&dir, name).with_extension("zip");
        sizes.push((name.to_owned(), std::fs::metadata(&zip)?.len() as f64 / 1e6));
    }
    Ok(sizes)
}
