//! HTTPS (design.md "Identity and access": TLS (rustls) for anything beyond loopback): the PEM
//! certificate chain and private key given with `--tls-cert`/`--tls-key`, loaded at start
//! into a rustls server configuration (ring provider), and a listener for `axum::serve`
//! that hands it connections only once their handshake is done.
//!
//! Handshakes run in their own tasks (at most [`MAX_HANDSHAKES`] at once, each bounded by
//! [`HANDSHAKE_TIMEOUT`]), so a slow or silent client delays nobody else; a client that is
//! not speaking TLS (plain `http://` to this port) is dropped after its failed handshake.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::{ListenerExt, TapIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;

use crate::config::TlsFiles;
use crate::error::{Error, Result};

/// How long a client has to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; further connections wait to be accepted.
pub const MAX_HANDSHAKES: usize = 256;

/// Load the certificate chain and key into a server configuration (TLS 1.2 and 1.3, ring,
/// HTTP/1.1 by ALPN). Every failure is a `config.tls*` error naming the file.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>> {
    let cert_pem = read(&files.cert, "config.tls_cert", "TLS证书文件")?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| pem_error("config.tls_cert", "TLS证书文件", &files.cert, e))?;
    if certs.is_empty() {
        return Err(Error::invalid(
            "config.tls_cert",
            format!(
                "TLS证书文件{}中没有PEM格式的证书(应含 -----BEGIN CERTIFICATE----- 段)",
                files.cert.display()
            ),
        ));
    }
    let key_pem = read(&files.key, "config.tls_key", "TLS私钥文件")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => Error::invalid(
            "config.tls_key",
            format!(
                "TLS私钥文件{}中没有PEM格式的私钥(应含 -----BEGIN PRIVATE KEY----- 等段;不支持加密的私钥)",
                files.key.display()
            ),
        ),
        e => pem_error("config.tls_key", "TLS私钥文件", &files.key, e),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS配置失败:{e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            Error::invalid(
                "config.tls",
                format!(
                    "TLS证书{}与私钥{}不匹配或不受支持:{e}",
                    files.cert.display(),
                    files.key.display()
                ),
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read(path: &Path, code: &'static str, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| Error::invalid(code, format!("无法读取{what}{}:{e}", path.display())))
}

fn pem_error(code: &'static str, what: &str, path: &Path, e: pem::Error) -> Error {
    Error::invalid(
        code,
        format!("{what}{}不是有效的PEM文件:{e}", path.display()),
    )
}

/// The listener `axum::serve` takes for HTTPS. Wrapped in `TapIo` (with a no-op) because
/// axum provides `ConnectInfo<SocketAddr>` for a `TapIo` over any listener whose address
/// is a `SocketAddr`: the handlers' rate limits keep keying on the client's address.
pub type HttpsListener = TapIo<TlsListener, fn(&mut TlsStream<TcpStream>)>;

/// Serve TLS on a bound TCP listener.
pub fn listener(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<HttpsListener> {
    fn untouched(_: &mut TlsStream<TcpStream>) {}
    Ok(TlsListener::new(tcp, config)?.tap_io(untouched as fn(&mut TlsStream<TcpStream>)))
}

/// Accepts TCP connections and completes their handshakes in the background; `accept`
/// yields the connections that are ready.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), tx));
        Ok(TlsListener {
            local,
            ready,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // The server stopped (its task aborted or ended): stop accepting.
        self.acceptor.abort();
    }
}

async fn accept_loop(
    tcp: TcpListener,
    tls: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (stream, addr) = match tcp.accept().await {
            Ok(c) => c,
            Err(e) => {
                // As axum's own TCP listener: a connection that went away is nothing; other
                // errors (out of file descriptors) wait a moment before trying again.
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                ) {
                    tracing::error!("accept error: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                continue;
            }
        };
        if ready.is_closed() {
            return;
        }
        let tls = tls.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await;
            drop(permit);
            match handshake {
                Ok(Ok(stream)) => {
                    let _ = ready.send((stream, addr)).await;
                }
                Ok(Err(e)) => tracing::debug!(%addr, "TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept loop only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
