//! Logging as Mosquitto's operators configure it, through the real
//! binary: `log_dest` (file, reopened on SIGHUP after a logrotate-style
//! rename; stdout; syslog, received on a socket of the test's named by
//! `HORNET_SYSLOG_SOCKET`; none; several at once), `log_type`,
//! `log_timestamp`, `log_timestamp_format`, `log_facility`, `topic`
//! (read back with `mosquitto_sub` on `$SYS/broker/log/#`), and the same
//! in hornet.toml's `[log]`. Bounded waits, no sleeps.

mod common;
#[path = "support/process.rs"]
mod process;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{free_port, TIMEOUT};
use process::Proc;

/// A configuration file in a fresh directory (the broker's working
/// directory); `{dir}` in the text is that directory.
struct Setup {
    dir: tempfile::TempDir,
    file: &'static str,
}

impl Setup {
    fn conf(extra: &str) -> Setup {
        let port = free_port();
        Setup::write(
            "mosquitto.conf",
            &format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 admin_enabled false\n{extra}"
            ),
        )
    }

    fn write(file: &'static str, text: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let text = text.replace("{dir}", &dir.path().display().to_string());
        std::fs::write(dir.path().join(file), text).unwrap();
        Setup { dir, file }
    }

    /// The port of the first `listener` line of a mosquitto.conf.
    fn port(&self) -> u16 {
        read(&self.path(self.file))
            .lines()
            .find_map(|l| l.strip_prefix("listener "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .expect("a listener line")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn start(&self) -> Proc {
        Proc::spawn(
            "hornet",
            Command::new(env!("CARGO_BIN_EXE_hornet"))
                .current_dir(self.dir.path())
                .args(["-c", self.file]),
            "cargo build",
        )
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits (bounded) until the file at `path` has a line matching `pred`.
fn wait_for_line(path: &Path, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(line) = read(path).lines().find(|l| pred(l)) {
            return line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what} in {}:\n{}",
            path.display(),
            read(path)
        );
        std::thread::yield_now();
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// `<unix seconds>: ` then the text.
fn mosquitto_stamped(line: &str) -> bool {
    line.split_once(": ")
        .is_some_and(|(t, _)| t.len() >= 10 && t.bytes().all(|b| b.is_ascii_digit()))
}

fn stop(mut broker: Proc) -> Proc {
    signal(broker.pid(), "TERM");
    let status = broker.wait_exit(TIMEOUT);
    assert!(status.success(), "{status}: {}", broker.output());
    broker
}

#[test]
fn log_file_is_reopened_on_sighup_after_a_rename() {
    let setup = Setup::conf("log_dest file {dir}/hornet.log\n");
    let log = setup.path("hornet.log");
    let broker = setup.start();
    let line = wait_for_line(&log, "the banner", |l| l.contains("Opening MQTT listener"));
    assert!(mosquitto_stamped(&line), "{line}");
    // logrotate: move the file away, then SIGHUP.
    std::fs::rename(&log, setup.path("hornet.log.1")).unwrap();
    signal(broker.pid(), "HUP");
    wait_for_line(&log, "the SIGHUP line in the new file", |l| {
        l.contains("SIGHUP received")
    });
    let broker = stop(broker);
    let old = read(&setup.path("hornet.log.1"));
    assert!(!old.contains("SIGHUP received"), "{old}");
    assert!(read(&log).trim_end().ends_with("terminating"));
    // Nothing on standard error: the file is the only destination.
    assert!(
        broker.transcript.iter().all(|l| !l.starts_with("stderr: ")),
        "{}",
        broker.output()
    );
}

#[test]
fn several_destinations_and_a_timestamp_format() {
    let setup = Setup::conf(
        "log_dest stdout\nlog_dest file {dir}/a.log\nlog_timestamp_format %Y-%m-%dT%H:%M:%S\n",
    );
    let mut broker = setup.start();
    let line = broker.wait_line(TIMEOUT, "the banner on stdout", |l| {
        l.contains("Opening MQTT listener")
    });
    let (stamp, _) = line.split_once(": ").unwrap();
    assert_eq!(stamp.len(), 19, "{line}");
    assert_eq!(&stamp[4..5], "-");
    assert_eq!(&stamp[10..11], "T");
    wait_for_line(&setup.path("a.log"), "the banner in the file", |l| {
        l.ends_with(line.split_once(": ").unwrap().1)
    });
    let broker = stop(broker);
    assert!(broker.transcript.iter().all(|l| !l.starts_with("stderr: ")));
}

#[test]
fn no_timestamp_and_log_type_filters_levels() {
    // Only errors: the banner (information) is not logged, the pid file
    // error is.
    let setup = Setup::conf(
        "log_dest stdout\nlog_timestamp false\nlog_type error\npid_file {dir}/no/such/dir/p.pid\n",
    );
    let mut broker = setup.start();
    let status = broker.wait_exit(TIMEOUT);
    assert_eq!(status.code(), Some(1));
    let out = broker.output();
    assert!(
        broker
            .transcript
            .iter()
            .any(|l| l.starts_with("cannot write the pid_file")),
        "{out}"
    );
    assert!(!out.contains("Opening MQTT listener"), "{out}");
}

#[test]
fn log_dest_none_logs_nothing() {
    let setup = Setup::conf("log_dest none\n");
    let mut broker = setup.start();
    common::wait_for_port(
        read(&setup.path("mosquitto.conf"))
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .map(|p| ([127, 0, 0, 1], p.parse::<u16>().unwrap()).into())
            .unwrap(),
    );
    signal(broker.pid(), "TERM");
    assert!(broker.wait_exit(TIMEOUT).success());
    assert!(broker.transcript.is_empty(), "{}", broker.output());
}

#[test]
fn syslog_datagrams_carry_the_facility_and_level() {
    let setup = Setup::conf("log_dest syslog\nlog_facility 5\n");
    let socket_path = setup.path("log.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    let broker = Proc::spawn(
        "hornet",
        Command::new(env!("CARGO_BIN_EXE_hornet"))
            .current_dir(setup.dir.path())
            .env("HORNET_SYSLOG_SOCKET", &socket_path)
            .args(["-c", setup.file]),
        "cargo build",
    );
    let deadline = Instant::now() + TIMEOUT;
    let mut buf = [0u8; 4096];
    let banner = loop {
        assert!(Instant::now() < deadline, "no banner datagram");
        let n = socket.recv(&mut buf).expect("a syslog datagram");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.contains("Opening MQTT listener") {
            break text;
        }
    };
    // LOG_LOCAL5 (21) * 8 + LOG_INFO (6) = 174; no time stamp (syslog adds it).
    let prefix = format!("<174>hornet[{}]: Opening MQTT listener", broker.pid());
    assert!(banner.starts_with(&prefix), "{banner}");
    stop(broker);
}

#[test]
fn the_toml_log_section_says_the_same() {
    let port = free_port();
    let setup = Setup::write(
        "hornet.toml",
        &format!(
            "allow_anonymous = true\npersistence = false\n\n[[listener]]\nport = {port}\n\
             bind_address = \"127.0.0.1\"\n\n[log]\ndest = [\"file {{dir}}/t.log\"]\n\
             timestamp = false\ntypes = [\"information\"]\n\n[admin]\nenabled = false\n"
        ),
    );
    let broker = setup.start();
    let line = wait_for_line(&setup.path("t.log"), "the banner", |l| {
        l.contains("Opening MQTT listener")
    });
    assert!(line.starts_with("Opening MQTT listener"), "{line}");
    stop(broker);
}

/// `log_dest topic`: the broker's lines reach a `mosquitto_sub` on
/// `$SYS/broker/log/#`, on Mosquitto's level topics with the time stamp,
/// while the other destinations still get them.
#[test]
fn log_dest_topic_publishes_lines_on_sys_broker_log() {
    process::require("mosquitto_sub", "mosquitto-clients");
    let setup = Setup::conf("log_dest topic\nlog_dest stdout\n");
    let port = setup.port().to_string();
    let mut broker = setup.start();
    broker.wait_line(TIMEOUT, "the banner on stdout", |l| {
        l.contains("Opening MQTT listener")
    });
    let mut sub = Proc::spawn(
        "mosquitto_sub",
        // Line-buffered: its debug lines (the SUBACK) reach the pipe at once.
        Command::new("stdbuf").args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-i",
            "log-reader",
            "-q",
            "2",
            "-v",
            "-d",
            "-t",
            "$SYS/broker/log/#",
        ]),
        "mosquitto-clients",
    );
    // The reader's own connection is logged before it subscribes; a
    // publisher connecting after the SUBACK is logged to it.
    sub.wait_line(TIMEOUT, "the SUBACK", |l| l.contains("received SUBACK"));
    let status = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-i",
            "log-writer",
            "-t",
            "a",
            "-m",
            "x",
        ])
        .status()
        .expect("run mosquitto_pub");
    assert!(status.success());
    let line = sub.wait_line(TIMEOUT, "the publisher's connection line", |l| {
        l.starts_with("$SYS/broker/log/") && l.contains("log-writer")
    });
    let (topic, payload) = line.split_once(' ').unwrap();
    assert_eq!(topic, "$SYS/broker/log/N", "{line}");
    assert!(mosquitto_stamped(payload), "{line}");
    assert!(payload.contains("New client connected"), "{line}");
    // The same line went to standard output too.
    let text = payload.split_once(": ").unwrap().1.to_string();
    broker.wait_line(TIMEOUT, "the line on stdout", |l| l.ends_with(&text));
    // Without log_type subscribe, subscriptions are not logged (Mosquitto's
    // default): the next line after this subscriber's connection is its
    // disconnection.
    run_sub(&port, "quiet-sub", &["-t", "not/logged", "-E"]);
    let line = sub.wait_line(TIMEOUT, "the next log line", |l| {
        l.starts_with("$SYS/broker/log/")
            && l.contains("quiet-sub")
            && !l.contains("connected from")
    });
    assert!(line.starts_with("$SYS/broker/log/N "), "{line}");
    stop(broker);
}

