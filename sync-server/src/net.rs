//! Connections: what one client may hold of the server before a request reaches a handler.
//!
//! - At most [`NetLimits::max_connections`] connections at once; further ones wait in the
//!   kernel's backlog until one closes. The open-file limit is raised at start where the
//!   hard limit allows ([`raise_open_file_limit`]) and the cap kept below it, so the server
//!   never runs out of descriptors and `accept` keeps working.
//! - HTTP/1.1 with a header timeout that also covers a silent new socket and an idle
//!   keep-alive connection (hyper's `header_read_timeout` runs whenever the connection
//!   waits for a request head), a body timeout between the frames of a request body
//!   (tower-http), and a write timeout for a client that stops reading its answer.
//! - The client's address for rate limits: the peer, or, when the peer is a configured
//!   trusted proxy, the nearest untrusted address of `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Descriptors kept free for the database files, logs and the listener.
const RESERVED_FILES: u64 = 64;

/// Connection limits and timeouts (`serve` flags; tests set short ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetLimits {
    pub max_connections: usize,
    /// A request head must arrive within this, on a new connection or between requests.
    pub header_timeout: Duration,
    /// The longest pause between the parts of a request body.
    pub body_timeout: Duration,
    /// The longest a client may leave its answer unread.
    pub write_timeout: Duration,
}

impl Default for NetLimits {
    fn default() -> Self {
        NetLimits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(15),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(60),
        }
    }
}

/// Proxies whose `X-Forwarded-For` the server believes (`--trusted-proxy`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    /// Parse a comma-separated list of addresses or networks (`127.0.0.1,10.0.0.0/8`).
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| s.to_owned())
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// Whether `ip` is inside a trusted proxy's network.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: the peer, unless the peer is trusted, then the nearest
    /// address of `X-Forwarded-For` (read right to left) that is not a trusted proxy. An
    /// unreadable entry stops the walk at the last trusted hop (stricter, never looser).
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer.ip());
        if !self.trusts(client) {
            return client;
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = canonical(ip);
                    if !self.trusts(client) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Raise the soft open-file limit to the hard one; returns the limit in force.
pub fn raise_open_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("cannot raise the open-file limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

/// How many connections to allow with `open_files` descriptors.
pub fn connection_cap(limits: &NetLimits, open_files: u64) -> usize {
    let fit = open_files.saturating_sub(RESERVED_FILES).max(8);
    limits.max_connections.min(fit as usize).max(1)
}

/// Serve `router` on `listener` until the task is dropped.
pub async fn serve<L>(mut listener: L, router: Router, limits: NetLimits) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let cap = connection_cap(&limits, raise_open_file_limit());
    tracing::info!(connections = cap, "accepting connections");
    let permits = Arc::new(Semaphore::new(cap));
    let router = router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        limits.body_timeout,
    ));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return Ok(());
        };
        let (io, addr) = listener.accept().await;
        let router = router.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            let mut io = tokio_io_timeout::TimeoutStream::new(io);
            io.set_write_timeout(Some(limits.write_timeout));
            let io = TokioIo::new(Box::pin(io));
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(addr));
                let router = router.clone();
                router.oneshot(req.map(Body::new))
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(io, service)
                .await;
            if let Err(e) = served {
                tracing::debug!(%addr, "connection closed: {e}");
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxy: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let stranger: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        let none = TrustedProxies::default();
        let trusted = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").unwrap();
        let h = headers("198.51.100.7, 10.0.0.2");
        assert_eq!(none.client_ip(proxy, &h), proxy.ip());
        assert_eq!(trusted.client_ip(stranger, &h), stranger.ip());
        assert_eq!(
            trusted.client_ip(proxy, &h),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // A client cannot pick its address by prepending entries: the walk stops at the
        // first untrusted hop from the right.
        let h = headers("1.1.1.1, 198.51.100.7");
        assert_eq!(
            trusted.client_ip(proxy, &h),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // Garbage stops the walk at the proxy.
        assert_eq!(trusted.client_ip(proxy, &headers("nonsense")), proxy.ip());
        assert!(TrustedProxies::parse("10.0.0.0/8,not-an-ip").is_err());
    }

    /// A client that asks for a large answer and stops reading is cut off after the write
    /// timeout (64 MB is far more than both sockets' buffers hold).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_stops_reading_is_cut_off() {
        const SIZE: usize = 64 * 1024 * 1024;
        let router = Router::new().route("/big", axum::routing::get(|| async { vec![7u8; SIZE] }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = NetLimits {
            write_timeout: Duration::from_secs(1),
            ..NetLimits::default()
        };
        let server = tokio::spawn(serve(listener, router, limits));
        let got = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            // The slow reader: reads nothing for three write timeouts.
            std::thread::sleep(Duration::from_secs(3));
            let mut got = 0usize;
            let mut buf = vec![0u8; 1 << 20];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got += n;
            }
            got
        })
        .await
        .unwrap();
        server.abort();
        assert!(
            got < SIZE,
            "the whole answer ({got} bytes) reached a client that did not read"
        );
    }

    #[test]
    fn the_connection_cap_stays_below_the_open_file_limit() {
        let limits = NetLimits::default();
        assert_eq!(connection_cap(&limits, 1_000_000), 1024);
        assert_eq!(connection_cap(&limits, 256), 192);
    }
}
