//! A loopback TCP proxy that injects network faults between a replica and the sync server:
//! it delays, drops (closes without forwarding), truncates (forwards N bytes, then closes)
//! or resets (RST) connections, counted per connection or across connections, in one
//! direction or both, optionally only from a given request on (`POST /api/v1/push `), and
//! it can hold a connection still (stop forwarding) until released, so that a test can kill
//! a process at a known point of a sync.
//!
//! The proxy is plain threads and blocking sockets: one accept loop, two relay threads per
//! connection. Byte counts are exact: a truncation after N bytes forwards exactly N bytes.
//! Requests are recognized by their request line (`POST /api/v1/<endpoint> `) within one
//! read from the client (HTTP clients write a request's head in one piece).
//!
//! Once a fault has fired (outside [`Scope::PerConnection`]), the proxy stays broken until
//! the next [`Proxy::set`] or [`Proxy::clear`]: every live connection is closed as soon as
//! it tries to forward anything and every new one is closed at once, so the sync under way
//! fails with a network error instead of carrying on over a fresh connection.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A direction of traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client → server (requests).
    Up,
    /// Server → client (responses).
    Down,
    /// Both, counted together.
    Both,
}

impl Dir {
    fn covers(self, d: Dir) -> bool {
        self == Dir::Both || self == d
    }
}

/// What the proxy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Forward everything.
    Pass,
    /// Wait this long before forwarding each chunk of the direction (the connection works,
    /// slowly).
    Delay(Duration),
    /// Accept and close at once, without connecting to the server or forwarding a byte.
    Drop,
    /// Forward `after` bytes of the direction, then close both sides (FIN).
    Truncate,
    /// Forward `after` bytes of the direction, then reset the client's connection (RST:
    /// `SO_LINGER` 0, then close).
    Reset,
    /// Forward `after` bytes of the direction, then stop forwarding (the connection hangs)
    /// until [`Proxy::release`], then close both sides.
    Hold,
}

/// How byte budgets are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One budget across every connection since the rule was set; the fault fires once and
    /// the proxy stays broken afterwards (until the next rule).
    Shared,
    /// A budget per connection: every connection faults on its own.
    PerConnection,
}

/// A fault to inject. Build with the constructors, refine with the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub dir: Dir,
    /// Bytes of `dir` forwarded before the action (Truncate, Reset, Hold).
    pub after: u64,
    pub scope: Scope,
    /// Count only from a request containing this text on (e.g. `POST /api/v1/push `): the
    /// request's bytes from its first byte, and the response bytes after it was seen.
    pub trigger: Option<Vec<u8>>,
    /// Let this many triggering requests pass before arming.
    pub skip: usize,
}

impl Rule {
    /// Forward everything.
    pub fn pass() -> Rule {
        Rule {
            action: Action::Pass,
            dir: Dir::Both,
            after: 0,
            scope: Scope::Shared,
            trigger: None,
            skip: 0,
        }
    }

    pub fn delay(dir: Dir, each_chunk: Duration) -> Rule {
        Rule {
            action: Action::Delay(each_chunk),
            dir,
            ..Rule::pass()
        }
    }

    pub fn drop_all() -> Rule {
        Rule {
            action: Action::Drop,
            ..Rule::pass()
        }
    }

    pub fn truncate(dir: Dir, after: u64) -> Rule {
        Rule {
            action: Action::Truncate,
            dir,
            after,
            ..Rule::pass()
        }
    }

    pub fn reset(dir: Dir, after: u64) -> Rule {
        Rule {
            action: Action::Reset,
            dir,
            after,
            ..Rule::pass()
        }
    }

    pub fn hold(dir: Dir, after: u64) -> Rule {
        Rule {
            action: Action::Hold,
            dir,
            after,
            ..Rule::pass()
        }
    }

    pub fn per_connection(mut self) -> Rule {
        self.scope = Scope::PerConnection;
        self
    }

    /// Arm only from the request containing `text` on (after `skip` such requests).
    pub fn on_request(mut self, text: &str, skip: usize) -> Rule {
        self.trigger = Some(text.as_bytes().to_vec());
        self.skip = skip;
        self
    }
}

