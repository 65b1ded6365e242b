//! Extra trusted roots for HTTPS servers with a private CA (`ca_file`), and readable TLS
//! failures.
//!
//! The system roots stay trusted; the PEM file's certificates are added to them.

use std::path::{Path, PathBuf};

use cloudsync_engine::remote::RemoteError;

/// Why a CA file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    /// The file cannot be read.
    #[error("cannot read CA file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not PEM, or a certificate in it is malformed.
    #[error("CA file {} is not a valid PEM certificate bundle: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file holds no `BEGIN CERTIFICATE` block.
    #[error("CA file {} holds no PEM certificate", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

impl From<CaFileError> for RemoteError {
    fn from(e: CaFileError) -> Self {
        RemoteError::Other(e.to_string())
    }
}

/// The certificates of the PEM file at `path` (one or more `BEGIN CERTIFICATE` blocks),
/// checked by building a TLS client that trusts them.
///
/// # Errors
/// [`CaFileError`] when the file cannot be read or holds no valid certificate.
pub fn load_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, CaFileError> {
    let pem = std::fs::read(path).map_err(|source| CaFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |reason: String| CaFileError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let certs =
        reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| invalid(super::error_chain(&e)))?;
    if certs.is_empty() {
        return Err(CaFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    // The PEM parser accepts any base64 as DER; the verifier is what checks it.
    reqwest::Client::builder()
        .tls_certs_merge(certs.clone())
        .build()
        .map_err(|e| invalid(super::error_chain(&e)))?;
    Ok(certs)
}

/// True when an error chain is a certificate verification failure (not worth retrying:
/// the server's certificate will not change by itself).
pub(crate) fn is_certificate_error(chain: &str) -> bool {
    let c = chain.to_ascii_lowercase();
    c.contains("certificate") || c.contains("unknownissuer")
}
