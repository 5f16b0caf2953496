//! `--embedded`: the real kms-server, in this process, on `127.0.0.1:0` in a temp dir.

use std::{net::SocketAddr, sync::Arc};

use kms_server::{
    Config, Kms, RootKey,
    secret::SecretBytes,
    server::{ServerOptions, serve},
    tencent::{Credentials, SecretPair},
};
use tokio::{sync::oneshot, task::JoinHandle};

use crate::BenchError;

/// The SecretId of the embedded server's Tencent API pair (the key is random per run).
const SECRET_ID: &str = "AKIDkmsbenchembedded";

/// A running in-process server; its data directory is removed when it stops.
#[derive(Debug)]
pub struct EmbeddedServer {
    addr: SocketAddr,
    tencent: crate::tencent::Pair,
    shutdown: oneshot::Sender<()>,
    handle: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl EmbeddedServer {
    /// Opens a fresh key store (random root key) and serves it on a free loopback port.
    pub async fn start() -> Result<Self, BenchError> {
        let err =
            |what: &str, e: &dyn std::fmt::Display| BenchError::Embedded(format!("{what}: {e}"));
        let dir = tempfile::tempdir().map_err(|e| err("temp dir", &e))?;
        let path = dir.path().to_path_buf();
        let kms = tokio::task::spawn_blocking(move || {
            let root = RootKey::load_or_create(&path.join("root.key"))?;
            Kms::open(Config::new(path, root))
        })
        .await
        .map_err(|e| err("open task", &e))?
        .map_err(|e| err("open", &e))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| err("bind 127.0.0.1:0", &e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| err("local address", &e))?;
        let secret_key: Vec<u8> = rand::random::<[u8; 32]>().to_vec();
        let tencent = crate::tencent::Pair {
            secret_id: SECRET_ID.to_owned(),
            secret_key: Arc::new(zeroize::Zeroizing::new(secret_key.clone())),
        };
        // Signatures are checked as with a configured pair, so the Tencent figures include them.
        let options = ServerOptions {
            tencent: Credentials::Pair(SecretPair {
                secret_id: SECRET_ID.to_owned(),
                secret_key: Arc::new(SecretBytes::new(secret_key)),
            }),
            ..ServerOptions::default()
        };
        let (shutdown, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            let stopped = async {
                let _ = rx.await;
            };
            if let Err(e) = serve(listener, Arc::new(kms), options, stopped).await {
                eprintln!("error: embedded server: {e}");
            }
        });
        Ok(Self {
            addr,
            tencent,
            shutdown,
            handle,
            _dir: dir,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The pair the server checks Tencent API signatures against.
    pub fn tencent_pair(&self) -> crate::tencent::Pair {
        self.tencent.clone()
    }

    /// Stops the server and waits for it to release the key store.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.handle.await;
    }
}