/// What the proxy saw since the last [`Proxy::set`] / [`Proxy::clear`] (or start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub connections: usize,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Requests seen, by endpoint (`push`, `pull`, …: the text after `/api/v1/`).
    pub requests: Vec<String>,
    /// How many times the rule's action fired (connections refused while the proxy is
    /// broken included).
    pub fired: usize,
}

impl Stats {
    pub fn count(&self, endpoint: &str) -> usize {
        self.requests.iter().filter(|r| *r == endpoint).count()
    }
}

#[derive(Debug)]
struct State {
    rule: Rule,
    /// Bumped by every `set`: relays of an older generation do not count against the new rule.
    generation: u64,
    /// Shared budget left (Shared scope, once armed).
    left: u64,
    /// Shared scope: a triggering request was seen (after `skip`); by which connection.
    armed_by: Option<u64>,
    triggers_seen: usize,
    /// Shared scope: the action fired; the proxy is broken until the next rule.
    broken: bool,
    released: bool,
    stopping: bool,
    stats: Stats,
    next_conn: u64,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// A running proxy, stopped (its threads joined or left to die with their sockets) when dropped.
pub struct Proxy {
    pub addr: SocketAddr,
    shared: Shared,
    accept: Option<JoinHandle<()>>,
}

/// How long [`Proxy::wait_fired`] waits at most by default.
pub const WAIT_LIMIT: Duration = Duration::from_secs(120);

impl Proxy {
    /// Listen on 127.0.0.1:0 and relay every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listens");
        let addr = listener.local_addr().expect("proxy address");
        let shared: Shared = Arc::new((
            Mutex::new(State {
                rule: Rule::pass(),
                generation: 0,
                left: 0,
                armed_by: None,
                triggers_seen: 0,
                broken: false,
                released: false,
                stopping: false,
                stats: Stats::default(),
                next_conn: 0,
            }),
            Condvar::new(),
        ));
        let sh = shared.clone();
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(client) = conn else { continue };
                let (id, drop_it) = {
                    let mut st = lock(&sh);
                    if st.stopping {
                        break;
                    }
                    st.stats.connections += 1;
                    st.next_conn += 1;
                    let drop_it = st.broken || st.rule.action == Action::Drop;
                    if drop_it {
                        st.stats.fired += 1;
                        sh.1.notify_all();
                    }
                    (st.next_conn, drop_it)
                };
                if drop_it {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let sh = sh.clone();
                thread::spawn(move || relay(id, client, upstream, sh));
            }
        });
        Proxy {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// Start a proxy in front of the server at `url` (`http://127.0.0.1:PORT`).
    pub fn in_front_of(url: &str) -> Proxy {
        let upstream: SocketAddr = url
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("not a loopback http address: {url}"));
        Proxy::start(upstream)
    }

    /// The proxy's address as a server URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Install a rule (releasing any held connection of the previous one) and reset the stats.
    pub fn set(&self, rule: Rule) {
        let (m, cv) = &*self.shared;
        let mut st = m.lock().unwrap_or_else(|p| p.into_inner());
        st.left = rule.after;
        st.armed_by = None;
        st.triggers_seen = 0;
        st.broken = false;
        // What the previous rule held is let go (and closed): holders wait on their generation.
        st.released = false;
        st.generation += 1;
        st.stats = Stats::default();
        st.rule = rule;
        cv.notify_all();
    }

    /// Forward everything again.
    pub fn clear(&self) {
        self.set(Rule::pass());
    }

    /// Let a held connection go (it is then closed).
    pub fn release(&self) {
        let (m, cv) = &*self.shared;
        m.lock().unwrap_or_else(|p| p.into_inner()).released = true;
        cv.notify_all();
    }

    pub fn stats(&self) -> Stats {
        lock(&self.shared).stats.clone()
    }

    /// Wait until the rule's action has fired, or `give_up()` says the traffic is over (the
    /// sync ended without reaching the fault), at most [`WAIT_LIMIT`]. Returns whether it
    /// fired.
    pub fn wait_fired(&self, mut give_up: impl FnMut() -> bool) -> bool {
        let (m, cv) = &*self.shared;
        let deadline = Instant::now() + WAIT_LIMIT;
        let mut st = m.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if st.stats.fired > 0 {
                return true;
            }
            if give_up() {
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "the proxy's fault did not fire within {WAIT_LIMIT:?}"
            );
            // The timeout only bounds how often `give_up` is asked; firing wakes us at once.
            st = cv
                .wait_timeout(st, Duration::from_millis(20))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        {
            let (m, cv) = &*self.shared;
            let mut st = m.lock().unwrap_or_else(|p| p.into_inner());
            st.stopping = true;
            st.released = true;
            cv.notify_all();
        }
        if let Some(accept) = self.accept.take() {
            let _ = TcpStream::connect(self.addr); // wake the accept loop
            let _ = accept.join();
        }
    }
}

