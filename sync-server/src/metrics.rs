//! The server's Prometheus metrics (`GET /metrics`, OpenMetrics text, `prometheus-client`):
//! it owns the registry and every metric family, and says what each counts.
//!
//! - `zhtj_http_requests_total{route, method, status}`: every request answered. `route` is
//!   the router's pattern (`/api/v1/push`), never the path asked for, and `unmatched` for
//!   a path no route takes; `method` is one of the standard methods or `other`: every
//!   label takes a bounded set of values, so no client can grow the registry.
//! - `zhtj_push_seconds`, `zhtj_pull_seconds`: how long a push or a pull handler took,
//!   from the logged-in request to its answer (buckets 1 ms to about 65 s).
//! - `zhtj_documents_total{outcome, code}`: the documents of pushes, `accepted`, or
//!   `refused` with the code of their first violation (the rules' stable machine codes,
//!   a bounded set). A document sent without the history it builds on is neither: the
//!   replica sends it again whole.
//! - `zhtj_rate_limit_hits_total{guess}`: attempts at a `code` or a `password` that the
//!   guessing limiter (`crate::limits`) refused or slowed.
//! - `zhtj_db_connections_in_use`, `zhtj_db_connections`: the store's connections, read
//!   when scraped (SQLite: its read connections; PostgreSQL: the primary's pool).
//!
//! Nothing personal is a label or a value: no mobile, organization, account or token.
//!
//! Who may read them ([`may_read`]): the port is the one clients use, and the
//! figures say how busy the server is and what is being refused, which is nobody else's
//! business. So `/metrics` answers only a client on loopback or inside the networks of
//! `--trusted-proxy` (where the monitoring host runs), judged on the address the rate
//! limits use: behind a trusted proxy, the nearest untrusted `X-Forwarded-For` hop, so a
//! request forwarded from the internet is refused. A request that carries a forwarding
//! header from a peer that is not a trusted proxy came through an unknown proxy (one on
//! the same host, say, whose peer address is loopback) and is refused too. Anyone else
//! is answered as for a route that does not exist (404). `/healthz` and `/readyz` are open
//! to all: a load balancer probes them, and they say only "ok" or "busy".

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::http::{HeaderMap, Method};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use wire::protocol::{DocOutcome, DocResult};

use crate::limits::Guess;
use crate::net::TrustedProxies;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `route` of a request no route takes.
pub const UNMATCHED: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DocumentLabels {
    outcome: &'static str,
    code: String,
}

impl DocumentLabels {
    fn accepted() -> DocumentLabels {
        DocumentLabels {
            outcome: "accepted",
            code: String::new(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GuessLabels {
    guess: &'static str,
}

fn guess_label(guess: Guess) -> &'static str {
    match guess {
        Guess::Code => "code",
        Guess::Password => "password",
    }
}

/// The registry and its metric families (each a shared handle: the registry encodes what
/// the handles count).
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    push: Histogram,
    pull: Histogram,
    documents: Family<DocumentLabels, Counter>,
    rate_limit_hits: Family<GuessLabels, Counter>,
    db_in_use: Gauge,
    db_open: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Latency buckets: 1 ms doubling to about 65 s (a push of thousands of documents on a
/// slow disk takes tens of seconds).
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Metrics {
    pub fn new() -> Metrics {
        let requests = Family::<RequestLabels, Counter>::default();
        let documents = Family::<DocumentLabels, Counter>::default();
        let rate_limit_hits = Family::<GuessLabels, Counter>::default();
        let (push, pull) = (latency(), latency());
        let (db_in_use, db_open) = (Gauge::default(), Gauge::default());
        // Series known in advance start at zero (a series that appears only at its first
        // event hides that event from `rate()`); a family with none yet is not exposed.
        for guess in [Guess::Code, Guess::Password] {
            let _ = rate_limit_hits.get_or_create(&GuessLabels {
                guess: guess_label(guess),
            });
        }
        let _ = documents.get_or_create(&DocumentLabels::accepted());
        let mut registry = Registry::default();
        // Counters are exposed with the `_total` suffix the library adds.
        registry.register(
            "zhtj_http_requests",
            "HTTP requests answered, by route pattern, method and status",
            requests.clone(),
        );
        registry.register_with_unit(
            "zhtj_push",
            "Time to answer a push",
            Unit::Seconds,
            push.clone(),
        );
        registry.register_with_unit(
            "zhtj_pull",
            "Time to answer a pull",
            Unit::Seconds,
            pull.clone(),
        );
        registry.register(
            "zhtj_documents",
            "Pushed documents accepted, and refused by the code of their first violation",
            documents.clone(),
        );
        registry.register(
            "zhtj_rate_limit_hits",
            "Guesses at a registration code or a password refused or slowed by the rate limits",
            rate_limit_hits.clone(),
        );
        registry.register(
            "zhtj_db_connections_in_use",
            "Database connections in use when scraped",
            db_in_use.clone(),
        );
        registry.register(
            "zhtj_db_connections",
            "Database connections open when scraped",
            db_open.clone(),
        );
        Metrics {
            registry,
            requests,
            push,
            pull,
            documents,
            rate_limit_hits,
            db_in_use,
            db_open,
        }
    }

    /// Count an answered request: `route` is the matched route pattern (`None`: no route
    /// took it).
    pub fn request(&self, route: Option<&str>, method: &Method, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.unwrap_or(UNMATCHED).to_owned(),
                method: method_label(method),
                status,
            })
            .inc();
    }

    /// Time a push until the returned guard is dropped.
    pub fn time_push(&self) -> Timer<'_> {
        Timer {
            histogram: &self.push,
            started: Instant::now(),
        }
    }

    /// Time a pull until the returned guard is dropped.
    pub fn time_pull(&self) -> Timer<'_> {
        Timer {
            histogram: &self.pull,
            started: Instant::now(),
        }
    }

