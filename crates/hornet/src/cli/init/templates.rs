//! The text of the files `hornet init` writes: the commented
//! `hornet.toml` with its four listeners, the systemd unit of the
//! instance and its README with the exact commands to connect on each
//! listener.

use std::fmt::Write as _;
use std::path::Path;

use super::Ports;

/// What the templates need to know about the instance.
pub(crate) struct Instance<'a> {
    /// The instance directory (absolute).
    pub(crate) dir: &'a Path,
    /// Its name (the directory's name).
    pub(crate) name: &'a str,
    /// The listeners' ports.
    pub(crate) ports: Ports,
    /// The `hornet` binary that serves it (absolute).
    pub(crate) binary: &'a Path,
    /// The user the service runs as, when not root.
    pub(crate) user: Option<&'a str>,
    /// The names the server certificate is valid for.
    pub(crate) names: &'a [String],
}

impl Instance<'_> {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// `hornet.toml`: TCP, TLS, WebSocket and secure WebSocket listeners,
/// the password file, the data directory, the pid file and the admin API.
pub(crate) fn hornet_toml(i: &Instance<'_>) -> String {
    let p = i.ports;
    format!(
        r#"# Hornet instance "{name}", made by `hornet init`.
# Start it with:  hornet -c {toml}
# Every key is explained in docs/configuration.md; `hornet check-config {toml}`
# prints what is in effect.

# Clients log in with a user of the password file (`hornet passwd {passwd} NAME`
# adds one; SIGHUP reloads it). No anonymous clients.
allow_anonymous = false
password_file = "{passwd}"

# Written at start, removed at exit: `kill -HUP $(cat {pid})` reloads users and
# certificates, `kill $(cat {pid})` stops the broker.
pid_file = "{pid}"

# Sessions, queued and retained messages: written before they are acknowledged.
persistence = true
data_dir = "{data}"

# Plain MQTT over TCP.
[[listener]]
port = {tcp}
kind = "tcp"

# MQTT over TLS. Clients trust {ca}.
[[listener]]
port = {tls}
kind = "tls"
certfile = "{cert}"
keyfile = "{key}"

# MQTT over WebSocket (any path, e.g. ws://host:{ws}/mqtt).
[[listener]]
port = {ws}
kind = "ws"

# MQTT over secure WebSocket (wss://host:{wss}/mqtt).
[[listener]]
port = {wss}
kind = "wss"
certfile = "{cert}"
keyfile = "{key}"

[log]
# Where log lines go: stderr (the journal under systemd), a file, syslog...
dest = ["stderr"]

# The admin API and dashboard: http://127.0.0.1:{admin}/ (log in as admin).
[admin]
enabled = true
bind = "127.0.0.1"
port = {admin}
users = ["admin"]
"#,
        name = i.name,
        toml = i.path("hornet.toml"),
        passwd = i.path("passwd"),
        pid = i.path("hornet.pid"),
        data = i.path("data"),
        ca = i.path("certs/ca.crt"),
        cert = i.path("certs/server.crt"),
        key = i.path("certs/server.key"),
        tcp = p.tcp,
        tls = p.tls,
        ws = p.ws,
        wss = p.wss,
        admin = p.admin,
    )
}

/// The systemd unit of this instance: `Type=notify` (Hornet reports
/// readiness), reload by SIGHUP, hardened, writing only its directory.
pub(crate) fn systemd_unit(i: &Instance<'_>) -> String {
    let user = match i.user {
        Some(u) => format!("User={u}\n"),
        None => "# User=hornet\n".to_string(),
    };
    format!(
        "# Hornet instance \"{name}\", made by `hornet init`. Install it with:\n\
         #   sudo cp {unit} /etc/systemd/system/ && sudo systemctl daemon-reload\n\
         #   sudo systemctl enable --now hornet-{name}\n\
         [Unit]\n\
         Description=Hornet MQTT broker ({name})\n\
         Documentation=file://{readme}\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=notify\n\
         ExecStart={binary} -c {toml}\n\
         ExecReload=/bin/kill -HUP $MAINPID\n\
         {user}\
         WorkingDirectory={dir}\n\
         Restart=on-failure\n\
         LimitNOFILE=65536\n\
         NoNewPrivileges=true\n\
         PrivateTmp=true\n\
         PrivateDevices=true\n\
         ProtectSystem=strict\n\
         ReadWritePaths={dir}\n\
         ProtectKernelTunables=true\n\
         ProtectKernelModules=true\n\
         ProtectControlGroups=true\n\
         RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n\
         RestrictNamespaces=true\n\
         LockPersonality=true\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        name = i.name,
        unit = i.path(&format!("hornet-{}.service", i.name)),
        readme = i.path("README.md"),
        binary = i.binary.display(),
        toml = i.path("hornet.toml"),
        dir = i.dir.display(),
    )
}

