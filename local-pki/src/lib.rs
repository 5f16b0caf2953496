//! A throwaway certificate authority for loopback set-ups and tests, and the digest that names a
//! client certificate in an access policy.
//!
//! Both the KMS (`--tls-self-signed`, mutual TLS) and the COS gateway generate a CA at start and
//! write its certificate where clients can trust it; tests issue client certificates from the same
//! kind of CA. An identity is the SHA-256 of the certificate's DER SubjectPublicKeyInfo (as in
//! KES): it survives re-issuing a certificate for the same key, and it is what a policy file holds.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::{CertificateDer, pem::PemObject as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// Bytes of an identity digest (SHA-256).
pub const DIGEST_LEN: usize = 32;

/// Errors of certificate generation and parsing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Generating a key or signing a certificate failed.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    /// The text holds no PEM certificate, or a malformed one.
    #[error("no valid PEM certificate: {0}")]
    Pem(String),
    /// The certificate does not parse as X.509.
    #[error("malformed certificate: {0}")]
    Certificate(String),
}

/// A generated certificate authority, able to issue server and client certificates.
pub struct LocalCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa").finish_non_exhaustive()
    }
}

/// A certificate and its private key, both PEM. The key is wiped from memory when dropped and
/// never printed.
pub struct Issued {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// The private key (PKCS#8 PEM).
    pub key_pem: Zeroizing<String>,
    /// The certificate (DER).
    pub cert_der: CertificateDer<'static>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Issued {
    /// The identity digest of this certificate (see [`spki_sha256`]).
    pub fn spki_sha256(&self) -> Result<[u8; DIGEST_LEN], Error> {
        spki_sha256(&self.cert_der)
    }
}

impl LocalCa {
    /// A new CA with a fresh P-256 key, named `common_name`.
    pub fn generate(common_name: &str) -> Result<Self, Error> {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name = named(common_name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        Ok(Self { issuer })
    }

    /// The CA certificate (PEM): what clients trust.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// The CA certificate (DER).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        self.issuer.der()
    }

    /// A server certificate for `localhost`, `127.0.0.1`, `::1` and `dns_names`.
    pub fn issue_server(&self, common_name: &str, dns_names: &[String]) -> Result<Issued, Error> {
        let mut names = vec!["localhost".to_owned()];
        names.extend(dns_names.iter().cloned());
        let mut params = CertificateParams::new(names)?;
        params.distinguished_name = named(common_name);
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate named `common_name` (for mutual TLS).
    pub fn issue_client(&self, common_name: &str) -> Result<Issued, Error> {
        let mut params = CertificateParams::default();
        params.distinguished_name = named(common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, mut params: CertificateParams) -> Result<Issued, Error> {
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: Zeroizing::new(key.serialize_pem()),
            cert_der: cert.der().clone(),
        })
    }
}

fn named(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// The identity digest of a certificate: SHA-256 of its DER SubjectPublicKeyInfo.
pub fn spki_sha256(cert_der: &CertificateDer<'_>) -> Result<[u8; DIGEST_LEN], Error> {
    let cert = webpki::EndEntityCert::try_from(cert_der)
        .map_err(|e| Error::Certificate(format!("{e:?}")))?;
    Ok(Sha256::digest(cert.subject_public_key_info().as_ref()).into())
}

/// The identity digest of the first certificate in a PEM text.
pub fn spki_sha256_of_pem(pem: &[u8]) -> Result<[u8; DIGEST_LEN], Error> {
    let der = CertificateDer::from_pem_slice(pem).map_err(|e| Error::Pem(e.to_string()))?;
    spki_sha256(&der)
}

#[cfg(test)]
mod tests {
    use rcgen::PublicKeyData as _;

    use super::*;

    /// The digest is the SHA-256 of the key pair's SPKI, as `openssl x509 -pubkey | openssl pkey
    /// -pubin -outform der | sha256sum` computes it, and stays the same for the PEM form.
    #[test]
    fn the_identity_digest_is_the_public_key_hash() {
        let ca = LocalCa::generate("test CA").unwrap();
        let client = ca.issue_client("storage").unwrap();
        let key = KeyPair::from_pem(&client.key_pem).unwrap();
        let want: [u8; DIGEST_LEN] = Sha256::digest(key.subject_public_key_info()).into();
        assert_eq!(client.spki_sha256().unwrap(), want);
        assert_eq!(
            spki_sha256_of_pem(client.cert_pem.as_bytes()).unwrap(),
            want
        );
        let other = ca.issue_client("storage").unwrap();
        assert_ne!(
            other.spki_sha256().unwrap(),
            want,
            "a new key is a new identity"
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(spki_sha256_of_pem(b"hello"), Err(Error::Pem(_))));
        let der = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        assert!(matches!(spki_sha256(&der), Err(Error::Certificate(_))));
    }

    #[test]
    fn the_private_key_is_not_printed() {
        let ca = LocalCa::generate("test CA").unwrap();
        let server = ca.issue_server("kms", &[]).unwrap();
        let shown = format!("{server:?}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        assert!(server.key_pem.contains("PRIVATE KEY"));
        assert!(!format!("{ca:?}").contains("PRIVATE"));
    }
}
