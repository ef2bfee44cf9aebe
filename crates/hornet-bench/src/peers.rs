//! The peer brokers of `compare`, rumqttd and RMQTT: where their binaries
//! are (a cache directory filled by `cargo install --root`, by default
//! `target/peers` beside this executable's directory), building them there
//! on first use, their configuration files (the templates in
//! `crates/hornet-bench/peers/`, equal in spirit to the shared Mosquitto
//! settings), the command line each takes and which suite entries each
//! can run. A peer that is missing and cannot be built is skipped with a
//! line saying why; it never fails the comparison.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::broker::{Kind, Ports};
use crate::pki::Pki;
use crate::scenario::{Params, Scenario};
use crate::transport::Transport;

/// rumqttd's configuration template.
pub(crate) const RUMQTTD_TEMPLATE: &str = include_str!("../peers/rumqttd.toml");
/// RMQTT's configuration template.
pub(crate) const RMQTT_TEMPLATE: &str = include_str!("../peers/rmqtt.toml");

/// How a peer is built: `cargo install <krate> --root <cache>` makes
/// `<cache>/bin/<bin>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recipe {
    /// Which broker.
    pub(crate) kind: Kind,
    /// The crate `cargo install` builds.
    pub(crate) krate: &'static str,
    /// The binary it installs.
    pub(crate) bin: &'static str,
    /// Programs the build needs on PATH besides cargo, each with the
    /// Debian package that has it.
    pub(crate) needs: &'static [(&'static str, &'static str)],
}

/// The peers, in column order.
pub(crate) const RECIPES: [Recipe; 2] = [
    Recipe {
        kind: Kind::Rumqttd,
        krate: "rumqttd",
        bin: "rumqttd",
        needs: &[],
    },
    Recipe {
        kind: Kind::Rmqtt,
        krate: "rmqttd",
        bin: "rmqttd",
        // Its build compiles C libraries with CMake and gRPC definitions
        // with protoc.
        needs: &[("cmake", "cmake"), ("protoc", "protobuf-compiler")],
    },
];

/// The recipe of a peer.
pub(crate) fn recipe(kind: Kind) -> Option<Recipe> {
    RECIPES.iter().copied().find(|r| r.kind == kind)
}

/// What became of a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// Its binary.
    Ready(PathBuf),
    /// Not run, and why.
    Skipped(String),
}

/// May `locate` build a missing peer?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Build {
    /// Yes, with `cargo install`.
    Allowed,
    /// No: `--smoke` (kept fast) or `--no-build-peers`; the reason.
    Forbidden(&'static str),
}

/// The default cache directory: `target/peers` for an executable in
/// `target/<profile>/`.
pub(crate) fn default_cache() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|t| t.join("peers")))
        .unwrap_or_else(|| PathBuf::from("target/peers"))
}

/// Finds the binary of `recipe` in `cache`, building it with `install`
/// (given the recipe and the cache) when it is missing and building is
/// allowed; `on_path` says whether a program is on PATH.
pub(crate) fn locate(
    recipe: Recipe,
    cache: &Path,
    build: Build,
    on_path: &dyn Fn(&str) -> bool,
    install: &dyn Fn(Recipe, &Path) -> Result<(), String>,
) -> Found {
    let binary = cache.join("bin").join(recipe.bin);
    if binary.is_file() {
        return Found::Ready(binary);
    }
    let missing = format!("no {} in {}", recipe.bin, cache.join("bin").display());
    if let Build::Forbidden(why) = build {
        return Found::Skipped(format!("{missing}, not built ({why})"));
    }
    if let Some((tool, package)) = recipe.needs.iter().find(|(t, _)| !on_path(t)) {
        return Found::Skipped(format!(
            "{missing}, and building it needs {tool} (Debian: apt-get install {package})"
        ));
    }
    match install(recipe, cache) {
        Ok(()) if binary.is_file() => Found::Ready(binary),
        Ok(()) => Found::Skipped(format!(
            "cargo install {} succeeded but made no {}",
            recipe.krate,
            binary.display()
        )),
        Err(e) => Found::Skipped(format!("cargo install {} failed: {e}", recipe.krate)),
    }
}