/// The README: start, connect on each listener (`hornet sub` and
/// `mosquitto_sub`, exactly), add users, run as a service.
pub(crate) fn readme(i: &Instance<'_>) -> String {
    let p = i.ports;
    let ca = i.path("certs/ca.crt");
    let toml = i.path("hornet.toml");
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Hornet instance \"{name}\"\n\n\
         Made by `hornet init`. What is here:\n\n\
         - `hornet.toml`: the configuration (commented): four listeners, TCP {tcp}, TLS {tls},\n  \
         WebSocket {ws} and secure WebSocket {wss}; the admin API on 127.0.0.1:{admin}.\n\
         - `passwd`: the users (the admin user; its password was printed once by `hornet init`).\n\
         - `certs/`: a CA made for this instance (`ca.crt`, `ca.key`) and the server certificate\n  \
         it signed (`server.crt`, `server.key`) for {names}.\n\
         - `data/`: sessions, queued and retained messages.\n\
         - `hornet-{name}.service`: a systemd unit for this instance.\n\n\
         ## Start\n\n\
         ```\nhornet -c {toml}\n```\n\n\
         In the background: `hornet -c {toml} -d`; stop it with `kill $(cat {pid})`.\n\n\
         ## Connect\n\n\
         Below, PASSWORD is the admin password `hornet init` printed. Subscribe to\n\
         everything on each listener, then publish from another terminal with the same options\n\
         (`hornet pub ... -t test -m hello`, or `mosquitto_pub`).\n\n\
         TCP, port {tcp}:\n\n\
         ```\n\
         hornet sub -h 127.0.0.1 -p {tcp} -u admin -P 'PASSWORD' -t '#' -v\n\
         mosquitto_sub -h 127.0.0.1 -p {tcp} -u admin -P 'PASSWORD' -t '#' -v\n\
         ```\n\n\
         TLS, port {tls} (the client trusts this instance's CA):\n\n\
         ```\n\
         hornet sub -h localhost -p {tls} --cafile {ca} -u admin -P 'PASSWORD' -t '#' -v\n\
         mosquitto_sub -h localhost -p {tls} --cafile {ca} -u admin -P 'PASSWORD' -t '#' -v\n\
         ```\n\n\
         WebSocket, port {ws} (`mosquitto_sub` has no WebSocket transport; MQTT.js and\n\
         Paho use ws://HOST:{ws}/mqtt):\n\n\
         ```\n\
         hornet sub -L ws://127.0.0.1:{ws}/mqtt -u admin -P 'PASSWORD' -t '#' -v\n\
         ```\n\n\
         Secure WebSocket, port {wss}:\n\n\
         ```\n\
         hornet sub -L wss://localhost:{wss}/mqtt --cafile {ca} -u admin -P 'PASSWORD' -t '#' -v\n\
         ```\n\n\
         From another machine, use a name the certificate holds ({names}) instead of\n\
         localhost, and copy `certs/ca.crt` to it.\n\n\
         ## Add users\n\n\
         ```\n\
         hornet passwd {passwd} alice\n\
         kill -HUP $(cat {pid})\n\
         ```\n\n\
         `hornet passwd -D {passwd} alice` deletes one. Topic rules: add `acl_file` to\n\
         `hornet.toml` (Mosquitto's ACL syntax; see docs/security.md).\n\n\
         ## Run as a service\n\n\
         ```\n\
         sudo cp {unit} /etc/systemd/system/\n\
         sudo systemctl daemon-reload\n\
         sudo systemctl enable --now hornet-{name}\n\
         ```\n\n\
         `systemctl reload hornet-{name}` reloads users and certificates; the log is in\n\
         `journalctl -u hornet-{name}`.",
        name = i.name,
        tcp = p.tcp,
        tls = p.tls,
        ws = p.ws,
        wss = p.wss,
        admin = p.admin,
        names = i.names.join(", "),
        toml = toml,
        pid = i.path("hornet.pid"),
        passwd = i.path("passwd"),
        ca = ca,
        unit = i.path(&format!("hornet-{}.service", i.name)),
    );
    s
}
