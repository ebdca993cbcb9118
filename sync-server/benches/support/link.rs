//! A simulated network link for the benches: a TCP relay on a loopback port in front of the
//! server that gives each direction (up: client → server, down: server → client) a one-way
//! delay and a bandwidth cap, and counts the bytes each way and the connections. With no
//! delay and no cap it is a plain counting relay (the loopback figures of `benches/sync.rs`).
//!
//! The model, per direction, shared by every connection through the relay (one radio link):
//! - a FIFO: the relay reads what one side writes as soon as it is written and cuts it into
//!   packets of at most [`PACKET`] bytes; a packet that reached the link at `t` occupies it
//!   `len * 8 / bits_per_second` once the packets before it have gone, and is delivered to
//!   the other side whole at the end of that time plus the one-way delay
//!   ([`Direction::admit`]: `max(t + delay, previous delivery end) + len * 8 / rate`);
//! - the end of a stream (TCP's FIN) travels as a packet of no bytes, after the data;
//! - a new connection costs one round trip before its first byte can leave (the SYN and
//!   SYN-ACK of TCP's handshake; the relay accepts locally at once, so it holds the client's
//!   first bytes back by the two delays, [`handshake_done`]).
//!
//! Not modelled: TCP's slow start and congestion window, acknowledgements taking up-link
//! bandwidth, loss and retransmission, TLS handshakes (the benches talk plain HTTP). On a
//! real link each of these only adds time: the figures are a floor for this link.
//!
//! This file is shared by the benches (`#[path = "support/link.rs"] mod link;`) and by
//! `tests/link.rs`, each of which uses a part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Largest piece the relay schedules at once (a TCP segment on Ethernet): fine enough that
/// a slow link delivers a long body gradually, as a real one does.
pub const PACKET: usize = 1460;

/// One direction of a link: its one-way delay and its bandwidth cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub delay: Duration,
    /// `None`: no cap.
    pub bits_per_second: Option<u64>,
}

impl Shape {
    /// No delay, no cap: a plain counting relay.
    pub const NONE: Shape = Shape {
        delay: Duration::ZERO,
        bits_per_second: None,
    };

    pub fn new(delay: Duration, bits_per_second: Option<u64>) -> Shape {
        assert!(
            bits_per_second != Some(0),
            "a link of 0 bit/s carries nothing"
        );
        Shape {
            delay,
            bits_per_second,
        }
    }

    /// How long `len` bytes occupy the link.
    pub fn transmit(&self, len: usize) -> Duration {
        match self.bits_per_second {
            None => Duration::ZERO,
            Some(bps) => {
                let nanos = (len as u128 * 8 * 1_000_000_000).div_ceil(bps as u128);
                Duration::from_nanos(nanos as u64)
            }
        }
    }

    fn is_none(&self) -> bool {
        *self == Shape::NONE
    }
}

/// The schedule of one direction: times are offsets from the relay's start.
#[derive(Clone, Debug)]
pub struct Direction {
    pub shape: Shape,
    /// When the previous packet was fully delivered.
    last_end: Duration,
}

impl Direction {
    pub fn new(shape: Shape) -> Direction {
        Direction {
            shape,
            last_end: Duration::ZERO,
        }
    }

    /// When a packet of `len` bytes that reached the link at `arrival` is fully delivered
    /// at the other end (FIFO after every packet admitted before it).
    pub fn admit(&mut self, arrival: Duration, len: usize) -> Duration {
        let start = (arrival + self.shape.delay).max(self.last_end);
        self.last_end = start + self.shape.transmit(len);
        self.last_end
    }
}

/// The earliest time the first byte of a connection opened at `opened` can leave the
/// client: once TCP's handshake has gone round (SYN up, SYN-ACK down).
pub fn handshake_done(up: &Shape, down: &Shape, opened: Duration) -> Duration {
    opened + up.delay + down.delay
}

/// Bytes and connections through the relay so far (or between two moments: `b - a`).
/// Bytes are counted as they enter the link: once the receiver has read them, they are in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Client → server bytes (HTTP headers included).
    pub up: u64,
    /// Server → client bytes (HTTP headers included).
    pub down: u64,
    /// Connections accepted.
    pub connections: u64,
}

impl Traffic {
    pub fn total(&self) -> u64 {
        self.up + self.down
    }
}

impl std::ops::Sub for Traffic {
    type Output = Traffic;
    fn sub(self, before: Traffic) -> Traffic {
        Traffic {
            up: self.up - before.up,
            down: self.down - before.down,
            connections: self.connections - before.connections,
        }
    }
}

