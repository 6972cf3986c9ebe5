//! Local stand-ins for the AWS and Plivo parts of the service, used by the test suite and by
//! the local stack. None of this ships in the functions.

pub mod apigw;
pub mod dynalite;
pub mod dynamodb_proxy;
pub mod edge;
pub mod lambda;
pub mod moto;
pub mod plivo_sandbox;
pub mod request_counter;
pub mod runtime_api;
pub mod table;

use std::path::{Path, PathBuf};

/// The repository root (the workspace this crate belongs to).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("devtools sits inside the workspace")
        .to_path_buf()
}

/// A random lowercase hex string of `bytes` bytes, for request ids and the like.
pub fn random_hex(bytes: usize) -> String {
    use rand::Rng;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh 2048-bit RSA private key, PKCS#8 DER in base64: what `OTP_TOKEN_SIGNING_KEY` takes.
pub fn rsa_signing_key() -> anyhow::Result<String> {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    use base64::Engine;
    let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| anyhow::anyhow!("could not generate an RSA key"))?;
    let der: Pkcs8V1Der = key
        .as_der()
        .map_err(|_| anyhow::anyhow!("could not encode the RSA key"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(der.as_ref()))
}
