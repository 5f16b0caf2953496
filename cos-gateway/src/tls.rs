//! TLS: a server config from PEM files, or a generated CA and server certificate (rcgen) whose CA
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
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose, SanType,
    };
    let err = |e: rcgen::Error| std::io::Error::other(e.to_string());
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::CommonName, "cos-gateway local CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let issuer = rcgen::Issuer::new(ca, ca_key);

    let mut names = vec!["localhost".to_owned()];
    // The Node SDK in `Ip` mode verifies the certificate against the virtual-host name it puts in
    // `Host`, so the common regions' bucket names are covered.
    names.extend(REGIONS.iter().map(|r| format!("*.cos.{r}.myqcloud.com")));
    names.extend(extra_names.iter().cloned());
    let mut leaf = CertificateParams::new(names).map_err(err)?;
    leaf.distinguished_name = DistinguishedName::new();
    leaf.distinguished_name
        .push(DnType::CommonName, "cos-gateway");
    leaf.subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    leaf.subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_key = KeyPair::generate().map_err(err)?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(err)?;
    let key = PrivateKeyDer::try_from(leaf_key.serialize_der()).map_err(std::io::Error::other)?;
    let config = server_config(vec![leaf_cert.der().clone(), ca_cert.der().clone()], key)?;
    Ok(SelfSigned {
        ca_pem: ca_cert.pem(),
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_files_load_and_bad_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
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
