//! Process figures from `/proc`: CPU time (utime + stime of
//! `/proc/PID/stat`), memory (`VmRSS`, `VmHWM` of `/proc/PID/status`) and
//! context switches and nanosecond CPU time summed over the threads
//! (`/proc/PID/task/*/status`, `/proc/PID/task/*/schedstat`).
//!
//! CPU time is in clock ticks; the tick rate is read once from
//! `getconf CLK_TCK` and taken as 100 (the Linux standard) if that fails.

use std::sync::OnceLock;

/// Which process to read: a pid, or this process (`self`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proc {
    /// This process.
    Myself,
    /// Another process.
    Pid(u32),
}

impl Proc {
    fn dir(self) -> String {
        match self {
            Proc::Myself => "/proc/self".to_string(),
            Proc::Pid(pid) => format!("/proc/{pid}"),
        }
    }
}

/// Clock ticks per second of `/proc/PID/stat` times.
pub(crate) fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|&t| t > 0.0)
            .unwrap_or(100.0)
    })
}

/// utime + stime of the process, in seconds.
pub(crate) fn cpu_seconds(proc: Proc) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("{}/stat", proc.dir())).ok()?;
    parse_cpu_ticks(&stat).map(|ticks| ticks as f64 / clock_ticks())
}

/// utime + stime in ticks from the text of `/proc/PID/stat`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: split after
    // the last ')'. What follows starts at field 3, so fields 14 and 15 are
    // at indices 11 and 12.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Resident and peak resident memory, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Memory {
    /// `VmRSS`.
    pub(crate) rss_kib: u64,
    /// `VmHWM`.
    pub(crate) hwm_kib: u64,
}

/// The process's memory figures.
pub(crate) fn memory(proc: Proc) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("{}/status", proc.dir())).ok()?;
    parse_memory(&status)
}

fn parse_memory(status: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// Context switches of all the process's threads, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Switches {
    /// `voluntary_ctxt_switches`: a thread blocked, so each is one wake-up
    /// later.
    pub(crate) voluntary: u64,
    /// `nonvoluntary_ctxt_switches`: preemptions.
    pub(crate) nonvoluntary: u64,
}

/// The process's context switches, over the threads alive now.
pub(crate) fn switches(proc: Proc) -> Option<Switches> {
    let tasks = std::fs::read_dir(format!("{}/task", proc.dir())).ok()?;
    let mut sum = Switches::default();
    for task in tasks.flatten() {
        // A thread may exit between the listing and the read.
        if let Ok(status) = std::fs::read_to_string(task.path().join("status")) {
            let s = parse_switches(&status)?;
            sum.voluntary += s.voluntary;
            sum.nonvoluntary += s.nonvoluntary;
        }
    }
    Some(sum)
}

/// CPU time of the threads alive now, summed, in seconds, at nanosecond
/// resolution (the first field of `/proc/PID/task/*/schedstat`; the
/// clock-tick figures of `stat` only resolve 10 ms, too coarse for an idle
/// broker).
pub(crate) fn thread_cpu_seconds(proc: Proc) -> Option<f64> {
    let tasks = std::fs::read_dir(format!("{}/task", proc.dir())).ok()?;
    let mut ns: u64 = 0;
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) {
            ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(ns as f64 / 1e9)
}

fn parse_switches(status: &str) -> Option<Switches> {
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some(Switches {
        voluntary: field("voluntary_ctxt_switches:")?,
        nonvoluntary: field("nonvoluntary_ctxt_switches:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_tricky_command_name() {
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 30 0 0 20 0";
        assert_eq!(parse_cpu_ticks(stat), Some(280));
    }

    #[test]
    fn status_memory_lines() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(
            parse_memory(status),
            Some(Memory {
                rss_kib: 1024,
                hwm_kib: 2048
            })
        );
    }

    #[test]
    fn status_switch_lines() {
        let status = "Name:\tx\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t7\n";
        assert_eq!(
            parse_switches(status),
            Some(Switches {
                voluntary: 120,
                nonvoluntary: 7
            })
        );
        assert_eq!(parse_switches("Name:\tx\n"), None);
    }

    #[test]
    fn own_process_is_readable() {
        assert!(cpu_seconds(Proc::Myself).is_some());
        // This test thread has at least blocked once by now, or not: the
        // sum exists either way.
        assert!(switches(Proc::Myself).is_some());
        assert!(thread_cpu_seconds(Proc::Myself).is_some_and(|s| s > 0.0));
        assert!(memory(Proc::Myself).is_some_and(|m| m.rss_kib > 0));
    }
}