/// True when `program` is an executable file in a PATH directory.
pub(crate) fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// `cargo install <krate> --locked --root <cache>`, output to
/// `<cache>/<krate>.log`; when that fails, once more without `--locked`
/// (rumqttd 0.20's lock file pins `metrics` 0.22.1, which today's rustc
/// refuses).
pub(crate) fn cargo_install(recipe: Recipe, cache: &Path) -> Result<(), String> {
    std::fs::create_dir_all(cache).map_err(|e| format!("creating {}: {e}", cache.display()))?;
    let log_path = cache.join(format!("{}.log", recipe.krate));
    eprintln!(
        "hornet-bench: building {} (cargo install {} --root {}), log in {}",
        recipe.bin,
        recipe.krate,
        cache.display(),
        log_path.display()
    );
    let mut last = String::new();
    for locked in [true, false] {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("opening {}: {e}", log_path.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(install_args(recipe, cache, locked));
        let status = cmd
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .status()
            .map_err(|e| format!("running cargo: {e}"))?;
        if status.success() {
            return Ok(());
        }
        last = format!("{status}, see {}", log_path.display());
    }
    Err(last)
}

/// The arguments of `cargo install` for a peer.
fn install_args(recipe: Recipe, cache: &Path, locked: bool) -> Vec<std::ffi::OsString> {
    let mut v: Vec<std::ffi::OsString> = vec!["install".into(), recipe.krate.into()];
    if locked {
        v.push("--locked".into());
    }
    v.push("--root".into());
    v.push(cache.as_os_str().to_owned());
    v
}

/// Why `kind` cannot run the entry with these parameters and settings,
/// or `None` when it can.
pub(crate) fn unsupported(kind: Kind, params: &Params, extra_settings: &[&str]) -> Option<String> {
    if !kind.is_peer() || kind == Kind::Mosquitto {
        return None;
    }
    if params.scenario == Scenario::Durable || extra_settings.iter().any(|s| s.contains("{data}")) {
        return Some("runs without persistence".to_string());
    }
    match (kind, params.transport) {
        // rumqttd serves MQTT 5 over TCP only.
        (Kind::Rumqttd, t) if params.protocol.is_v5() && t != Transport::Tcp => {
            Some(format!("no MQTT 5 over {}", t.name()))
        }
        _ => None,
    }
}

/// The configuration file of peer `kind` for one start: its template with
/// the ports and certificate paths filled in. `data` is a fresh directory
/// of the run (RMQTT's plugin directory and logs).
pub(crate) fn config(
    kind: Kind,
    ports: &Ports,
    pki: Option<&Pki>,
    data: &Path,
) -> Result<String, String> {
    let template = match kind {
        Kind::Rumqttd => RUMQTTD_TEMPLATE,
        Kind::Rmqtt => RMQTT_TEMPLATE,
        Kind::Hornet | Kind::Mosquitto => {
            return Err(format!("{} reads mosquitto.conf", kind.title()))
        }
    };
    let pki = pki.ok_or_else(|| format!("{} needs the comparison's certificates", kind.title()))?;
    std::fs::create_dir_all(data).map_err(|e| format!("creating {}: {e}", data.display()))?;
    Ok(render(template, ports, pki, data))
}

/// Fills the `{placeholders}` of a template.
fn render(template: &str, ports: &Ports, pki: &Pki, data: &Path) -> String {
    let path = |p: &Path| p.display().to_string();
    [
        ("{tcp}", ports.tcp.to_string()),
        ("{v5}", ports.v5.to_string()),
        ("{aux}", ports.aux.to_string()),
        ("{ws}", ports.ws.to_string()),
        ("{tls}", ports.tls.to_string()),
        ("{wss}", ports.wss.to_string()),
        ("{cert}", path(&pki.cert_file)),
        ("{key}", path(&pki.key_file)),
        ("{data}", path(data)),
    ]
    .iter()
    .fold(template.to_string(), |text, (from, to)| {
        text.replace(from, to)
    })
}

/// "<crate> <version>" of a peer installed by `cargo install --root`,
/// read from the root's `.crates.toml` (`binary` is `<root>/bin/<bin>`).
pub(crate) fn version(kind: Kind, binary: &Path) -> Option<String> {
    let recipe = recipe(kind)?;
    let root = binary.parent()?.parent()?;
    let text = std::fs::read_to_string(root.join(".crates.toml")).ok()?;
    crate_version(&text, recipe.krate).map(|v| format!("{} {v}", recipe.krate))
}

/// The version of `krate` in the text of a `.crates.toml`
/// (`"rumqttd 0.20.0 (registry+...)" = ["rumqttd"]`).
fn crate_version(text: &str, krate: &str) -> Option<String> {
    let prefix = format!("\"{krate} ");
    let line = text.lines().find(|l| l.starts_with(&prefix))?;
    line[prefix.len()..]
        .split_whitespace()
        .next()
        .map(String::from)
}

/// The arguments `kind` starts with, given its configuration file.
pub(crate) fn args(kind: Kind, conf: &Path) -> Vec<std::ffi::OsString> {
    let flag = match kind {
        Kind::Hornet | Kind::Mosquitto => "-c",
        Kind::Rumqttd => "--config",
        Kind::Rmqtt => "-f",
    };
    let mut v = vec![flag.into(), conf.as_os_str().to_owned()];
    if kind == Kind::Rumqttd {
        // No banner on stdout.
        v.push("--quiet".into());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::{self, SuiteSize};
    use std::cell::Cell;

    fn ports() -> Ports {
        Ports {
            tcp: 10001,
            ws: 10002,
            tls: 10003,
            wss: 10004,
            v5: 10005,
            aux: 10006,
        }
    }

    fn pki() -> Pki {
        Pki {
            ca_file: "/w/ca.crt".into(),
            cert_file: "/w/server.crt".into(),
            key_file: "/w/server.key".into(),
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("hornet-bench-peers-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn configs_parse_and_hold_the_shared_limits() {
        let data = scratch("conf");
        for kind in [Kind::Rumqttd, Kind::Rmqtt] {
            let text = config(kind, &ports(), Some(&pki()), &data).unwrap();
            assert!(
                !text.contains("{tcp}") && !text.contains("{cert}"),
                "{text}"
            );
            let value: toml::Table = toml::from_str(&text)
                .unwrap_or_else(|e| panic!("{} config is not TOML: {e}\n{text}", kind.name()));
            assert!(!value.is_empty());
            for port in 10001..=10004 {
                assert!(
                    text.contains(&format!("127.0.0.1:{port}")),
                    "{kind:?} {port}"
                );
            }
            assert!(text.contains("/w/server.crt") && text.contains("/w/server.key"));
            // The inflight window of the shared settings.
            assert!(text.contains("1000"), "{text}");
        }
        let rumqttd: toml::Table =
            toml::from_str(&config(Kind::Rumqttd, &ports(), Some(&pki()), &data).unwrap()).unwrap();
        assert_eq!(
            rumqttd["v5"]["1"]["listen"].as_str(),
            Some("127.0.0.1:10005")
        );
        let rmqtt: toml::Table =
            toml::from_str(&config(Kind::Rmqtt, &ports(), Some(&pki()), &data).unwrap()).unwrap();
        assert_eq!(
            rmqtt["rpc"]["server_addr"].as_str(),
            Some("127.0.0.1:10006")
        );
        assert_eq!(
            rmqtt["listener"]["tls"]["external"]["max_inflight"].as_integer(),
            Some(1000)
        );
        assert_eq!(
            rmqtt["listener"]["wss"]["external"]["cert"].as_str(),
            Some("/w/server.crt")
        );
        assert_eq!(
            rmqtt["plugins"]["dir"]
                .as_str()
                .map(|d| d.starts_with(&*data.to_string_lossy())),
            Some(true)
        );
        assert_eq!(
            rumqttd["v4"]["1"]["connections"]["max_inflight_count"].as_integer(),
            Some(1000)
        );
        assert!(config(Kind::Mosquitto, &ports(), Some(&pki()), &data).is_err());
        assert!(config(Kind::Rumqttd, &ports(), None, &data).is_err());
        let _ = std::fs::remove_dir_all(&data);
    }

    #[test]
    fn a_built_peer_is_found_without_building() {
        let cache = scratch("built");
        std::fs::create_dir_all(cache.join("bin")).unwrap();
        std::fs::write(cache.join("bin/rumqttd"), "").unwrap();
        let built = Cell::new(0);
        let found = locate(
            RECIPES[0],
            &cache,
            Build::Forbidden("--smoke"),
            &|_| true,
            &|_, _| {
                built.set(built.get() + 1);
                Ok(())
            },
        );
        assert_eq!(found, Found::Ready(cache.join("bin/rumqttd")));
        assert_eq!(built.get(), 0);
        let _ = std::fs::remove_dir_all(&cache);
    }

    #[test]
    fn missing_peers_are_skipped_or_built() {
        let cache = scratch("missing");
        let never = |_: Recipe, _: &Path| -> Result<(), String> { panic!("must not build") };
        // Smoke mode never builds.
        let Found::Skipped(why) = locate(
            RECIPES[0],
            &cache,
            Build::Forbidden("--smoke"),
            &|_| true,
            &never,
        ) else {
            panic!("not skipped")
        };
        assert!(
            why.contains("no rumqttd") && why.contains("--smoke"),
            "{why}"
        );
        // RMQTT without cmake, or without protoc: skipped before trying.
        let Found::Skipped(why) = locate(RECIPES[1], &cache, Build::Allowed, &|_| false, &never)
        else {
            panic!("not skipped")
        };
        assert!(why.contains("needs cmake"), "{why}");
        let Found::Skipped(why) = locate(
            RECIPES[1],
            &cache,
            Build::Allowed,
            &|t| t != "protoc",
            &never,
        ) else {
            panic!("not skipped")
        };
        assert!(why.contains("apt-get install protobuf-compiler"), "{why}");
        // A failed build: skipped with the error.
        let failed = locate(RECIPES[0], &cache, Build::Allowed, &|_| true, &|_, _| {
            Err("exit status: 101".into())
        });
        assert_eq!(
            failed,
            Found::Skipped("cargo install rumqttd failed: exit status: 101".into())
        );
        // A build that makes the binary: ready.
        let made = locate(RECIPES[1], &cache, Build::Allowed, &|_| true, &|r, c| {
            std::fs::create_dir_all(c.join("bin")).unwrap();
            std::fs::write(c.join("bin").join(r.bin), "").unwrap();
            Ok(())
        });
        assert_eq!(made, Found::Ready(cache.join("bin/rmqttd")));
        let _ = std::fs::remove_dir_all(&cache);
    }

    #[test]
    fn peers_skip_what_they_do_not_serve() {
        let size = SuiteSize {
            seconds: 1.0,
            warmup: 0.0,
            smoke: false,
            max_rate: 1e6,
            idle_seconds: 1.0,
        };
        let entries = suite::suite(size);
        let by_id = |id: &str| entries.iter().find(|e| e.id == id).unwrap();
        let skip = |kind, id| unsupported(kind, &by_id(id).params, by_id(id).extra_settings);
        assert_eq!(skip(Kind::Rumqttd, "fanin-q0"), None);
        assert_eq!(skip(Kind::Rumqttd, "fanin-q1-v5"), None);
        assert_eq!(skip(Kind::Rmqtt, "pairs-q1-wss"), None);
        assert!(skip(Kind::Rumqttd, "durable-q1").is_some());
        assert!(skip(Kind::Rmqtt, "durable-q1-off").is_some());
        assert_eq!(skip(Kind::Mosquitto, "durable-q1"), None);
        assert_eq!(skip(Kind::Hornet, "durable-q1"), None);
    }

    #[test]
    fn versions_come_from_the_install_record() {
        let text = "[v1]\n\"rumqttd 0.20.0 (registry+https://github.com/rust-lang/crates.io-index)\" = [\"rumqttd\"]\n";
        assert_eq!(crate_version(text, "rumqttd"), Some("0.20.0".into()));
        assert_eq!(crate_version(text, "rmqttd"), None);
    }

    #[test]
    fn install_tries_the_lock_file_first() {
        let cache = Path::new("/c/peers");
        assert_eq!(
            install_args(RECIPES[1], cache, true),
            ["install", "rmqttd", "--locked", "--root", "/c/peers"]
        );
        assert_eq!(
            install_args(RECIPES[0], cache, false),
            ["install", "rumqttd", "--root", "/c/peers"]
        );
    }

    #[test]
    fn command_lines() {
        let conf = Path::new("/w/x.toml");
        assert_eq!(
            args(Kind::Rumqttd, conf),
            ["--config", "/w/x.toml", "--quiet"]
        );
        assert_eq!(args(Kind::Mosquitto, conf), ["-c", "/w/x.toml"]);
    }
}