fn lock(sh: &Shared) -> MutexGuard<'_, State> {
    sh.0.lock().unwrap_or_else(|p| p.into_inner())
}

/// The endpoint of a request line in `chunk` (`POST /api/v1/<endpoint> `), if any.
fn endpoint_of(chunk: &[u8]) -> Option<String> {
    let at = find(chunk, b"POST /api/v1/")?;
    let rest = &chunk[at + b"POST /api/v1/".len()..];
    let end = rest.iter().position(|&b| b == b' ' || b == b'?')?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One connection's view of the rule.
struct Conn {
    id: u64,
    generation: u64,
    /// Per-connection scope: armed, and the budget left.
    armed: bool,
    left: u64,
    /// Closed by a fault: the other direction must not send a FIN of its own.
    closed: bool,
}

/// What to do with a chunk about to be forwarded.
enum Verdict {
    /// Forward these many bytes (after sleeping, for a delay), then go on.
    Forward(usize, Option<Duration>),
    /// Forward these many bytes, then act.
    Act(usize, Action),
    /// Close now (the proxy is broken, or stopping).
    Close,
}

/// Decide about `n` bytes going `dir`; `chunk` is the data (for triggers).
fn judge(sh: &Shared, conn: &Mutex<Conn>, dir: Dir, chunk: &[u8]) -> Verdict {
    let (m, cv) = &**sh;
    let mut st = m.lock().unwrap_or_else(|p| p.into_inner());
    let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
    if st.stopping {
        return Verdict::Close;
    }
    // Stats, and request lines.
    let mut trigger_at = None;
    if dir == Dir::Up {
        if let Some(ep) = endpoint_of(chunk) {
            st.stats.requests.push(ep);
        }
        if let Some(t) = st.rule.trigger.clone()
            && let Some(at) = find(chunk, &t)
        {
            trigger_at = Some(at);
        }
    }
    if c.generation != st.generation {
        // A connection from before the current rule: it becomes subject to it (keep-alive
        // connections carry the next requests), with a fresh per-connection budget.
        c.generation = st.generation;
        c.armed = false;
        c.left = st.rule.after;
    }
    if st.broken {
        c.closed = true;
        return Verdict::Close;
    }
    if st.rule.action == Action::Drop {
        st.stats.fired += 1;
        cv.notify_all();
        c.closed = true;
        return Verdict::Close;
    }
    let rule = st.rule.clone();
    let n = chunk.len();
    let count_from = match rule.trigger {
        None => {
            c.armed = true;
            if st.armed_by.is_none() {
                st.armed_by = Some(c.id);
            }
            Some(0)
        }
        Some(_) => {
            if trigger_at.is_some() {
                st.triggers_seen += 1;
                if st.triggers_seen > rule.skip {
                    match rule.scope {
                        Scope::PerConnection => {
                            if !c.armed {
                                c.armed = true;
                                c.left = rule.after;
                            }
                        }
                        Scope::Shared => {
                            if st.armed_by.is_none() {
                                st.armed_by = Some(c.id);
                            }
                        }
                    }
                }
            }
            let armed_here = match rule.scope {
                Scope::PerConnection => c.armed,
                Scope::Shared => st.armed_by == Some(c.id),
            };
            if !armed_here {
                None
            } else if dir == Dir::Up {
                Some(trigger_at.unwrap_or(0))
            } else {
                Some(0)
            }
        }
    };
    match (dir, n) {
        (Dir::Up, _) => st.stats.bytes_up += n as u64,
        _ => st.stats.bytes_down += n as u64,
    }
    let Some(from) = count_from else {
        return Verdict::Forward(n, None);
    };
    if !rule.dir.covers(dir) {
        return Verdict::Forward(n, None);
    }
    match rule.action {
        Action::Pass | Action::Drop => Verdict::Forward(n, None),
        Action::Delay(d) => Verdict::Forward(n, Some(d)),
        Action::Truncate | Action::Reset | Action::Hold => {
            let counted = (n - from) as u64;
            let left = match rule.scope {
                Scope::Shared => &mut st.left,
                Scope::PerConnection => &mut c.left,
            };
            if counted <= *left {
                *left -= counted;
                return Verdict::Forward(n, None);
            }
            let pass = from + *left as usize;
            *left = 0;
            c.closed = true;
            st.stats.fired += 1;
            if rule.scope == Scope::Shared {
                st.broken = true;
            }
            cv.notify_all();
            Verdict::Act(pass, rule.action)
        }
    }
}

/// Close a connection: FIN both ways, or RST towards the client.
fn close(client: &TcpStream, server: Option<&TcpStream>, reset: bool) {
    if reset {
        if let Ok(dup) = client.try_clone() {
            // SO_LINGER is a property of the socket, shared by every descriptor of it: the
            // last close sends RST instead of FIN.
            let _ = tokio::net::TcpSocket::from_std_stream(dup).set_zero_linger();
        }
        // Wake a reader of the client side without sending anything; the last descriptor's
        // close then resets.
        let _ = client.shutdown(Shutdown::Read);
    } else {
        let _ = client.shutdown(Shutdown::Both);
    }
    if let Some(s) = server {
        let _ = s.shutdown(Shutdown::Both);
    }
}

/// Wait for a release (or the proxy stopping, or a new rule).
fn hold(sh: &Shared) {
    let (m, cv) = &**sh;
    let mut st = m.lock().unwrap_or_else(|p| p.into_inner());
    let generation = st.generation;
    while !st.released && !st.stopping && st.generation == generation {
        st = cv.wait(st).unwrap_or_else(|p| p.into_inner());
    }
}

/// Forward `from` → `to` under the rule until either side closes or a fault fires.
fn pump(
    sh: &Shared,
    conn: &Mutex<Conn>,
    dir: Dir,
    mut from: TcpStream,
    mut to: TcpStream,
    client: &TcpStream,
    server: &TcpStream,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match judge(sh, conn, dir, &buf[..n]) {
            Verdict::Forward(k, delay) => {
                if let Some(d) = delay {
                    thread::sleep(d); // the fault itself: a slow link
                }
                if to.write_all(&buf[..k]).is_err() {
                    break;
                }
            }
            Verdict::Act(k, action) => {
                if k > 0 && to.write_all(&buf[..k]).is_err() {
                    break;
                }
                let _ = to.flush();
                if action == Action::Hold {
                    hold(sh);
                }
                close(client, Some(server), action == Action::Reset);
                return;
            }
            Verdict::Close => {
                close(client, Some(server), false);
                return;
            }
        }
    }
    // One side finished: pass the end on (unless a fault closed the connection: a reset
    // must not be preceded by a FIN).
    if !conn.lock().unwrap_or_else(|p| p.into_inner()).closed {
        let _ = to.shutdown(Shutdown::Write);
    }
}

fn relay(id: u64, client: TcpStream, upstream: SocketAddr, sh: Shared) {
    let Ok(server) = TcpStream::connect(upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let generation = lock(&sh).generation;
    let conn = Arc::new(Mutex::new(Conn {
        id,
        generation,
        armed: false,
        left: lock(&sh).rule.after,
        closed: false,
    }));
    let (Ok(c1), Ok(c2), Ok(s1), Ok(s2)) = (
        client.try_clone(),
        client.try_clone(),
        server.try_clone(),
        server.try_clone(),
    ) else {
        return;
    };
    let up = {
        let (sh, conn) = (sh.clone(), conn.clone());
        let (client, server) = (client.try_clone(), server.try_clone());
        thread::spawn(move || {
            if let (Ok(client), Ok(server)) = (client, server) {
                pump(&sh, &conn, Dir::Up, c1, s1, &client, &server);
            }
        })
    };
    pump(&sh, &conn, Dir::Down, s2, c2, &client, &server);
    let _ = up.join();
    // Every descriptor of both sockets is dropped here (a reset client socket sends RST now).
}
