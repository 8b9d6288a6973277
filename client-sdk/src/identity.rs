//! The endpoint's TLS identity (draft §6.1: "report SHA256 fingerprint of local TLS
//! certificate"): a certificate and its key, and the SHA-256 fingerprint that signaling
//! carries as `tlsFingerprintSHA256`.
//!
//! The same identity authenticates the endpoint to SFUs (mutual TLS over QUIC) and to TURN2
//! relays (mutual TLS over TCP), so a relay allocation and a conference admission name one
//! fingerprint.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use thiserror::Error;

/// Why an identity could not be made or loaded.
#[derive(Debug, Error)]
pub enum IdentityError {
    /// Generating a self-signed certificate failed.
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A PEM file could not be read or holds no usable item.
    #[error("cannot read {path}: {reason}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A certificate chain without a certificate.
    #[error("the certificate chain is empty")]
    EmptyChain,
}

/// A SHA-256 certificate fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a certificate's DER bytes.
    pub fn of(cert: &CertificateDer<'_>) -> Self {
        Self(Sha256::digest(cert.as_ref()).into())
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lower-case hex digits, the form the controller and the SFU admin API take.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for Fingerprint {
    /// 32 colon-separated upper-case hex pairs, as logs and signaling show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl From<[u8; 32]> for Fingerprint {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

/// A certificate chain (end-entity first) and the end-entity's private key.
pub struct Identity {
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    fingerprint: Fingerprint,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key.
        f.debug_struct("Identity")
            .field("fingerprint", &self.fingerprint)
            .field("chain_len", &self.cert_chain.len())
            .finish_non_exhaustive()
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self {
            cert_chain: self.cert_chain.clone(),
            key: self.key.clone_key(),
            fingerprint: self.fingerprint,
        }
    }
}

impl Identity {
    /// A fresh self-signed ECDSA P-256 certificate. Endpoints need no CA: peers pin the
    /// fingerprint that signaling carries.
    pub fn self_signed() -> Result<Self, IdentityError> {
        let certified = rcgen::generate_simple_self_signed(vec!["newmedia-client".into()])?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        Self::from_parts(vec![certified.cert.der().clone()], key).ok_or(IdentityError::EmptyChain)
    }

    /// An identity from a chain (end-entity first) and its key; `None` for an empty chain.
    pub fn from_parts(
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Option<Self> {
        let fingerprint = Fingerprint::of(cert_chain.first()?);
        Some(Self {
            cert_chain,
            key,
            fingerprint,
        })
    }

    /// Reads a PEM certificate chain and a PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, IdentityError> {
        use rustls::pki_types::pem::PemObject;
        let pem_err = |path: &Path, reason: String| IdentityError::Pem {
            path: path.display().to_string(),
            reason,
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| pem_err(cert, e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_err(cert, e.to_string()))?;
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_err(key, e.to_string()))?;
        Self::from_parts(chain, key_der).ok_or(IdentityError::EmptyChain)
    }

    /// The chain and the key as PEM text (`CERTIFICATE` blocks, one `PRIVATE KEY` block), the
    /// form [`Identity::from_pem_files`] reads.
    pub fn to_pem(&self) -> (String, String) {
        let certs = self
            .cert_chain
            .iter()
            .map(|c| pem_block("CERTIFICATE", c.as_ref()))
            .collect();
        let key = pem_block("PRIVATE KEY", self.key.secret_der());
        (certs, key)
    }

    /// Loads `dir/cert.pem` and `dir/key.pem`, or, when `dir/cert.pem` does not exist, makes a
    /// self-signed identity and writes them there (the key file readable by the owner only),
    /// so an app keeps one fingerprint across restarts.
    pub fn load_or_create(dir: &Path) -> Result<Self, IdentityError> {
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        if cert.exists() {
            return Self::from_pem_files(&cert, &key);
        }
        let identity = Self::self_signed()?;
        let (cert_pem, key_pem) = identity.to_pem();
        let io_err = |path: &Path, e: std::io::Error| IdentityError::Pem {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        write_private(&key, key_pem.as_bytes()).map_err(|e| io_err(&key, e))?;
        std::fs::write(&cert, cert_pem).map_err(|e| io_err(&cert, e))?;
        Ok(identity)
    }

    /// The SHA-256 fingerprint of the end-entity certificate.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The certificate chain, end-entity first.
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.cert_chain
    }

    /// The private key.
    pub fn key(&self) -> &PrivateKeyDer<'static> {
        &self.key
    }
}

fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_identities_differ_and_fingerprint_the_leaf() {
        let a = Identity::self_signed().unwrap();
        let b = Identity::self_signed().unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), Fingerprint::of(&a.cert_chain()[0]));
        assert_eq!(a.fingerprint().to_hex().len(), 64);
        assert_eq!(a.fingerprint().to_string().len(), 95);
        assert!(!format!("{a:?}").contains("key:"));
    }

    #[test]
    fn pem_round_trips_and_load_or_create_keeps_the_fingerprint() {
        let dir = std::env::temp_dir().join(format!("nm-identity-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = Identity::load_or_create(&dir).unwrap();
        let again = Identity::load_or_create(&dir).unwrap();
        assert_eq!(first.fingerprint(), again.fingerprint());
        assert_eq!(first.key().secret_der(), again.key().secret_der());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
