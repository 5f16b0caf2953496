//! TLS and mutual TLS for the server: the flags, their checks (one-line errors), the server
//! certificate from PEM files or from a throwaway CA, the handshakes ([`accept`]), and the identity
//! digest of a verified client certificate.
//!
//! One listener serves gRPC (HTTP/2) and the Tencent Cloud API (HTTP/1.1), so the handshake offers
//! both in ALPN, `h2` first. tonic's own TLS offers only `h2`, and rustls then refuses a client
//! that asks for `http/1.1` alone (the Tencent SDKs and tccli over HTTPS) with
//! `no_application_protocol`: the server therefore runs the handshakes itself, each on its own task
//! within [`HANDSHAKE_TIMEOUT`], and hands tonic the finished TLS streams.
//!
//! Server certificate: `--tls-cert FILE --tls-key FILE` (PEM; the chain leaf first), or
//! `--tls-self-signed`: a fresh CA and a server certificate for `localhost`, `127.0.0.1`, `::1` and
//! every `--tls-name`, with the CA certificate written (atomically) to `--tls-ca-out`, by default
//! `<data-dir>/ca.pem`, for clients to trust. The CA's key lives only in memory: each start makes a
//! new one.
//!
//! Client certificates: `--tls-client-ca FILE` makes the server ask for a client certificate and
//! verify it against the CAs in FILE. A certificate that does not chain to them fails the
//! handshake. A client that presents none is still let in, so callers that authenticate with a
//! bearer token connect over the same port; what such a caller may do is the access policy's
//! business. `--tls-require-client-cert` makes a certificate mandatory at the handshake.
//! [`client_cert_digest`] names the verified certificate's identity (the SHA-256 of its public
//! key, as `cert_sha256` in a policy holds it).

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use futures::{Stream, StreamExt as _};
use local_pki::{DIGEST_LEN, LocalCa};
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};
use tokio_rustls::{TlsAcceptor, server::TlsStream};

use crate::limits::Connection;

/// Longest a TLS handshake may take: a client that connects and stays silent gives its
/// connection slot back after this long (after the handshake, the idle limit of
/// [`crate::limits::idle_limit`] does the same).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The application protocols the handshake offers, preferred first: gRPC's HTTP/2, then the
/// Tencent Cloud API's HTTP/1.1.
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Name of the CA certificate file `--tls-self-signed` writes in the data directory by default.
pub const DEFAULT_CA_FILE: &str = "ca.pem";

/// The TLS flags of `kms-server`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Server certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, env = "KMS_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "KMS_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Serve TLS with a CA and a server certificate generated at start (for localhost, 127.0.0.1,
    /// ::1 and every --tls-name); the CA certificate is written to --tls-ca-out.
    #[arg(long)]
    pub tls_self_signed: bool,
    /// Extra DNS name of the --tls-self-signed certificate (repeatable).
    #[arg(long = "tls-name", value_name = "DNS_NAME")]
    pub tls_names: Vec<String>,
    /// Where --tls-self-signed writes its CA certificate. Default: <data-dir>/ca.pem.
    #[arg(long, value_name = "FILE")]
    pub tls_ca_out: Option<PathBuf>,
    /// CA certificates (PEM) that client certificates must chain to (mutual TLS). A client
    /// certificate is then optional, so bearer-token callers still connect, unless
    /// --tls-require-client-cert is given.
    #[arg(long, env = "KMS_TLS_CLIENT_CA", value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// Refuse, at the handshake, clients without a certificate from --tls-client-ca.
    #[arg(long)]
    pub tls_require_client_cert: bool,
}

