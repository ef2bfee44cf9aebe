//! X.509 v1 client certificates, made as Mosquitto's TLS documentation
//! shows (`openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key
//! -CAcreateserial -out client.crt`, no extensions file), accepted as
//! Mosquitto (OpenSSL) accepts them: `mosquitto_pub` / `mosquitto_sub`
//! with `--cert` / `--key` over TLS 1.3 and 1.2, the certificate's CN as
//! the user name; a v1 certificate from another CA is still refused. And
//! `ciphers` / `ciphers_tls1.3` in OpenSSL's syntax choosing the suites,
//! `crlfile` refusing revoked certificates, and the server's chain
//! completed with the intermediate from `cafile`; `use_identity_as_username`
//! without `require_certificate`.
//! Needs `openssl` and mosquitto-clients.

mod common;
#[path = "support/process.rs"]
mod process;

use std::path::Path;
use std::process::Command;

use common::{free_port, TIMEOUT};
use process::Proc;

const CLIENTS: &str = "the Debian package mosquitto-clients (`apt-get install mosquitto-clients`)";

fn openssl(dir: &Path, args: &[&str]) {
    process::require("openssl", "the Debian package openssl");
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA `name` (ca key and certificate `name.key`, `name.crt`).
fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-subj",
            &format!("/CN={name}"),
            "-days",
            "2",
        ],
    );
}

/// A certificate `name.crt` (key `name.key`) for CN `cn` signed by `ca`,
/// with `ext` as its extensions file or, without one, X.509 v1.
fn signed(dir: &Path, name: &str, cn: &str, ca: &str, ext: Option<&str>) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ],
    );
    let (csr, crt, ca_crt, ca_key) = (
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{ca}.crt"),
        format!("{ca}.key"),
    );
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca_crt,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &crt,
        "-days",
        "2",
    ];
    if let Some(ext) = ext {
        std::fs::write(dir.join("ext.cnf"), ext).unwrap();
        args.extend(["-extfile", "ext.cnf"]);
    }
    openssl(dir, &args);
}

