//! The options `hornet pub` and `hornet sub` share, named as
//! `mosquitto_pub`/`mosquitto_sub` name them: broker (`-h -p -L`),
//! identity (`-i -I -u -P`), session (`-V -k -c -x`), will
//! (`--will-*`), TLS (`--cafile --capath --cert --key --insecure
//! --tls-version --tls-alpn --tls-use-os-certs`), `-D` properties,
//! `-A`, `--unix`, `-d` and `--quiet`; and [`ClientArgs::resolve`], which checks them
//! together and turns them into the connection's target and CONNECT.
//!
//! Defaults as Mosquitto's: host `localhost`, port 1883 (8883 with TLS,
//! whatever the transport), keep-alive 60, MQTT 3.1.1, clean session, an
//! empty client id (the broker assigns one) except for MQTT 3.1 and `-c`,
//! which need one: `hornet-pub-<pid>` / `hornet-sub-<pid>`.

use std::path::PathBuf;

use bytes::Bytes;
use clap::{ArgAction, Args};
use hornet_codec::{Connect, LastWill, Properties, Property, Protocol, QoS};

use super::props::{self, CommandProperties};
use crate::client::tls::{self, TlsOptions};
use crate::client::transport::Target;

/// Options shared by `hornet pub` and `hornet sub`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct ClientArgs {
    /// MQTT host to connect to. Defaults to localhost.
    #[arg(short = 'h', long = "host", value_name = "HOST")]
    pub host: Option<String>,
    /// Network port. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub port: Option<u16>,
    /// user, password, host, port and topic as a URL:
    /// mqtt(s)://[username[:password]@]host[:port]/topic, or
    /// ws(s)://[username[:password]@]host[:port][/path] for MQTT over WebSocket.
    #[arg(short = 'L', long = "url", value_name = "URL")]
    pub url: Option<String>,
    /// Id to use for this client (empty by default: the broker assigns one).
    #[arg(short = 'i', long = "id", value_name = "ID")]
    pub id: Option<String>,
    /// Client id prefix; the process id is appended.
    #[arg(short = 'I', long = "id-prefix", value_name = "PREFIX")]
    pub id_prefix: Option<String>,
    /// Keep alive in seconds. Defaults to 60.
    #[arg(
        short = 'k',
        long = "keepalive",
        value_name = "SECONDS",
        default_value_t = 60
    )]
    pub keepalive: u16,
    /// Username.
    #[arg(short = 'u', long = "username", value_name = "USER")]
    pub username: Option<String>,
    /// Password.
    #[arg(short = 'P', long = "pw", value_name = "PASSWORD")]
    pub password: Option<String>,
    /// MQTT version: mqttv5, mqttv311 or mqttv31 (also 5, 311, 31). Defaults to mqttv311.
    #[arg(short = 'V', long = "protocol-version", value_name = "VERSION", value_parser = parse_version)]
    pub version: Option<ProtocolArg>,
    /// Disable clean session: keep the session when disconnected (persistent client).
    #[arg(short = 'c', long = "disable-clean-session")]
    pub no_clean: bool,
    /// Session expiry interval in seconds (MQTT 5); -1 or ∞ for never.
    #[arg(
        short = 'x',
        long = "session-expiry-interval",
        value_name = "SECONDS",
        allow_hyphen_values = true
    )]
    pub session_expiry: Option<String>,
    /// Print the packets sent and received.
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
    /// Do not print error messages.
    #[arg(long = "quiet")]
    pub quiet: bool,
    /// MQTT 5 properties: -D command identifier value (user-property takes name and value).
    #[arg(short = 'D', long = "property", num_args = 3..=4, action = ArgAction::Append,
          value_names = ["COMMAND", "IDENTIFIER", "VALUE"])]
    pub properties: Vec<String>,
    /// Topic of the client's will.
    #[arg(long = "will-topic", value_name = "TOPIC")]
    pub will_topic: Option<String>,
    /// Payload of the will (empty if not given).
    #[arg(long = "will-payload", value_name = "PAYLOAD")]
    pub will_payload: Option<String>,
    /// QoS of the will.
    #[arg(long = "will-qos", value_name = "QOS", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub will_qos: u8,
    /// Retain the will.
    #[arg(long = "will-retain")]
    pub will_retain: bool,
    /// File of trusted CA certificates (PEM); enables TLS.
    #[arg(long = "cafile", value_name = "FILE")]
    pub cafile: Option<PathBuf>,
    /// Directory of trusted CA certificates (PEM); enables TLS.
    #[arg(long = "capath", value_name = "DIR")]
    pub capath: Option<PathBuf>,
    /// Client certificate (PEM), if the broker asks for one.
    #[arg(long = "cert", value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long = "key", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Do not check that the server certificate's name matches the host.
    #[arg(long = "insecure")]
    pub insecure: bool,
    /// TLS version: tlsv1.3 or tlsv1.2 (both allowed by default).
    #[arg(long = "tls-version", value_name = "VERSION")]
    pub tls_version: Option<String>,
    /// ALPN protocol to offer in the TLS handshake.
    #[arg(long = "tls-alpn", value_name = "PROTOCOL")]
    pub tls_alpn: Option<String>,
    /// Trust the system's CA certificates; enables TLS.
    #[arg(long = "tls-use-os-certs")]
    pub tls_use_os_certs: bool,
    /// Accepted for compatibility: Nagle's algorithm is always off.
    #[arg(long = "nodelay")]
    pub nodelay: bool,
    /// Bind the outgoing socket to this host or address.
    #[arg(short = 'A', value_name = "BIND_ADDRESS")]
    pub bind_address: Option<String>,
    /// Connect through this unix domain socket instead of TCP.
    #[arg(long = "unix", value_name = "PATH")]
    pub unix: Option<PathBuf>,
    /// Print this help.
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// An MQTT version named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolArg(pub Protocol);

