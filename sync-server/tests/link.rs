//! The simulated link of the benches (`benches/support/link.rs`): its schedule, as a pure
//! function of arrival times, sizes, delay and rate; and, through real sockets, that the
//! relay carries bytes intact each way and counts them and the connections. (No timing is
//! asserted through the sockets: the schedule is what decides the times.)

#[path = "../benches/support/link.rs"]
mod link;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use link::{Direction, PACKET, Relay, Shape, Traffic, handshake_done};

const MS: Duration = Duration::from_millis(1);

fn village() -> Shape {
    Shape::new(150 * MS, Some(256_000))
}

#[test]
fn transmit_time_is_bits_over_rate() {
    assert_eq!(village().transmit(65_536), Duration::from_millis(2_048));
    assert_eq!(village().transmit(32), Duration::from_millis(1));
    assert_eq!(village().transmit(0), Duration::ZERO);
    // Rounded up to the nanosecond, never down.
    assert_eq!(
        Shape::new(Duration::ZERO, Some(3)).transmit(1),
        Duration::from_nanos(2_666_666_667)
    );
    assert_eq!(Shape::NONE.transmit(1 << 30), Duration::ZERO);
}

#[test]
fn a_burst_is_serialized_behind_the_delay() {
    // 64 KB written at once: delivered packet by packet, the last one after the delay plus
    // 64 KB at 256 kbit/s.
    let mut dir = Direction::new(village());
    let sizes: Vec<usize> = (0..65_536)
        .step_by(PACKET)
        .map(|o| PACKET.min(65_536 - o))
        .collect();
    let dues: Vec<Duration> = sizes
        .iter()
        .map(|&n| dir.admit(Duration::ZERO, n))
        .collect();
    assert_eq!(dues[0], 150 * MS + village().transmit(PACKET));
    for (i, w) in dues.windows(2).enumerate() {
        assert_eq!(
            w[1] - w[0],
            village().transmit(sizes[i + 1]),
            "packet {}",
            i + 1
        );
    }
    assert_eq!(*dues.last().unwrap(), Duration::from_millis(150 + 2_048));
}

#[test]
fn a_packet_queues_behind_a_busy_link_but_not_an_idle_one() {
    let mut dir = Direction::new(village());
    // 3,200 bytes: 100 ms of link. Delivered at 150 + 100.
    assert_eq!(dir.admit(Duration::ZERO, 3_200), 250 * MS);
    // Arrives while the first is still on the link: waits for it (250), then its 10 ms.
    assert_eq!(dir.admit(50 * MS, 320), 260 * MS);
    // Arrives long after the link drained: only its own delay and time.
    assert_eq!(dir.admit(1_000 * MS, 320), 1_160 * MS);
    // Same arrival time as the previous one: FIFO behind it.
    assert_eq!(dir.admit(1_000 * MS, 320), 1_170 * MS);
    // The stream's end (an empty packet) comes right after the data still on the link...
    assert_eq!(dir.admit(1_001 * MS, 0), 1_170 * MS);
    // ...and after the delay on an idle link.
    assert_eq!(dir.admit(2_000 * MS, 0), 2_150 * MS);
}

#[test]
fn an_uncapped_link_only_delays_and_keeps_order() {
    let mut dir = Direction::new(Shape::new(150 * MS, None));
    assert_eq!(dir.admit(10 * MS, 1 << 20), 160 * MS);
    assert_eq!(dir.admit(10 * MS, 1 << 20), 160 * MS);
    assert_eq!(dir.admit(20 * MS, 1), 170 * MS);
    let mut none = Direction::new(Shape::NONE);
    assert_eq!(none.admit(7 * MS, 1 << 20), 7 * MS);
}

#[test]
fn a_connection_waits_for_the_handshake_round_trip() {
    let up = Shape::new(150 * MS, Some(64_000));
    let down = Shape::new(40 * MS, Some(256_000));
    assert_eq!(handshake_done(&up, &down, 5 * MS), 195 * MS);
    assert_eq!(handshake_done(&Shape::NONE, &Shape::NONE, 5 * MS), 5 * MS);
}

/// A server that reads a request to its end and answers with twice its bytes, each
/// inverted (so an answer cannot be the request echoed by mistake).
fn doubling_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut req = Vec::new();
                conn.read_to_end(&mut req).unwrap();
                let answer: Vec<u8> = req.iter().chain(req.iter()).map(|b| !b).collect();
                conn.write_all(&answer).unwrap();
                conn.shutdown(Shutdown::Write).unwrap();
            });
        }
    });
    addr
}

fn exchange(relay: &Relay, req: &[u8]) -> Vec<u8> {
    let mut conn = TcpStream::connect(relay.addr).unwrap();
    conn.write_all(req).unwrap();
    conn.shutdown(Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).unwrap();
    answer
}

fn carries_and_counts(up: Shape, down: Shape) {
    let relay = Relay::start(doubling_server(), up, down);
    assert_eq!(relay.traffic(), Traffic::default());
    let mut sent = 0;
    let mut received = 0;
    for (k, len) in [200_000usize, 1, 3 * PACKET + 17].into_iter().enumerate() {
        let req: Vec<u8> = (0..len).map(|i| (i * 31 + k * 7) as u8).collect();
        let answer = exchange(&relay, &req);
        let expected: Vec<u8> = req.iter().chain(req.iter()).map(|b| !b).collect();
        assert!(
            answer == expected,
            "answer {k} arrived changed ({} bytes)",
            answer.len()
        );
        sent += len as u64;
        received += 2 * len as u64;
        let t = relay.traffic();
        assert_eq!(
            t,
            Traffic {
                up: sent,
                down: received,
                connections: k as u64 + 1
            }
        );
        assert_eq!(t.total(), 3 * sent);
    }
    let before = relay.traffic();
    exchange(&relay, b"ping");
    assert_eq!(
        relay.traffic() - before,
        Traffic {
            up: 4,
            down: 8,
            connections: 1
        }
    );
}

#[test]
fn the_plain_relay_carries_bytes_intact_and_counts_them() {
    carries_and_counts(Shape::NONE, Shape::NONE);
}

#[test]
fn the_shaped_relay_carries_bytes_intact_and_counts_them() {
    // A fast link with a small delay, different each way: the scheduled path, quickly.
    carries_and_counts(
        Shape::new(MS, Some(200_000_000)),
        Shape::new(2 * MS, Some(400_000_000)),
    );
}