fn version(dir: &Path, crt: &str) -> String {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(["x509", "-in", crt, "-noout", "-text"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find(|l| l.trim_start().starts_with("Version:"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn tls_args<'a>(port: &'a str, client: &'a str, tls_version: &'a str) -> Vec<String> {
    [
        "-h",
        "localhost",
        "-p",
        port,
        "--cafile",
        "ca.crt",
        "--cert",
        &format!("{client}.crt"),
        "--key",
        &format!("{client}.key"),
        "--tls-version",
        tls_version,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn v1_client_certificates_from_the_ca_are_accepted_as_mosquitto_does() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ca(d, "ca");
    signed(
        d,
        "server",
        "localhost",
        "ca",
        Some("subjectAltName=DNS:localhost,IP:127.0.0.1\n"),
    );
    signed(d, "client", "device-1", "ca", None);
    ca(d, "other");
    signed(d, "stranger", "device-2", "other", None);
    assert_eq!(
        version(d, "client.crt"),
        "Version: 1 (0x0)",
        "the docs' command makes v1"
    );

    let port = free_port();
    std::fs::write(
        d.join("mosquitto.conf"),
        format!(
            "listener {port} 127.0.0.1\ncertfile server.crt\nkeyfile server.key\ncafile ca.crt\n\
             require_certificate true\nuse_identity_as_username true\npersistence false\n\
             admin_enabled false\n"
        ),
    )
    .unwrap();
    let mut broker = Proc::spawn(
        "hornet",
        Command::new(env!("CARGO_BIN_EXE_hornet"))
            .current_dir(d)
            .args(["-c", "mosquitto.conf"]),
        "cargo build",
    );
    broker.wait_line(TIMEOUT, "the listener", |l| l.contains("Opening MQTT"));
    let port = port.to_string();

    for tls_version in ["tlsv1.3", "tlsv1.2"] {
        let topic = format!("v1/{tls_version}");
        let mut sub = Proc::spawn(
            "mosquitto_sub --cert",
            Command::new("stdbuf")
                .current_dir(d)
                .args(["-oL", "mosquitto_sub"])
                .args(tls_args(&port, "client", tls_version))
                .args(["-i", "sub", "-t", &topic, "-C", "1", "-v", "-d"]),
            CLIENTS,
        );
        sub.wait_line(TIMEOUT, "SUBACK", |l| l.starts_with("Subscribed (mid:"));
        Proc::spawn(
            "mosquitto_pub --cert",
            Command::new("mosquitto_pub")
                .current_dir(d)
                .args(tls_args(&port, "client", tls_version))
                .args(["-i", "pub", "-t", &topic, "-m", "from a v1 certificate"]),
            CLIENTS,
        )
        .expect_success(TIMEOUT);
        sub.wait_line(TIMEOUT, "the message", |l| {
            l == format!("{topic} from a v1 certificate")
        });
        sub.expect_success(TIMEOUT);
    }
    // The certificate's CN is the user name.
    broker.wait_line(TIMEOUT, "the user name", |l| l.contains("device-1"));

    // A v1 certificate from a CA the listener does not trust: refused.
    let mut stranger = Proc::spawn(
        "mosquitto_pub --cert (other CA)",
        Command::new("mosquitto_pub")
            .current_dir(d)
            .args(tls_args(&port, "stranger", "tlsv1.3"))
            .args(["-i", "stranger", "-t", "v1/x", "-m", "no"]),
        CLIENTS,
    );
    let status = stranger.wait_exit(TIMEOUT);
    assert!(!status.success(), "{}", stranger.output());
}

/// `ciphers` and `ciphers_tls1.3` (OpenSSL's syntax) choose rustls' suites:
/// `openssl s_client -tls1_2 -cipher` with the kept suite completes the
/// handshake, with another it is refused; TLS 1.3 likewise with
/// `-ciphersuites`. (`mosquitto_pub --tls-version tlsv1.2` still offers
/// TLS 1.3, so it cannot pin a TLS 1.2 suite.)
#[test]
fn ciphers_choose_the_tls_12_suites() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ca(d, "ca");
    signed(
        d,
        "server",
        "localhost",
        "ca",
        Some("subjectAltName=DNS:localhost,IP:127.0.0.1\n"),
    );
    let port = free_port();
    std::fs::write(
        d.join("mosquitto.conf"),
        format!(
            "listener {port} 127.0.0.1\ncertfile server.crt\nkeyfile server.key\n\
             ciphers ECDHE-RSA-AES128-GCM-SHA256:!aNULL\nciphers_tls1.3 TLS_AES_128_GCM_SHA256\n\
             allow_anonymous true\npersistence false\nadmin_enabled false\n"
        ),
    )
    .unwrap();
    let mut broker = Proc::spawn(
        "hornet",
        Command::new(env!("CARGO_BIN_EXE_hornet"))
            .current_dir(d)
            .args(["-c", "mosquitto.conf"]),
        "cargo build",
    );
    broker.wait_line(TIMEOUT, "the listener", |l| l.contains("Opening MQTT"));
    let port = port.to_string();
    let handshake = |args: &[&str]| {
        let mut cmd = Command::new("openssl");
        cmd.current_dir(d)
            .args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-CAfile",
                "ca.crt",
            ])
            .args(args)
            .stdin(std::process::Stdio::null());
        let out = cmd.output().expect("run openssl s_client");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, out) = handshake(&["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]);
    assert!(ok, "the kept suite: {out}");
    let (ok, out) = handshake(&["-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"]);
    assert!(!ok, "a TLS 1.2 suite left out: {out}");
    let (ok, out) = handshake(&["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"]);
    assert!(ok, "the kept TLS 1.3 suite: {out}");
    let (ok, out) = handshake(&["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"]);
    assert!(!ok, "a TLS 1.3 suite left out: {out}");
    drop(broker);
}

/// Revokes `crt` in `ca`'s CRL and writes the CRL as `crl.pem`, with
/// `openssl ca` as an operator does.
fn revoke(dir: &Path, crt: &str) {
    if !dir.join("index.txt").exists() {
        std::fs::write(dir.join("index.txt"), "").unwrap();
        std::fs::write(dir.join("crlnumber"), "1000\n").unwrap();
        std::fs::write(
            dir.join("ca.cnf"),
            "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
             default_md = sha256\ndefault_crl_days = 1\n",
        )
        .unwrap();
    }
    let ca = ["-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.crt"];
    openssl(dir, &[&["ca"][..], &ca, &["-revoke", crt]].concat());
    openssl(
        dir,
        &[&["ca"][..], &ca, &["-gencrl", "-out", "crl.pem"]].concat(),
    );
}

/// `crlfile`: a revoked client certificate (v3, and v1 as the docs make
/// them) is refused; one the CRL does not list still gets in.
#[test]
fn crlfile_refuses_revoked_client_certificates() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ca(d, "ca");
    signed(
        d,
        "server",
        "localhost",
        "ca",
        Some("subjectAltName=DNS:localhost,IP:127.0.0.1\n"),
    );
    signed(d, "good", "device-good", "ca", None);
    signed(d, "lost", "device-lost", "ca", None);
    signed(
        d,
        "lost3",
        "device-lost3",
        "ca",
        Some("extendedKeyUsage=clientAuth\n"),
    );
    revoke(d, "lost.crt");
    revoke(d, "lost3.crt");
    let port = free_port();
    std::fs::write(
        d.join("mosquitto.conf"),
        format!(
            "listener {port} 127.0.0.1\ncertfile server.crt\nkeyfile server.key\ncafile ca.crt\n\
             crlfile crl.pem\nrequire_certificate true\nuse_identity_as_username true\n\
             persistence false\nadmin_enabled false\n"
        ),
    )
    .unwrap();
    let mut broker = Proc::spawn(
        "hornet",
        Command::new(env!("CARGO_BIN_EXE_hornet"))
            .current_dir(d)
            .args(["-c", "mosquitto.conf"]),
        "cargo build",
    );
    broker.wait_line(TIMEOUT, "the listener", |l| l.contains("Opening MQTT"));
    let port = port.to_string();
    for (client, admitted) in [("good", true), ("lost", false), ("lost3", false)] {
        let mut p = Proc::spawn(
            "mosquitto_pub --cert",
            Command::new("mosquitto_pub")
                .current_dir(d)
                .args(tls_args(&port, client, "tlsv1.3"))
                .args(["-i", client, "-t", "crl/x", "-m", "m"]),
            CLIENTS,
        );
        let status = p.wait_exit(TIMEOUT);
        assert_eq!(status.success(), admitted, "{client}: {}", p.output());
    }
}

/// The server's chain completed from `cafile`, as OpenSSL completes it:
/// `certfile` holds only the leaf, signed by an intermediate CA that is in
/// `cafile` beside the root; a client trusting only the root connects.
#[test]
fn the_server_sends_the_intermediate_from_cafile() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ca(d, "root");
    signed(
        d,
        "inter",
        "Intermediate CA",
        "root",
        Some("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"),
    );
    signed(
        d,
        "server",
        "localhost",
        "inter",
        Some("subjectAltName=DNS:localhost,IP:127.0.0.1\n"),
    );
    let both = format!(
        "{}{}",
        std::fs::read_to_string(d.join("inter.crt")).unwrap(),
        std::fs::read_to_string(d.join("root.crt")).unwrap()
    );
    std::fs::write(d.join("cas.crt"), both).unwrap();
    let port = free_port();
    std::fs::write(
        d.join("mosquitto.conf"),
        format!(
            "listener {port} 127.0.0.1\ncertfile server.crt\nkeyfile server.key\ncafile cas.crt\n\
             allow_anonymous true\npersistence false\nadmin_enabled false\n"
        ),
    )
    .unwrap();
    let mut broker = Proc::spawn(
        "hornet",
        Command::new(env!("CARGO_BIN_EXE_hornet"))
            .current_dir(d)
            .args(["-c", "mosquitto.conf"]),
        "cargo build",
    );
    broker.wait_line(TIMEOUT, "the listener", |l| l.contains("Opening MQTT"));
    let mut p = Proc::spawn(
        "mosquitto_pub --cafile root.crt",
        Command::new("mosquitto_pub").current_dir(d).args([
            "-h",
            "localhost",
            "-p",
            &port.to_string(),
            "--cafile",
            "root.crt",
            "-t",
            "chain/x",
            "-m",
            "m",
        ]),
        CLIENTS,
    );
    p.expect_success(TIMEOUT);
}

/// `use_identity_as_username` without `require_certificate` starts, as in
/// Mosquitto: a client with a certificate gets its CN as user name, one
/// without is refused at CONNECT as bad user name or password (3.1.1: 4,
/// MQTT 5: 134).
#[test]
fn identity_without_require_certificate_refuses_clients_without_one() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ca(d, "ca");
    signed(
        d,
        "server",
        "localhost",
        "ca",
        Some("subjectAltName=DNS:localhost,IP:127.0.0.1\n"),
    );
    signed(d, "client", "device-1", "ca", None);
    let port = free_port();
    std::fs::write(
        d.join("mosquitto.conf"),
        format!(
            "listener {port} 127.0.0.1\ncertfile server.crt\nkeyfile server.key\ncafile ca.crt\n\
             use_identity_as_username true\npersistence false\nadmin_enabled false\n"
        ),
    )
    .unwrap();
    let mut broker = Proc::spawn(
        "hornet",
        Command::new(env!("CARGO_BIN_EXE_hornet"))
            .current_dir(d)
            .args(["-c", "mosquitto.conf"]),
        "cargo build",
    );
    broker.wait_line(TIMEOUT, "the listener", |l| l.contains("Opening MQTT"));
    let port = port.to_string();
    let run = |args: &[&str]| {
        let mut p = Proc::spawn(
            "mosquitto_pub",
            Command::new("mosquitto_pub")
                .current_dir(d)
                .args([
                    "-h",
                    "localhost",
                    "-p",
                    &port,
                    "--cafile",
                    "ca.crt",
                    "-t",
                    "id/x",
                ])
                .args(["-m", "m"])
                .args(args),
            CLIENTS,
        );
        let status = p.wait_exit(TIMEOUT);
        (status.code(), p.output())
    };
    let (code, out) = run(&["--cert", "client.crt", "--key", "client.key"]);
    assert_eq!(code, Some(0), "with a certificate: {out}");
    let (code, out) = run(&["-V", "mqttv311"]);
    assert_eq!(code, Some(4), "3.1.1 without a certificate: {out}");
    let (code, out) = run(&["-V", "mqttv5"]);
    assert_eq!(code, Some(134), "MQTT 5 without a certificate: {out}");
}