    /// Count the judged documents of a push.
    pub fn documents(&self, results: &[DocResult]) {
        for r in results {
            let labels = match &r.outcome {
                DocOutcome::Accepted { .. } => DocumentLabels::accepted(),
                DocOutcome::Rejected { violations } => DocumentLabels {
                    outcome: "refused",
                    code: violations
                        .first()
                        .map_or_else(|| "invalid".to_owned(), |v| v.code.clone()),
                },
                DocOutcome::NeedFull => continue,
            };
            self.documents.get_or_create(&labels).inc();
        }
    }

    /// Count a guess the limiter refused or slowed.
    pub fn rate_limited(&self, guess: Guess) {
        self.rate_limit_hits
            .get_or_create(&GuessLabels {
                guess: guess_label(guess),
            })
            .inc();
    }

    /// The exposition, with the store's connections `(in use, open)` read now.
    pub fn encode(&self, (in_use, open): (u32, u32)) -> String {
        self.db_in_use.set(in_use.into());
        self.db_open.set(open.into());
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Whether the client of a request from `peer` with `headers` may read the metrics (see
/// the module documentation).
pub fn may_read(proxies: &TrustedProxies, peer: SocketAddr, headers: &HeaderMap) -> bool {
    let forwarded = ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .any(|h| headers.contains_key(*h));
    if forwarded && !proxies.trusts(peer.ip()) {
        return false;
    }
    let client: IpAddr = proxies.client_ip(peer, headers);
    client.is_loopback() || proxies.trusts(client)
}

/// Observes the time since it was made into its histogram when dropped.
pub struct Timer<'a> {
    histogram: &'a Histogram,
    started: Instant,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.histogram.observe(self.started.elapsed().as_secs_f64());
    }
}

/// A bounded label for a method: any token is a valid HTTP method.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_bounded_whatever_the_client_sends() {
        let m = Metrics::new();
        m.request(None, &Method::from_bytes(b"SECRET123").unwrap(), 404);
        m.request(Some("/api/v1/push"), &Method::POST, 200);
        let text = m.encode((1, 4));
        assert!(!text.contains("SECRET123"), "{text}");
        assert!(
            text.contains(
                r#"zhtj_http_requests_total{route="unmatched",method="other",status="404"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("zhtj_db_connections_in_use 1\n"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn metrics_are_read_from_loopback_and_trusted_networks_only() {
        let proxies = TrustedProxies::parse("127.0.0.1,10.0.0.0/8").unwrap();
        let none = HeaderMap::new();
        let from = |xff: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", xff.parse().unwrap());
            h
        };
        let peer = |s: &str| -> SocketAddr { s.parse().unwrap() };
        let direct = TrustedProxies::default();
        assert!(may_read(&direct, peer("127.0.0.1:1"), &none));
        assert!(may_read(&direct, peer("[::1]:1"), &none));
        assert!(!may_read(&direct, peer("203.0.113.9:1"), &none));
        // An unknown proxy on the same host: its peer address is loopback.
        assert!(!may_read(
            &direct,
            peer("127.0.0.1:1"),
            &from("203.0.113.9")
        ));
        // The monitoring host inside a trusted network, directly or through the proxy.
        assert!(may_read(&proxies, peer("10.1.2.3:1"), &none));
        assert!(may_read(&proxies, peer("127.0.0.1:1"), &from("10.1.2.3")));
        // The internet through the proxy, even naming a trusted address first.
        assert!(!may_read(
            &proxies,
            peer("127.0.0.1:1"),
            &from("203.0.113.9")
        ));
        assert!(!may_read(
            &proxies,
            peer("127.0.0.1:1"),
            &from("10.1.2.3, 203.0.113.9")
        ));
    }
}
