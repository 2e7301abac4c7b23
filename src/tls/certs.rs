//! PEM certificates and keys, checked, chosen by SNI, reloaded on SIGHUP.
//!
//! Certificates and keys: read from PEM files, checked against each
//! other, chosen by the name the client asks for (SNI).

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

pub use crate::config::CertPair as Pair;

/// A loaded pair.
struct Loaded {
    key: Arc<CertifiedKey>,
}

impl Loaded {
    /// Whether the leaf certificate names `name`.
    fn serves(&self, name: &ServerName<'_>) -> bool {
        let Some(leaf) = self.key.cert.first() else {
            return false;
        };
        webpki::EndEntityCert::try_from(leaf)
            .is_ok_and(|ee| ee.verify_is_valid_for_subject_name(name).is_ok())
    }
}

/// The loaded pairs; the first is the default.
pub struct Certs {
    files: Vec<Pair>,
    provider: Arc<CryptoProvider>,
    // rustls asks from any thread it likes; this server has one, so the
    // lock is never contended. Swapped whole on reload.
    loaded: Mutex<Arc<Vec<Loaded>>>,
}

impl fmt::Debug for Certs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certs").field("files", &self.files).finish()
    }
}

impl Certs {
    /// Loads every pair, or says which file is wrong and how.
    pub fn load(files: &[Pair], provider: &Arc<CryptoProvider>) -> io::Result<Certs> {
        if files.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "HTTPS needs --tls-cert and --tls-key",
            ));
        }
        let loaded = files
            .iter()
            .map(|pair| load(pair, provider))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Certs {
            files: files.to_vec(),
            provider: provider.clone(),
            loaded: Mutex::new(Arc::new(loaded)),
        })
    }

    /// Loads every pair again; on any error the old set stays.
    pub fn reload(&self) -> io::Result<()> {
        let fresh = self
            .files
            .iter()
            .map(|pair| load(pair, &self.provider))
            .collect::<io::Result<Vec<_>>>()?;
        if let Ok(mut loaded) = self.loaded.lock() {
            *loaded = Arc::new(fresh);
        }
        Ok(())
    }
}

impl ResolvesServerCert for Certs {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let loaded = self.loaded.lock().ok()?.clone();
        if loaded.len() > 1
            && let Some(name) = hello.server_name()
            && let Ok(name) = ServerName::try_from(name)
            && let Some(pair) = loaded.iter().find(|pair| pair.serves(&name))
        {
            return Some(pair.key.clone());
        }
        loaded.first().map(|pair| pair.key.clone())
    }
}

/// Reads one pair and checks that the key belongs to the certificate.
/// Each error names the flag, the file, what is wrong and what to do.
fn load(pair: &Pair, provider: &CryptoProvider) -> io::Result<Loaded> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pair.cert)
        .and_then(Iterator::collect)
        .map_err(|e| pem_error("--tls-cert", &pair.cert, "certificate", e))?;
    if chain.is_empty() {
        return Err(pem_error(
            "--tls-cert",
            &pair.cert,
            "certificate",
            pem::Error::NoItemsFound,
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&pair.key)
        .map_err(|e| pem_error("--tls-key", &pair.key, "private key", e))?;
    let key = CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        let (key, cert) = (pair.key.display(), pair.cert.display());
        let why = match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => format!(
                "{key} does not go with {cert}: their public keys differ; give the key \
                 that was made with this certificate"
            ),
            e => format!("{key} cannot be used with {cert}: {e}"),
        };
        io::Error::new(io::ErrorKind::InvalidData, format!("--tls-key {why}"))
    })?;
    Ok(Loaded { key: Arc::new(key) })
}

/// A file that could not be read or held no `what`: the OS error with who
/// is asking, or what the file should hold.
fn pem_error(flag: &str, path: &Path, what: &str, e: pem::Error) -> io::Error {
    let file = path.display();
    let (kind, why) = match e {
        pem::Error::Io(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            let uid = crate::sys::uid();
            (
                e.kind(),
                format!(
                    "{e}: oneloop runs as uid {uid}, which cannot read it; make it readable \
                     by that uid (chown {uid} {file}, or chmod 0640 with a group it is in; \
                     in Kubernetes, the Secret volume's defaultMode 0440 and the pod's fsGroup)"
                ),
            )
        }
        pem::Error::Io(e) if e.kind() == io::ErrorKind::NotFound => (
            e.kind(),
            format!(
                "{e}: give the path of a PEM {what} (the README's HTTPS section makes a test pair)"
            ),
        ),
        pem::Error::Io(e) => (e.kind(), e.to_string()),
        pem::Error::NoItemsFound => (
            io::ErrorKind::InvalidData,
            format!("no {what} in this PEM file (a `-----BEGIN ...-----` block)"),
        ),
        e => (io::ErrorKind::InvalidData, format!("not a PEM {what}: {e}")),
    };
    io::Error::new(kind, format!("{flag} {file}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_file_names_the_uid_and_the_remedy() {
        let denied = pem::Error::Io(io::Error::from_raw_os_error(libc::EACCES));
        let e = pem_error(
            "--tls-key",
            Path::new("/tls/key.pem"),
            "private key",
            denied,
        );
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        let text = e.to_string();
        let uid = crate::sys::uid();
        assert!(
            text.starts_with("--tls-key /tls/key.pem: Permission denied"),
            "{text}"
        );
        assert!(text.contains(&format!("runs as uid {uid}")), "{text}");
        assert!(
            text.contains(&format!("chown {uid} /tls/key.pem")),
            "{text}"
        );
        assert!(text.contains("defaultMode"), "{text}");
    }
}