#[derive(Default)]
struct Counters {
    up: AtomicU64,
    down: AtomicU64,
    connections: AtomicU64,
}

/// A relay on a loopback port that forwards to a target through a simulated link. Its
/// threads live as long as the process (a bench or test process).
pub struct Relay {
    pub addr: SocketAddr,
    counters: Arc<Counters>,
}

struct Link {
    epoch: Instant,
    up: Mutex<Direction>,
    down: Mutex<Direction>,
    counters: Arc<Counters>,
}

impl Relay {
    /// A relay to `target` with `up` (client → server) and `down` (server → client).
    pub fn start(target: SocketAddr, up: Shape, down: Shape) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let addr = listener.local_addr().expect("relay address");
        let counters = Arc::new(Counters::default());
        let link = Arc::new(Link {
            epoch: Instant::now(),
            up: Mutex::new(Direction::new(up)),
            down: Mutex::new(Direction::new(down)),
            counters: counters.clone(),
        });
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let accepted = link.epoch.elapsed();
                link.counters.connections.fetch_add(1, Ordering::Relaxed);
                let Ok(server) = TcpStream::connect(target) else {
                    // The target is gone: the client sees its connection closed.
                    continue;
                };
                client.set_nodelay(true).ok();
                server.set_nodelay(true).ok();
                let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                let ready = handshake_done(&up, &down, accepted);
                let l = link.clone();
                std::thread::spawn(move || l.carry(client, server, Up, ready));
                let l = link.clone();
                std::thread::spawn(move || l.carry(server2, client2, Down, accepted));
            }
        });
        Relay { addr, counters }
    }

    /// A relay with the same shape both ways.
    pub fn symmetric(target: SocketAddr, shape: Shape) -> Relay {
        Relay::start(target, shape, shape)
    }

    /// The relay's base URL (`http://127.0.0.1:port`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn traffic(&self) -> Traffic {
        Traffic {
            up: self.counters.up.load(Ordering::Relaxed),
            down: self.counters.down.load(Ordering::Relaxed),
            connections: self.counters.connections.load(Ordering::Relaxed),
        }
    }
}

#[derive(Clone, Copy)]
enum Way {
    Up,
    Down,
}
use Way::{Down, Up};

impl Link {
    fn direction(&self, way: Way) -> &Mutex<Direction> {
        match way {
            Up => &self.up,
            Down => &self.down,
        }
    }

    fn count(&self, way: Way, n: usize) {
        let c = match way {
            Up => &self.counters.up,
            Down => &self.counters.down,
        };
        c.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Forward `from` to `to` through the direction `way`; no byte leaves before
    /// `not_before`. Ends when `from` ends (half-closing `to`) or `to` fails.
    fn carry(&self, mut from: TcpStream, mut to: TcpStream, way: Way, not_before: Duration) {
        let mut buf = vec![0u8; 64 * 1024];
        if self.direction(way).lock().unwrap().shape.is_none() {
            // Pass-through: no writer thread, no added latency.
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 || to.write_all(&buf[..n]).is_err() {
                    break;
                }
                self.count(way, n);
            }
            let _ = to.shutdown(Shutdown::Write);
            return;
        }
        // The reader admits packets to the link as they come; a writer delivers each at
        // its due time (sleeping until then: this simulates the wire).
        // An empty packet is the end of the stream (TCP's FIN): it travels like data.
        let (tx, rx) = mpsc::channel::<(Duration, Vec<u8>)>();
        let epoch = self.epoch;
        let writer = std::thread::spawn(move || {
            for (due, packet) in rx {
                let now = epoch.elapsed();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if packet.is_empty() || to.write_all(&packet).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
        let admit = |len: usize| {
            let arrival = self.epoch.elapsed().max(not_before);
            self.direction(way).lock().unwrap().admit(arrival, len)
        };
        loop {
            // A read error (a reset) ends the stream as an end would.
            let n = from.read(&mut buf).unwrap_or(0);
            if n == 0 {
                let _ = tx.send((admit(0), Vec::new()));
                break;
            }
            let mut open = true;
            for packet in buf[..n].chunks(PACKET) {
                let due = admit(packet.len());
                self.count(way, packet.len());
                if tx.send((due, packet.to_vec())).is_err() {
                    open = false;
                    break;
                }
            }
            if !open {
                break;
            }
        }
        drop(tx);
        let _ = writer.join();
    }
}
