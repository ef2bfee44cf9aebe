//! Network namespaces for the partition tests (`cluster_partition.rs`):
//! one namespace per machine and one for the switch, joined by veth pairs
//! to a bridge, in a subnet `10.77.{x}.0/24` of their own; the test process
//! reaches them through one more veth pair whose host end is `10.77.{x}.1`.
//! Links are cut with nftables rules inside a machine's namespace.
//!
//! Everything is named `hpt-{pid}-{n}-...` (`hpt{x}h` for the host's veth):
//! a [`Net`] deletes its namespaces when dropped, after killing by id any
//! process still running in them (processes the test started there), and
//! [`Net::new`] first sweeps the namespaces of test processes that no
//! longer run (a run killed before its guards dropped). Nothing is ever
//! sent outside the subnet.
//!
//! Needs root, `ip netns` and `nft` ([`Net::unavailable`] says why not).
//! A missing tool is an installation problem: the tests skip without it,
//! except under CI (`CI` set), where they fail. A machine that forbids
//! namespaces (not root, or a container without CAP_SYS_ADMIN) cannot run
//! them even when everything is installed: they skip, saying so loudly.

#![allow(dead_code, unreachable_pub)]

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The prefix of every name this harness makes.
const PREFIX: &str = "hpt-";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Runs `ip args...`; panics with its stderr when it fails.
fn ip(args: &[&str]) {
    run("ip", args, None);
}

