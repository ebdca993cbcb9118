//! End-to-end over HTTPS: the server started with a certificate signed by a city's own CA
//! (made at test time with rcgen); a client trusting that CA registers, logs in and syncs;
//! a client without it is stopped at the handshake with nothing sent; plain HTTP to the
//! TLS port fails cleanly; unusable certificate or key files are refused at start.

use std::path::Path;

use client_core::sync::Remote;
use client_core::{Error, Replica};
use e2e::{CITY, TestServer, login_request, registration, replica_dir, spawn_tls_server};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use sync_server::TlsFiles;
use tempfile::TempDir;

/// A CA ("团成都市委 CA") and a server certificate it signed for localhost and 127.0.0.1,
/// written as PEM files in a temporary directory.
struct Pki {
    dir: TempDir,
    ca_pem: String,
}

impl Pki {
    fn new() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "团成都市委 测试根证书");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);

        let key = KeyPair::generate().unwrap();
        let mut leaf =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "zhtj sync server");
        let cert = leaf.signed_by(&key, &issuer).unwrap();

        let dir = TempDir::new().unwrap();
        std::fs::write(dir.path().join("server.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
        Pki {
            dir,
            ca_pem: ca_cert.pem(),
        }
    }

    fn files(&self) -> TlsFiles {
        TlsFiles {
            cert: self.dir.path().join("server.pem"),
            key: self.dir.path().join("server.key"),
        }
    }
}

fn login(remote: &Remote, n: u32) -> client_core::Result<client_core::protocol::LoginResponse> {
    remote.login(&login_request(n))
}

fn start() -> (Pki, TestServer) {
    let pki = Pki::new();
    let server = spawn_tls_server(pki.files());
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    assert!(!server.url.ends_with(":0"), "the real port is reported");
    (pki, server)
}

#[test]
fn trusted_ca_registers_logs_in_and_syncs_over_https() {
    let (pki, server) = start();
    let remote = Remote::with_ca(&server.url, pki.ca_pem.as_bytes()).unwrap();
    let reg = remote
        .register(&registration(&server.first_code, CITY, 1, "张三"))
        .unwrap();
    assert_eq!(reg.org_id, CITY);
    let resp = login(&remote, 1).unwrap();

    let (_dir, path) = replica_dir();
    let mut replica = Replica::create_for_login(&path, &server.url, &resp).unwrap();
    replica.sync(&remote, &mut |_, _, _| {}).unwrap();
    assert_eq!(replica.own().unwrap().record.short_name, "团成都市委");
    assert_eq!(replica.children(CITY).unwrap().len(), 20);

    // A local change goes up over HTTPS; the replica's client is rebuilt from the stored
    // server address with the CA given again (nothing about it is stored).
    let district = replica.children(CITY).unwrap()[0].id.clone();
    replica
        .issue_code(&district, time::OffsetDateTime::now_utc())
        .unwrap();
    let again = replica.remote_with_ca(Some(pki.ca_pem.as_bytes())).unwrap();
    let report = replica.sync(&again, &mut |_, _, _| {}).unwrap();
    assert_eq!(report.pushed, 1);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);

    // The replica's plain client (Mozilla roots only) does not trust the city's CA.
    let plain = replica.remote().unwrap();
    let err = replica.sync(&plain, &mut |_, _, _| {}).unwrap_err();
    assert_eq!(err.code(), "sync.network", "{err}");
    assert!(
        replica.logout(&again).unwrap(),
        "logout confirmed over HTTPS"
    );
}