fn run_sub(port: &str, id: &str, args: &[&str]) {
    let status = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", port, "-i", id, "-q", "1"])
        .args(args)
        .status()
        .expect("run mosquitto_sub");
    assert!(status.success(), "mosquitto_sub {args:?}");
}

/// `log_type subscribe` and `unsubscribe` with `log_dest topic`: each
/// subscription on `$SYS/broker/log/M/subscribe` as `CLIENT QOS FILTER`,
/// each unsubscription on `M/unsubscribe` as `CLIENT FILTER`, as Mosquitto
/// publishes them.
#[test]
fn subscriptions_are_published_on_m_subscribe_with_log_type_subscribe() {
    process::require("mosquitto_sub", "mosquitto-clients");
    let setup = Setup::conf(
        "log_dest topic\nlog_type notice\nlog_type subscribe\nlog_type unsubscribe\n\
         log_timestamp false\n",
    );
    let port = setup.port().to_string();
    let broker = setup.start();
    common::wait_for_port(([127, 0, 0, 1], setup.port()).into());
    let mut sub = Proc::spawn(
        "mosquitto_sub",
        Command::new("stdbuf").args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-i",
            "m-reader",
            "-v",
            "-d",
            "-t",
            "$SYS/broker/log/M/#",
        ]),
        "mosquitto-clients",
    );
    sub.wait_line(TIMEOUT, "the SUBACK", |l| l.contains("received SUBACK"));
    run_sub(&port, "m-sub", &["-t", "plant/+/temp", "-E"]);
    let line = sub.wait_line(TIMEOUT, "the subscribe line", |l| l.contains("m-sub"));
    assert_eq!(line, "$SYS/broker/log/M/subscribe m-sub 1 plant/+/temp");
    run_sub(&port, "m-unsub", &["-t", "a", "-U", "plant/+/temp", "-E"]);
    let line = sub.wait_line(TIMEOUT, "the unsubscribe line", |l| {
        l.starts_with("$SYS/broker/log/M/unsubscribe")
    });
    assert_eq!(line, "$SYS/broker/log/M/unsubscribe m-unsub plant/+/temp");
    stop(broker);
}
