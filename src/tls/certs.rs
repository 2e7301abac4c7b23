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
fn load(pair: &Pair, provider: &CryptoProvider) -> io::Result<Loaded> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pair.cert)
        .and_then(Iterator::collect)
        .map_err(|e| pem_error(&pair.cert, "certificate", e))?;
    if chain.is_empty() {
        return Err(invalid(&pair.cert, "no certificate in this PEM file"));
    }
    let key = PrivateKeyDer::from_pem_file(&pair.key)
        .map_err(|e| pem_error(&pair.key, "private key", e))?;
    let key = CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        invalid(
            &pair.key,
            &format!("does not go with {}: {e}", pair.cert.display()),
        )
    })?;
    Ok(Loaded { key: Arc::new(key) })
}

fn pem_error(path: &Path, what: &str, e: pem::Error) -> io::Error {
    match e {
        pem::Error::Io(e) => io::Error::new(e.kind(), format!("{}: {e}", path.display())),
        pem::Error::NoItemsFound => invalid(path, &format!("no {what} in this PEM file")),
        e => invalid(path, &format!("not a PEM {what}: {e}")),
    }
}

fn invalid(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {why}", path.display()),
    )
}