/// Errors of the TLS set-up. Each reads as one line naming the flag and the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// `--tls-cert` without `--tls-key`.
    #[error("--tls-cert needs --tls-key (the certificate's private key, PEM)")]
    CertWithoutKey,
    /// `--tls-key` without `--tls-cert`.
    #[error("--tls-key needs --tls-cert (the certificate chain, PEM)")]
    KeyWithoutCert,
    /// Both a certificate and `--tls-self-signed`.
    #[error("--tls-cert and --tls-self-signed exclude each other: give one")]
    TwoCertificates,
    /// A flag that only means something with `--tls-self-signed`.
    #[error("{0} applies only to --tls-self-signed")]
    SelfSignedOnly(&'static str),
    /// `--tls-client-ca` on a plain-text server.
    #[error("--tls-client-ca needs TLS: add --tls-cert and --tls-key, or --tls-self-signed")]
    ClientCaWithoutTls,
    /// `--tls-require-client-cert` without a CA to verify against.
    #[error("--tls-require-client-cert needs --tls-client-ca")]
    RequireWithoutClientCa,
    /// A file could not be read.
    #[error("cannot read {flag} file {}: {source}", path.display())]
    Read {
        /// The flag that named the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no certificate, or a malformed PEM block.
    #[error("{flag} file {} holds no PEM certificate", path.display())]
    NoCertificate {
        /// The flag that named the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key.
    #[error("--tls-key file {} holds no PEM private key", path.display())]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// The files parse but do not make a TLS configuration (e.g. the key is not the
    /// certificate's, or a client CA is not a usable trust anchor).
    #[error("TLS set-up refused: {0}")]
    Refused(String),
    /// The self-signed CA or server certificate could not be generated.
    #[error("cannot generate the --tls-self-signed certificates: {0}")]
    Generate(#[from] local_pki::Error),
    /// The CA certificate could not be written.
    #[error("cannot write the CA certificate to {}: {source}", path.display())]
    WriteCa {
        /// The destination.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A checked TLS set-up, ready for the server.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The rustls configuration (certificate, client verifier, [`ALPN_PROTOCOLS`]).
    pub config: Arc<rustls::ServerConfig>,
    /// Where `--tls-self-signed` wrote its CA certificate.
    pub ca_written: Option<PathBuf>,
    /// Whether client certificates are asked for, and whether they are required.
    pub client_auth: ClientAuth,
}

/// What the handshake asks of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate is asked for.
    None,
    /// A certificate is verified if presented; clients without one connect too.
    Optional,
    /// A verified certificate is required.
    Required,
}

impl TlsArgs {
    /// Checks the combination of flags (not the files): cheap, so `main` calls it before anything
    /// else starts.
    pub fn check(&self) -> Result<(), TlsError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => return Err(TlsError::CertWithoutKey),
            (None, Some(_)) => return Err(TlsError::KeyWithoutCert),
            _ => {}
        }
        if self.tls_cert.is_some() && self.tls_self_signed {
            return Err(TlsError::TwoCertificates);
        }
        if !self.tls_self_signed {
            if !self.tls_names.is_empty() {
                return Err(TlsError::SelfSignedOnly("--tls-name"));
            }
            if self.tls_ca_out.is_some() {
                return Err(TlsError::SelfSignedOnly("--tls-ca-out"));
            }
        }
        let tls = self.tls_cert.is_some() || self.tls_self_signed;
        if self.tls_client_ca.is_some() && !tls {
            return Err(TlsError::ClientCaWithoutTls);
        }
        if self.tls_require_client_cert && self.tls_client_ca.is_none() {
            return Err(TlsError::RequireWithoutClientCa);
        }
        Ok(())
    }

    /// The TLS set-up the flags ask for, `None` for plain text. Reads the files, or generates the
    /// certificates and writes the CA (default `<data_dir>/ca.pem`).
    pub fn load(&self, data_dir: &Path) -> Result<Option<ServerTls>, TlsError> {
        self.check()?;
        let ((chain, key), ca_written) =
            if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
                (identity_from_files(cert, key)?, None)
            } else if self.tls_self_signed {
                let ca_out = self
                    .tls_ca_out
                    .clone()
                    .unwrap_or_else(|| data_dir.join(DEFAULT_CA_FILE));
                (self_signed(&self.tls_names, &ca_out)?, Some(ca_out))
            } else {
                return Ok(None);
            };
        let refused = |e: &dyn std::error::Error| TlsError::Refused(error_chain(e));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| refused(&e))?;
        let (builder, client_auth) = match &self.tls_client_ca {
            None => (builder.with_no_client_auth(), ClientAuth::None),
            Some(path) => {
                let pem = read("--tls-client-ca", path)?;
                let mut roots = rustls::RootCertStore::empty();
                for cert in certificates("--tls-client-ca", path, &pem)? {
                    roots.add(cert).map_err(|e| refused(&e))?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider);
                let (verifier, client_auth) = if self.tls_require_client_cert {
                    (verifier, ClientAuth::Required)
                } else {
                    (verifier.allow_unauthenticated(), ClientAuth::Optional)
                };
                let verifier = verifier.build().map_err(|e| refused(&e))?;
                (builder.with_client_cert_verifier(verifier), client_auth)
            }
        };
        // rustls checks here that the key is the certificate's.
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| refused(&e))?;
        config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
        Ok(Some(ServerTls {
            config: Arc::new(config),
            ca_written,
            client_auth,
        }))
    }
}

