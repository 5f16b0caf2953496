//! TLS: a server config from PEM files, or a generated CA and server certificate (`local-pki`) whose CA
//! file the user passes to the SDK (`VerifySSL='ca.pem'` in Python, `NODE_EXTRA_CA_CERTS` in Node).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A server TLS config from a certificate chain and a private key (PEM files).
pub fn server_config_from_files(
    cert: &Path,
    key: &Path,
) -> std::io::Result<Arc<rustls::ServerConfig>> {
    let bad = |what: &str, p: &Path, e: String| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{what} {}: {e}", p.display()),
        )
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("cannot read certificates from", cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("bad certificate in", cert, e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| bad("cannot read the private key from", key, e.to_string()))?;
    server_config(certs, key)
}

fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> std::io::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(std::io::Error::other)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Regions whose `*.cos.<region>.myqcloud.com` the generated certificate names.
pub const REGIONS: &[&str] = &[
    "ap-beijing",
    "ap-nanjing",
    "ap-shanghai",
    "ap-guangzhou",
    "ap-chengdu",
    "ap-chongqing",
    "ap-hongkong",
    "ap-singapore",
    "ap-jakarta",
    "ap-seoul",
    "ap-bangkok",
    "ap-tokyo",
    "ap-mumbai",
    "na-siliconvalley",
    "na-ashburn",
    "na-toronto",
    "sa-saopaulo",
    "eu-frankfurt",
    "eu-moscow",
];

/// A generated CA and a server certificate it signs.
#[derive(Debug)]
pub struct SelfSigned {
    /// The CA certificate (PEM): what clients trust.
    pub ca_pem: String,
    /// The server config presenting the server certificate.
    pub config: Arc<rustls::ServerConfig>,
}

/// Generates a CA and a server certificate for `localhost`, `127.0.0.1`, `::1`,
/// `*.cos.<region>.myqcloud.com` for the [`REGIONS`], and any extra DNS names.
pub fn self_signed(extra_names: &[String]) -> std::io::Result<SelfSigned> {
    let err = |e: local_pki::Error| std::io::Error::other(e.to_string());
    let ca = local_pki::LocalCa::generate("cos-gateway local CA").map_err(err)?;
    // The Node SDK in `Ip` mode verifies the certificate against the virtual-host name it puts in
    // `Host`, so the common regions' bucket names are covered.
    let mut names: Vec<String> = REGIONS
        .iter()
        .map(|r| format!("*.cos.{r}.myqcloud.com"))
        .collect();
    names.extend(extra_names.iter().cloned());
    let leaf = ca.issue_server("cos-gateway", &names).map_err(err)?;
    let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes())
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let config = server_config(vec![leaf.cert_der.clone(), ca.cert_der().clone()], key)?;
    Ok(SelfSigned {
        ca_pem: ca.cert_pem(),
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_files_load_and_bad_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = local_pki::LocalCa::generate("test CA").unwrap();
        let cert = ca.issue_server("gw", &[]).unwrap();
        let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&c, &cert.cert_pem).unwrap();
        std::fs::write(&k, cert.key_pem.as_bytes()).unwrap();
        server_config_from_files(&c, &k).unwrap();
        std::fs::write(&k, "not a key").unwrap();
        assert!(server_config_from_files(&c, &k).is_err());
        assert!(server_config_from_files(&dir.path().join("none"), &k).is_err());
    }

    #[test]
    fn self_signed_config_builds() {
        let s = self_signed(&["gw.example".into()]).unwrap();
        assert!(s.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(s.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