fn parse_version(s: &str) -> Result<ProtocolArg, String> {
    match s {
        "mqttv31" | "31" => Ok(ProtocolArg(Protocol::V3_1)),
        "mqttv311" | "311" => Ok(ProtocolArg(Protocol::V3_1_1)),
        "mqttv5" | "5" => Ok(ProtocolArg(Protocol::V5)),
        other => Err(format!(
            "Invalid protocol version \"{other}\": use mqttv31, mqttv311 or mqttv5"
        )),
    }
}

/// What the shared options come to.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// Where to connect.
    pub(crate) target: Target,
    /// The CONNECT to send.
    pub(crate) connect: Connect,
    /// The topic from `-L`, if the URL had one.
    pub(crate) url_topic: Option<String>,
    /// `-D` properties by packet.
    pub(crate) props: CommandProperties,
    /// `-d`.
    pub(crate) debug: bool,
    /// `--quiet`.
    pub(crate) quiet: bool,
}

/// The parts of `-L`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Url {
    pub(crate) tls: bool,
    pub(crate) ws: bool,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    /// The topic (mqtt, mqtts) or the HTTP path (ws, wss), without the leading `/`.
    pub(crate) path: String,
}

/// Parses `mqtt(s)://[user[:pass]@]host[:port]/topic` and the `ws(s)` forms.
pub(crate) fn parse_url(url: &str) -> Result<Url, String> {
    let bad = || format!("Error: Invalid URL for -L argument specified: {url}");
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let (tls, ws) = match scheme {
        "mqtt" => (false, false),
        "mqtts" => (true, false),
        "ws" => (false, true),
        "wss" => (true, true),
        _ => {
            return Err(format!(
                "Error: Unsupported URL scheme {scheme}:// (use mqtt, mqtts, ws or wss)."
            ))
        }
    };
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, p.to_string()),
        None => (rest, String::new()),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(u) => match u.split_once(':') {
            Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
            None => (Some(u.to_string()), None),
        },
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| bad())?),
            None if after.is_empty() => None,
            None => return Err(bad()),
        };
        (h.to_string(), port)
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.parse().map_err(|_| bad())?)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok(Url {
        tls,
        ws,
        username,
        password,
        host,
        port,
        path,
    })
}