/// The connections of `incoming` after their TLS handshake with `config`. Each handshake runs on
/// its own task, so a slow or silent client holds up nobody else; one that fails or takes longer
/// than [`HANDSHAKE_TIMEOUT`] is dropped (logged at debug), with its connection slot. The stream
/// ends when `incoming` does; once the stream is dropped, the listener is dropped too.
pub fn accept(
    incoming: impl Stream<Item = std::io::Result<Connection>> + Send + 'static,
    config: Arc<rustls::ServerConfig>,
) -> impl Stream<Item = std::io::Result<TlsStream<Connection>>> + Send {
    // Enough room that finished handshakes never wait for the server loop in practice; a full
    // channel only delays them, it loses none.
    const READY_QUEUE: usize = 64;
    let acceptor = TlsAcceptor::from(config);
    let (ready, ready_rx) = tokio::sync::mpsc::channel(READY_QUEUE);
    tokio::spawn(async move {
        let mut incoming = std::pin::pin!(incoming);
        loop {
            let next = tokio::select! {
                next = incoming.next() => next,
                () = ready.closed() => break,
            };
            let connection = match next {
                None => break,
                Some(Err(e)) => {
                    // Accept errors (too many open files) go to the server loop, which logs them.
                    if ready.send(Err(e)).await.is_err() {
                        break;
                    }
                    continue;
                }
                Some(Ok(connection)) => connection,
            };
            let (acceptor, ready) = (acceptor.clone(), ready.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(connection)).await {
                    Ok(Ok(stream)) => {
                        let _ = ready.send(Ok(stream)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(ready_rx)
}

/// The identity digest (SHA-256 of the SubjectPublicKeyInfo, see [`local_pki::spki_sha256`]) of
/// the client certificate the handshake verified, or `None` when the call came without one (plain
/// text, no `--tls-client-ca`, or a client that presented none).
pub fn client_cert_digest<T>(req: &tonic::Request<T>) -> Option<[u8; DIGEST_LEN]> {
    chain_digest(req.peer_certs()?)
}

/// A verified client certificate chain, as every call of its connection carries it (one `Arc`).
type Chain = Arc<Vec<CertificateDer<'static>>>;

/// Chains whose digests each worker thread remembers: about the connections it serves at once.
const REMEMBERED_CHAINS: usize = 8;

thread_local! {
    /// The last chains this thread saw and their digests, newest first. Each chain is held, so
    /// its address cannot be reused by another connection's chain while it is remembered.
    static CHAIN_DIGESTS: std::cell::RefCell<std::collections::VecDeque<(Chain, Option<[u8; DIGEST_LEN]>)>> =
        const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
}

/// The leaf's digest, parsed and hashed once per connection rather than per call: a chain this
/// thread saw recently (the same `Arc`, the same connection) gives the digest it gave then.
fn chain_digest(chain: Chain) -> Option<[u8; DIGEST_LEN]> {
    CHAIN_DIGESTS.with_borrow_mut(|seen| {
        if let Some((_, digest)) = seen.iter().find(|(c, _)| Arc::ptr_eq(c, &chain)) {
            return *digest;
        }
        let digest = chain
            .first()
            .and_then(|leaf| local_pki::spki_sha256(leaf).ok());
        seen.truncate(REMEMBERED_CHAINS - 1);
        seen.push_front((chain, digest));
        digest
    })
}

/// A certificate chain and its private key.
type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn identity_from_files(cert: &Path, key: &Path) -> Result<Identity, TlsError> {
    let cert_pem = read("--tls-cert", cert)?;
    let chain = certificates("--tls-cert", cert, &cert_pem)?;
    let key_pem = zeroize::Zeroizing::new(read("--tls-key", key)?);
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::NoPrivateKey {
        path: key.to_owned(),
    })?;
    Ok((chain, key))
}

/// Generates a CA and a server certificate, writes the CA to `ca_out`, and returns the server's
/// identity.
fn self_signed(names: &[String], ca_out: &Path) -> Result<Identity, TlsError> {
    let ca = LocalCa::generate("kms-server local CA")?;
    let server = ca.issue_server("kms-server", names)?;
    write_atomically(ca_out, ca.cert_pem().as_bytes()).map_err(|source| TlsError::WriteCa {
        path: ca_out.to_owned(),
        source,
    })?;
    let generated =
        |e: &dyn std::fmt::Display| TlsError::Refused(format!("generated certificate: {e}"));
    let chain = CertificateDer::pem_slice_iter(server.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| generated(&e))?;
    let key =
        PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes()).map_err(|e| generated(&e))?;
    Ok((chain, key))
}

fn read(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        flag,
        path: path.to_owned(),
        source,
    })
}

/// The certificates of a PEM text; none, or a malformed block, is an error.
fn certificates(
    flag: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::NoCertificate {
            flag,
            path: path.to_owned(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            flag,
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// Mode of the CA certificate written for clients: anyone may read it (it is public), only the
/// owner may change it, whatever the umask (a trust anchor others could write is theirs).
const CA_FILE_MODE: u32 = 0o644;

/// Writes `bytes` to `path` so a reader sees the old file or the whole new one: a temporary file
/// in the same directory, created new (never one already there, nor through a link) with
/// [`CA_FILE_MODE`], fsync, rename over `path`, fsync of the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, CA_FILE_MODE);
    // Whatever is already there (a leftover, a planted link) is neither used nor removed.
    let mut file = options.open(&tmp)?;
    let written = (|| {
        // The umask may have taken bits away from the mode above; none is added beyond it.
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(CA_FILE_MODE))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        // Best effort, on the file this call made: the error that matters is the write's.
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    crate::private_fs::sync_dir(dir)
}

/// An error and its sources on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        line.push_str(": ");
        line.push_str(&e.to_string());
        source = e.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection's chain is parsed once per thread; another connection's chain, even with the
    /// same certificate, is its own entry; the thread remembers at most `REMEMBERED_CHAINS`.
    #[test]
    fn a_chain_is_hashed_once_and_told_apart_from_others() {
        let ca = LocalCa::generate("test CA").expect("a CA");
        let client = |name| ca.issue_client(name).expect("a client certificate");
        let (a, b) = (client("a"), client("b"));
        let chain = |issued: &local_pki::Issued| Arc::new(vec![issued.cert_der.clone()]);
        let (want_a, want_b) = (a.spki_sha256().expect("a"), b.spki_sha256().expect("b"));
        assert_ne!(want_a, want_b);
        let first = chain(&a);
        assert_eq!(chain_digest(first.clone()), Some(want_a));
        assert_eq!(chain_digest(first.clone()), Some(want_a));
        assert_eq!(chain_digest(chain(&b)), Some(want_b));
        assert_eq!(chain_digest(chain(&a)), Some(want_a));
        CHAIN_DIGESTS.with_borrow(|seen| assert_eq!(seen.len(), 3, "one entry per connection"));
        assert_eq!(chain_digest(Arc::new(Vec::new())), None);
        let garbage = Arc::new(vec![CertificateDer::from(vec![0x30, 0x00])]);
        assert_eq!(chain_digest(garbage), None);
        for _ in 0..2 * REMEMBERED_CHAINS {
            assert_eq!(chain_digest(chain(&b)), Some(want_b));
        }
        CHAIN_DIGESTS.with_borrow(|seen| {
            assert_eq!(seen.len(), REMEMBERED_CHAINS);
            assert!(!seen.iter().any(|(c, _)| Arc::ptr_eq(c, &first)));
        });
        assert_eq!(chain_digest(first), Some(want_a));
    }

    fn args() -> TlsArgs {
        TlsArgs::default()
    }

    fn p(s: &str) -> Option<PathBuf> {
        Some(PathBuf::from(s))
    }

    /// Every bad combination of flags, with the exact line the user reads.
    #[test]
    fn flag_combinations_are_checked_with_one_line_errors() {
        let cases = [
            (
                TlsArgs {
                    tls_cert: p("c.pem"),
                    ..args()
                },
                "--tls-cert needs --tls-key (the certificate's private key, PEM)",
            ),
            (
                TlsArgs {
                    tls_key: p("k.pem"),
                    ..args()
                },
                "--tls-key needs --tls-cert (the certificate chain, PEM)",
            ),
            (
                TlsArgs {
                    tls_cert: p("c.pem"),
                    tls_key: p("k.pem"),
                    tls_self_signed: true,
                    ..args()
                },
                "--tls-cert and --tls-self-signed exclude each other: give one",
            ),
            (
                TlsArgs {
                    tls_names: vec!["kms.internal".into()],
                    ..args()
                },
                "--tls-name applies only to --tls-self-signed",
            ),
            (
                TlsArgs {
                    tls_cert: p("c.pem"),
                    tls_key: p("k.pem"),
                    tls_ca_out: p("ca.pem"),
                    ..args()
                },
                "--tls-ca-out applies only to --tls-self-signed",
            ),
            (
                TlsArgs {
                    tls_client_ca: p("ca.pem"),
                    ..args()
                },
                "--tls-client-ca needs TLS: add --tls-cert and --tls-key, or --tls-self-signed",
            ),
            (
                TlsArgs {
                    tls_self_signed: true,
                    tls_require_client_cert: true,
                    ..args()
                },
                "--tls-require-client-cert needs --tls-client-ca",
            ),
        ];
        for (a, want) in cases {
            assert_eq!(a.check().unwrap_err().to_string(), want);
            let dir = tempfile::tempdir().unwrap();
            assert_eq!(a.load(dir.path()).unwrap_err().to_string(), want);
        }
        assert!(args().load(Path::new("/nonexistent")).unwrap().is_none());
    }

    /// Missing, empty, garbage and mismatched files each say which flag and which file.
    #[test]
    fn bad_files_are_refused_with_the_flag_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::generate("test CA").unwrap();
        let server = ca.issue_server("kms", &[]).unwrap();
        let other = ca.issue_server("kms", &[]).unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let cert = write("cert.pem", &server.cert_pem);
        let key = write("key.pem", &server.key_pem);
        let other_key = write("other.key", &other.key_pem);
        let garbage = write("garbage.pem", "not PEM at all");
        let missing = dir.path().join("missing.pem");
        let files = |c: &Path, k: &Path| TlsArgs {
            tls_cert: Some(c.to_owned()),
            tls_key: Some(k.to_owned()),
            ..args()
        };
        let err = |a: TlsArgs| a.load(dir.path()).unwrap_err().to_string();

        assert_eq!(
            err(files(&missing, &key)),
            format!(
                "cannot read --tls-cert file {}: No such file or directory (os error 2)",
                missing.display()
            )
        );
        assert_eq!(
            err(files(&garbage, &key)),
            format!(
                "--tls-cert file {} holds no PEM certificate",
                garbage.display()
            )
        );
        assert_eq!(
            err(files(&cert, &cert)),
            format!("--tls-key file {} holds no PEM private key", cert.display())
        );
        let mismatch = err(files(&cert, &other_key));
        assert!(mismatch.starts_with("TLS set-up refused: "), "{mismatch}");
        assert!(!mismatch.contains('\n'), "{mismatch}");
        assert_eq!(
            err(TlsArgs {
                tls_client_ca: Some(garbage.clone()),
                ..files(&cert, &key)
            }),
            format!(
                "--tls-client-ca file {} holds no PEM certificate",
                garbage.display()
            )
        );

        let tls = files(&cert, &key).load(dir.path()).unwrap().unwrap();
        assert_eq!(tls.client_auth, ClientAuth::None);
        assert_eq!(tls.ca_written, None);
        let ca_file = write("ca.pem", &ca.cert_pem());
        let mutual = TlsArgs {
            tls_client_ca: Some(ca_file.clone()),
            ..files(&cert, &key)
        };
        assert_eq!(
            mutual.load(dir.path()).unwrap().unwrap().client_auth,
            ClientAuth::Optional
        );
        let required = TlsArgs {
            tls_require_client_cert: true,
            ..mutual
        };
        assert_eq!(
            required.load(dir.path()).unwrap().unwrap().client_auth,
            ClientAuth::Required
        );
    }

    #[test]
    fn self_signed_writes_its_ca_atomically_where_asked() {
        let dir = tempfile::tempdir().unwrap();
        let a = TlsArgs {
            tls_self_signed: true,
            ..args()
        };
        let tls = a.load(dir.path()).unwrap().unwrap();
        let default_out = dir.path().join(DEFAULT_CA_FILE);
        assert_eq!(tls.ca_written.as_deref(), Some(default_out.as_path()));
        let first = std::fs::read(&default_out).unwrap();
        assert!(first.starts_with(b"-----BEGIN CERTIFICATE-----"));
        // A new start replaces the file with a new CA, and leaves no temporary file behind.
        a.load(dir.path()).unwrap();
        assert_ne!(std::fs::read(&default_out).unwrap(), first);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(DEFAULT_CA_FILE)]);

        let out = dir.path().join("elsewhere.pem");
        let tls = TlsArgs {
            tls_ca_out: Some(out.clone()),
            tls_names: vec!["kms.internal".into()],
            ..a.clone()
        }
        .load(dir.path())
        .unwrap()
        .unwrap();
        assert_eq!(tls.ca_written, Some(out.clone()));
        local_pki::spki_sha256_of_pem(&std::fs::read(&out).unwrap()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, CA_FILE_MODE);
            // A link planted where the temporary file goes is not written through.
            let victim = dir.path().join("victim");
            std::fs::write(&victim, b"mine").unwrap();
            let planted = dir
                .path()
                .join(format!(".elsewhere.pem.tmp-{}", std::process::id()));
            std::os::unix::fs::symlink(&victim, &planted).unwrap();
            let e = TlsArgs {
                tls_ca_out: Some(out.clone()),
                ..a.clone()
            }
            .load(dir.path())
            .unwrap_err();
            assert!(e.to_string().contains("File exists"), "{e}");
            assert_eq!(std::fs::read(&victim).unwrap(), b"mine");
            std::fs::remove_file(&planted).unwrap();
        }

        let unwritable = dir.path().join("no-such-dir").join("ca.pem");
        let e = TlsArgs {
            tls_ca_out: Some(unwritable.clone()),
            ..a
        }
        .load(dir.path())
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            format!(
                "cannot write the CA certificate to {}: No such file or directory (os error 2)",
                unwritable.display()
            )
        );
    }
}