fn run(program: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(text.as_bytes())
            .expect("write to stdin");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Output of `ip args...`, or `None` when it fails.
fn ip_output(args: &[&str]) -> Option<String> {
    let out = Command::new("ip")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The namespaces whose name starts with [`PREFIX`].
fn ours() -> Vec<String> {
    ip_output(&["netns", "list"])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(PREFIX))
        .map(str::to_string)
        .collect()
}

/// Kills (SIGKILL, by id) what runs in namespace `ns`, then deletes it.
fn delete(ns: &str) {
    if let Some(pids) = ip_output(&["netns", "pids", ns]) {
        for pid in pids.split_whitespace() {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
    }
    let _ = Command::new("ip")
        .args(["netns", "del", ns])
        .stderr(Stdio::null())
        .status();
}

/// Why the partition tests cannot run on this machine.
pub enum Unavailable {
    /// A tool is not installed: `scripts/test.sh deps` installs it.
    Missing(String),
    /// Everything is installed, but this machine does not let the test
    /// make network namespaces.
    Forbidden(String),
}

/// A set of machines on one switch (see the module doc).
pub struct Net {
    /// `hpt-{pid}-{n}`.
    tag: String,
    /// The third octet of the subnet.
    x: u8,
    machines: usize,
}

impl Net {
    /// Why namespaces cannot be made here (`None`: they can).
    pub fn unavailable() -> Option<Unavailable> {
        for (tool, arg, package) in [("ip", "-V", "iproute2"), ("nft", "--version", "nftables")] {
            let ok = Command::new(tool)
                .arg(arg)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Some(Unavailable::Missing(format!(
                    "`{tool}` is not available (install {package})"
                )));
            }
        }
        let root = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
            })
            .unwrap_or(false);
        if !root {
            return Some(Unavailable::Forbidden(
                "not root (network namespaces need it)".into(),
            ));
        }
        let probe = format!(
            "{PREFIX}{}-probe{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        if ip_output(&["netns", "add", &probe]).is_none() {
            return Some(Unavailable::Forbidden(
                "`ip netns add` failed (a container needs CAP_SYS_ADMIN)".into(),
            ));
        }
        delete(&probe);
        None
    }

    /// Deletes the namespaces of test processes that no longer run.
    pub fn sweep_stale() {
        for ns in ours() {
            let pid = ns[PREFIX.len()..].split('-').next().unwrap_or("");
            let alive = !pid.is_empty() && std::path::Path::new(&format!("/proc/{pid}")).exists();
            if !alive {
                eprintln!("netns: deleting stale namespace {ns}");
                delete(&ns);
            }
        }
    }

    /// `machines` machines on a switch, and the host's way in.
    pub fn new(machines: usize) -> Net {
        Net::sweep_stale();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let used = ip_output(&["-o", "-4", "addr", "show"]).unwrap_or_default();
        let x = (0..200u32)
            .map(|i| ((pid.wrapping_mul(7) + n * 13 + i) % 200 + 20) as u8)
            .find(|x| !used.contains(&format!("10.77.{x}.")))
            .expect("a free 10.77.x.0/24");
        let net = Net {
            tag: format!("{PREFIX}{pid}-{n}"),
            x,
            machines,
        };
        let sw = net.switch();
        ip(&["netns", "add", &sw]);
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &sw, "link", "set", "br0", "up"]);
        for i in 1..=machines {
            let ns = net.ns(i);
            let port = format!("p{i}");
            ip(&["netns", "add", &ns]);
            ip(&[
                "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ]);
            ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"]);
            let addr = format!("{}/24", net.addr(i));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        let host = net.host_veth();
        ip(&[
            "link", "add", &host, "type", "veth", "peer", "name", "up0", "netns", &sw,
        ]);
        ip(&["-n", &sw, "link", "set", "up0", "master", "br0", "up"]);
        ip(&["addr", "add", &format!("10.77.{x}.1/24"), "dev", &host]);
        ip(&["link", "set", &host, "up"]);
        net
    }

    fn switch(&self) -> String {
        format!("{}-sw", self.tag)
    }

    fn host_veth(&self) -> String {
        format!("hpt{}h", self.x)
    }

    /// Machine `i`'s namespace (1-based).
    pub fn ns(&self, i: usize) -> String {
        format!("{}-m{i}", self.tag)
    }

    /// Machine `i`'s address.
    pub fn addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.x, 10 + i as u8)
    }

    /// `program` to run inside machine `i` (`ip netns exec`, which execs
    /// it: the child's id is the program's).
    pub fn command(&self, i: usize, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns(i), program]);
        cmd
    }

    /// Loads nftables `rules` (an `nft -f` script) inside machine `i`.
    pub fn nft(&self, i: usize, rules: &str) {
        run(
            "ip",
            &["netns", "exec", &self.ns(i), "nft", "-f", "-"],
            Some(rules),
        );
    }

    /// Drops, inside machine `i`, every TCP packet to or from machine `j`
    /// on `port` (either end): both directions of both links between them.
    pub fn cut(&self, i: usize, j: usize, port: u16) {
        let peer = self.addr(j);
        self.nft(
            i,
            &format!(
                "table inet hornet_cut {{\n\
                 chain out {{ type filter hook output priority 0; \
                 ip daddr {peer} tcp dport {port} drop; ip daddr {peer} tcp sport {port} drop; }}\n\
                 chain in {{ type filter hook input priority 0; \
                 ip saddr {peer} tcp dport {port} drop; ip saddr {peer} tcp sport {port} drop; }}\n\
                 }}\n"
            ),
        );
    }

    /// Drops, inside machine `i`, the packets it sends to machine `j`'s
    /// `port`: the one TCP connection `i` dials to `j` there, one way.
    pub fn cut_one_way(&self, i: usize, j: usize, port: u16) {
        let peer = self.addr(j);
        self.nft(
            i,
            &format!(
                "table inet hornet_cut {{\n\
                 chain out {{ type filter hook output priority 0; \
                 ip daddr {peer} tcp dport {port} drop; }}\n\
                 }}\n"
            ),
        );
    }

    /// Removes machine `i`'s cut.
    pub fn heal(&self, i: usize) {
        self.nft(i, "delete table inet hornet_cut\n");
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 1..=self.machines {
            delete(&self.ns(i));
        }
        // The host's veth goes with its peer in the switch.
        delete(&self.switch());
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_veth()])
            .stderr(Stdio::null())
            .status();
    }
}