#[test]
fn untrusted_certificate_fails_before_anything_is_sent() {
    let (pki, server) = start();
    let stranger = Remote::new(&server.url).unwrap();
    let err = stranger
        .register(&registration(&server.first_code, CITY, 2, "张三"))
        .unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert_eq!(err.code(), "sync.network");
    let message = err.to_string();
    assert!(message.contains("证书"), "{message}");
    assert!(message.contains("ZHTJ_CA"), "{message}");

    // Another CA does not help either.
    let other = Pki::new();
    let wrong = Remote::with_ca(&server.url, other.ca_pem.as_bytes()).unwrap();
    assert_eq!(
        wrong
            .register(&registration(&server.first_code, CITY, 2, "张三"))
            .unwrap_err()
            .code(),
        "sync.network"
    );

    // Nothing reached the server: the single-use code is still unused, and the trusting
    // client registers with it.
    let trusting = Remote::with_ca(&server.url, pki.ca_pem.as_bytes()).unwrap();
    trusting
        .register(&registration(&server.first_code, CITY, 2, "张三"))
        .unwrap();
}

#[test]
fn plain_http_to_the_tls_port_fails_cleanly() {
    let (pki, server) = start();
    let http_url = server.url.replacen("https://", "http://", 1);
    let plain = Remote::new(&http_url).unwrap();
    let err = login(&plain, 3).unwrap_err();
    assert_eq!(err.code(), "sync.network", "{err:?}");

    // The server is unharmed and keeps serving HTTPS.
    let trusting = Remote::with_ca(&server.url, pki.ca_pem.as_bytes()).unwrap();
    trusting
        .register(&registration(&server.first_code, CITY, 3, "张三"))
        .unwrap();
    login(&trusting, 3).unwrap();
}

#[test]
fn a_ca_file_without_a_certificate_is_refused() {
    let err = Remote::with_ca("https://127.0.0.1:1", b"not a certificate").unwrap_err();
    assert_eq!(err.code(), "sync.bad_ca");
    let pki = Pki::new();
    let key = std::fs::read(pki.files().key).unwrap();
    let err = Remote::with_ca("https://127.0.0.1:1", &key).unwrap_err();
    assert_eq!(err.code(), "sync.bad_ca", "a private key is no certificate");
}

fn start_with(files: TlsFiles) -> sync_server::Error {
    let data = TempDir::new().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = sync_server::Config {
        data_dir: data.path().join("server"),
        postgres: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        identity: Default::default(),
        schedule: Default::default(),
        tls: Some(files),
        net: Default::default(),
        trusted_proxies: Default::default(),
    };
    let err = match rt.block_on(sync_server::start(config)) {
        Ok(_) => panic!("the server must not start"),
        Err(e) => e,
    };
    assert!(
        !data.path().join("server").exists(),
        "nothing is created before the TLS files are checked"
    );
    err
}

#[test]
fn unusable_certificate_or_key_is_refused_at_start() {
    let pki = Pki::new();
    let dir = pki.dir.path();
    let missing = |name: &str| dir.join(name);
    std::fs::write(dir.join("garbage.pem"), "hello").unwrap();

    let cases: [(TlsFiles, &str, &str); 5] = [
        (
            TlsFiles {
                cert: missing("none.pem"),
                key: pki.files().key,
            },
            "config.tls_cert",
            "无法读取TLS证书文件",
        ),
        (
            TlsFiles {
                cert: pki.files().cert,
                key: missing("none.key"),
            },
            "config.tls_key",
            "无法读取TLS私钥文件",
        ),
        (
            TlsFiles {
                cert: dir.join("garbage.pem"),
                key: pki.files().key,
            },
            "config.tls_cert",
            "没有PEM格式的证书",
        ),
        (
            TlsFiles {
                cert: pki.files().cert,
                key: pki.files().cert,
            },
            "config.tls_key",
            "没有PEM格式的私钥",
        ),
        (
            // A key of another certificate.
            TlsFiles {
                cert: pki.files().cert,
                key: other_key(dir),
            },
            "config.tls",
            "不匹配",
        ),
    ];
    for (files, code, words) in cases {
        let err = start_with(files);
        assert_eq!(err.code(), code, "{err}");
        assert!(err.to_string().contains(words), "{err}");
    }
}

fn other_key(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("other.key");
    std::fs::write(&path, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    path
}