impl ClientArgs {
    /// Checks the options together and builds the target and CONNECT;
    /// `role` (`pub` or `sub`) names the generated client id.
    pub(crate) fn resolve(&self, role: &str) -> Result<Resolved, String> {
        let url = self.url.as_deref().map(parse_url).transpose()?;
        let protocol = self.version.map_or(Protocol::V3_1_1, |v| v.0);
        let props = props::parse(&self.properties)?;
        if !props.is_empty() && !protocol.is_v5() {
            return Err("Error: -D given but the protocol is not MQTT v5 (use -V mqttv5).".into());
        }
        if self.keepalive != 0 && self.keepalive < 5 {
            return Err(
                "Error: Invalid keepalive given, it must be between 5 and 65535 inclusive.".into(),
            );
        }
        let tls_wanted = url.as_ref().is_some_and(|u| u.tls)
            || self.cafile.is_some()
            || self.capath.is_some()
            || self.tls_use_os_certs;
        if !tls_wanted && (self.cert.is_some() || self.key.is_some() || self.insecure) {
            return Err(
                "Error: --cert, --key and --insecure need TLS: give --cafile or --capath.".into(),
            );
        }
        let tls = if tls_wanted {
            let opts = TlsOptions {
                cafile: self.cafile.clone(),
                capath: self.capath.clone(),
                cert: self.cert.clone(),
                key: self.key.clone(),
                insecure: self.insecure,
                version: self.tls_version.clone(),
                alpn: self.tls_alpn.clone(),
            };
            Some(tls::build(&opts).map_err(|e| format!("Error: {e}"))?)
        } else {
            None
        };
        let ws = url.as_ref().is_some_and(|u| u.ws);
        let host = url
            .as_ref()
            .map(|u| u.host.clone())
            .or_else(|| self.host.clone())
            .unwrap_or_else(|| "localhost".into());
        let port = url
            .as_ref()
            .and_then(|u| u.port)
            .or(self.port)
            .unwrap_or(if tls.is_some() { 8883 } else { 1883 });
        let (url_topic, ws_path) = match &url {
            Some(u) if u.ws => (None, Some(format!("/{}", u.path))),
            Some(u) if !u.path.is_empty() => (Some(u.path.clone()), None),
            _ => (None, None),
        };
        let ws_path = ws_path.map(|p| if p == "/" { "/mqtt".to_string() } else { p });
        let ws_path = if ws { ws_path } else { None };

        let client_id = match (&self.id, &self.id_prefix) {
            (Some(_), Some(_)) => {
                return Err("Error: -i and -I argument cannot be used together.".into())
            }
            (Some(id), None) => id.clone(),
            (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
            (None, None) if protocol == Protocol::V3_1 || self.no_clean => {
                format!("hornet-{role}-{}", std::process::id())
            }
            (None, None) => String::new(),
        };
        if protocol == Protocol::V3_1 && client_id.len() > 23 {
            return Err(format!(
                "Error: MQTT 3.1 client ids are at most 23 characters ({client_id} has {}).",
                client_id.len()
            ));
        }
        let mut connect = Connect::new(protocol, client_id);
        connect.keep_alive = self.keepalive;
        connect.clean_start = !self.no_clean;
        connect.username = url
            .as_ref()
            .and_then(|u| u.username.clone())
            .or_else(|| self.username.clone())
            .map(Into::into);
        let password = url
            .as_ref()
            .and_then(|u| u.password.clone())
            .or_else(|| self.password.clone());
        if password.is_some() && connect.username.is_none() && !protocol.is_v5() {
            return Err("Error: A password needs a username (-u) before MQTT 5.".into());
        }
        connect.password = password.map(|p| Bytes::from(p.into_bytes()));
        connect.properties = props.connect.clone();
        if protocol.is_v5() {
            let expiry = match self.session_expiry.as_deref() {
                None if self.no_clean => Some(u32::MAX),
                None => None,
                Some("-1" | "∞") => Some(u32::MAX),
                Some(s) => Some(
                    s.parse::<u32>()
                        .map_err(|_| format!("Error: Invalid session-expiry-interval {s}."))?,
                ),
            };
            if let Some(secs) = expiry.filter(|s| *s != 0) {
                connect
                    .properties
                    .retain(|p| !matches!(p, Property::SessionExpiryInterval(_)));
                connect
                    .properties
                    .push(Property::SessionExpiryInterval(secs));
            }
        } else if self.session_expiry.is_some() {
            return Err("Error: -x is for MQTT v5 only (use -V mqttv5).".into());
        }
        if let Some(topic) = &self.will_topic {
            hornet_codec::topic::validate_name(topic)
                .map_err(|e| format!("Error: Invalid will topic '{topic}': {e}."))?;
            connect.will = Some(LastWill {
                topic: topic.as_str().into(),
                payload: self
                    .will_payload
                    .clone()
                    .map(|p| Bytes::from(p.into_bytes()))
                    .unwrap_or_default(),
                qos: QoS::from_u8(self.will_qos).expect("checked by clap"),
                retain: self.will_retain,
                properties: props.will.clone(),
            });
        } else if self.will_payload.is_some() || self.will_retain || !props.will.is_empty() {
            return Err(
                "Error: Will payload, QoS, retain or properties given without --will-topic.".into(),
            );
        }
        Ok(Resolved {
            target: Target {
                host,
                port,
                tls,
                ws_path,
                bind: self.bind_address.clone(),
                unix: self.unix.clone(),
            },
            connect,
            url_topic,
            props,
            debug: self.debug,
            quiet: self.quiet,
        })
    }
}

/// Properties, empty for MQTT 3.x.
pub(crate) fn v5_only(protocol: Protocol, props: &Properties) -> Properties {
    if protocol.is_v5() {
        props.clone()
    } else {
        Properties::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("mqtt://user:pw@example.com:1884/a/b").unwrap();
        assert_eq!(
            u,
            Url {
                tls: false,
                ws: false,
                username: Some("user".into()),
                password: Some("pw".into()),
                host: "example.com".into(),
                port: Some(1884),
                path: "a/b".into(),
            }
        );
        let u = parse_url("mqtts://h/t").unwrap();
        assert!(u.tls && !u.ws && u.port.is_none() && u.path == "t");
        let u = parse_url("wss://[::1]:8084/mqtt").unwrap();
        assert!(u.tls && u.ws);
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", Some(8084), "mqtt")
        );
        for bad in [
            "http://h/t",
            "mqtt:/h",
            "mqtt://:1/t",
            "mqtt://h:x/t",
            "mqtt://h:99999/t",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    fn args(list: &[&str]) -> ClientArgs {
        #[derive(clap::Parser)]
        #[command(disable_help_flag = true)]
        struct T {
            #[command(flatten)]
            a: ClientArgs,
        }
        let mut all = vec!["t"];
        all.extend_from_slice(list);
        <T as clap::Parser>::try_parse_from(all).unwrap().a
    }

    #[test]
    fn defaults_are_mosquittos() {
        let r = args(&[]).resolve("pub").unwrap();
        assert_eq!(r.target.host, "localhost");
        assert_eq!(r.target.port, 1883);
        assert!(r.target.tls.is_none() && r.target.ws_path.is_none());
        assert_eq!(r.connect.protocol, Protocol::V3_1_1);
        assert_eq!(r.connect.keep_alive, 60);
        assert!(r.connect.clean_start);
        assert_eq!(&*r.connect.client_id, "");
        let r = args(&["-V", "mqttv31"]).resolve("pub").unwrap();
        assert!(r.connect.client_id.starts_with("hornet-pub-"));
    }

    #[test]
    fn url_sets_host_port_credentials_and_topic() {
        let r = args(&["-L", "mqtt://u:p@127.0.0.1:1999/x/y", "-V", "5"])
            .resolve("sub")
            .unwrap();
        assert_eq!((r.target.host.as_str(), r.target.port), ("127.0.0.1", 1999));
        assert_eq!(r.url_topic.as_deref(), Some("x/y"));
        assert_eq!(r.connect.username.as_deref(), Some("u"));
        assert_eq!(r.connect.password.as_deref(), Some(&b"p"[..]));
        let r = args(&["-L", "ws://127.0.0.1:8080"]).resolve("sub").unwrap();
        assert_eq!(r.target.ws_path.as_deref(), Some("/mqtt"));
        assert_eq!(r.target.port, 8080);
        let r = args(&["-L", "ws://h/other"]).resolve("sub").unwrap();
        assert_eq!(r.target.ws_path.as_deref(), Some("/other"));
        assert_eq!(r.target.port, 1883);
    }

    #[test]
    fn will_session_expiry_and_properties() {
        let r = args(&[
            "-V",
            "mqttv5",
            "--will-topic",
            "w",
            "--will-payload",
            "gone",
            "--will-qos",
            "1",
            "--will-retain",
            "-D",
            "will",
            "will-delay-interval",
            "3",
            "-c",
            "-i",
            "me",
        ])
        .resolve("sub")
        .unwrap();
        let will = r.connect.will.unwrap();
        assert_eq!(
            (&*will.topic, &will.payload[..], will.qos, will.retain),
            ("w", &b"gone"[..], QoS::AtLeastOnce, true)
        );
        assert_eq!(
            will.properties.as_slice(),
            &[Property::WillDelayInterval(3)]
        );
        assert!(!r.connect.clean_start);
        assert_eq!(
            r.connect.properties.as_slice(),
            &[Property::SessionExpiryInterval(u32::MAX)]
        );
        let r = args(&["-V", "5", "-x", "30"]).resolve("sub").unwrap();
        assert_eq!(
            r.connect.properties.as_slice(),
            &[Property::SessionExpiryInterval(30)]
        );
    }

    #[test]
    fn inconsistent_options_are_refused() {
        for bad in [
            &["-D", "publish", "content-type", "x"][..],
            &["-k", "2"],
            &["-i", "a", "-I", "b"],
            &["--will-payload", "x"],
            &["--insecure"],
            &["-x", "5"],
            &["-V", "31", "-i", "a-client-id-longer-than-23"],
            &["--will-topic", "a/+"],
        ] {
            let err = args(bad).resolve("pub").unwrap_err();
            assert!(err.starts_with("Error: "), "{bad:?}: {err}");
        }
    }
}
