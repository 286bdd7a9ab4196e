//! CPU time and peak memory of a process we started, read from Linux's /proc, so the load
//! tool can report what each node and relay cost.

use serde::Serialize;

use super::Process;

/// Field 14 (utime) of /proc/<pid>/stat, counted from 0 after the `)` closing the command
/// name: the name may hold spaces, so fields are only counted after it.
const UTIME_AFTER_NAME: usize = 11;
/// Field 15 (stime), likewise.
const STIME_AFTER_NAME: usize = 12;

/// What one process cost, measured just before it was stopped.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProcessUsage {
    pub name: String,
    pub pid: Option<u32>,
    /// User plus system CPU time; `None` when it could not be measured.
    pub cpu_seconds: Option<f64>,
    /// Peak resident set size (VmHWM); `None` when it could not be measured.
    pub peak_rss_mib: Option<f64>,
    /// CPU seconds spent while the run's operations were under way (first start to last
    /// completion): without start-up, nor the load tool reading results back afterwards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_cpu_seconds: Option<f64>,
    /// Why the figures are missing, if they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum UsageError {
    #[error("the process has already been stopped")]
    Stopped,
    #[error("per-process usage is read from /proc, which this OS ({0}) does not have")]
    Unsupported(&'static str),
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: {what} is missing or not a number; is this a Linux /proc?")]
    Malformed { path: String, what: &'static str },
}

impl Process {
    /// CPU seconds and peak memory so far; call it before stopping the process, since /proc
    /// forgets a process once it has been reaped.
    pub fn usage(&self) -> ProcessUsage {
        let pid = self.pid();
        match pid.ok_or(UsageError::Stopped).and_then(read_usage) {
            Ok((cpu_seconds, peak_rss_mib)) => ProcessUsage {
                name: self.name.clone(),
                pid,
                cpu_seconds: Some(cpu_seconds),
                peak_rss_mib: Some(peak_rss_mib),
                load_cpu_seconds: None,
                unavailable: None,
            },
            Err(e) => ProcessUsage {
                name: self.name.clone(),
                pid,
                cpu_seconds: None,
                peak_rss_mib: None,
                load_cpu_seconds: None,
                unavailable: Some(e.to_string()),
            },
        }
    }
}

#[cfg(target_os = "linux")]
fn read_usage(pid: u32) -> Result<(f64, f64), UsageError> {
    let read = |path: String| {
        std::fs::read_to_string(&path)
            .map(|text| (path.clone(), text))
            .map_err(|e| UsageError::Read {
                path,
                reason: e.to_string(),
            })
    };
    let (stat_path, stat) = read(format!("/proc/{pid}/stat"))?;
    let ticks = cpu_ticks(&stat).ok_or(UsageError::Malformed {
        path: stat_path,
        what: "utime/stime",
    })?;
    let (status_path, status) = read(format!("/proc/{pid}/status"))?;
    let hwm_kib = vm_hwm_kib(&status).ok_or(UsageError::Malformed {
        path: status_path,
        what: "VmHWM",
    })?;
    // SAFETY: sysconf only reads a system constant.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks_per_second <= 0 {
        return Err(UsageError::Unsupported("sysconf(_SC_CLK_TCK) failed"));
    }
    Ok((
        ticks as f64 / ticks_per_second as f64,
        hwm_kib as f64 / 1024.0,
    ))
}

#[cfg(not(target_os = "linux"))]
fn read_usage(_pid: u32) -> Result<(f64, f64), UsageError> {
    Err(UsageError::Unsupported(std::env::consts::OS))
}

/// utime + stime, in clock ticks, from the text of /proc/<pid>/stat.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(UTIME_AFTER_NAME)?.parse().ok()?;
    let stime: u64 = fields.get(STIME_AFTER_NAME)?.parse().ok()?;
    utime.checked_add(stime)
}

/// The peak resident set size in KiB, from the text of /proc/<pid>/status.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real line, with a command name holding a space and a `)` to show why we split on the last one.
    const STAT: &str = "4242 (causeway (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                        250 75 0 0 20 0 9 0 123456 1000000 5000 18446744073709551615";

    #[test]
    fn cpu_ticks_add_user_and_system_time_after_the_command_name() {
        assert_eq!(cpu_ticks(STAT), Some(325));
    }

    #[test]
    fn cpu_ticks_refuse_truncated_or_garbled_stat() {
        assert_eq!(cpu_ticks("4242 (causeway) S 1 2 3"), None);
        assert_eq!(cpu_ticks("no parenthesis at all"), None);
        assert_eq!(cpu_ticks(&STAT.replace(" 250 ", " x ")), None);
    }

    #[test]
    fn vm_hwm_is_read_in_kib() {
        let status = "Name:\tcauseway\nVmPeak:\t  99999 kB\nVmHWM:\t   20480 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(20480));
        assert_eq!(vm_hwm_kib("Name:\tkthreadd\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_live_process_has_usage_and_a_stopped_one_says_why_not() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("30");
        let mut p = Process::spawn("sleep", cmd, &dir.path().join("sleep.log")).expect("spawn");
        let live = p.usage();
        assert!(live.unavailable.is_none(), "{live:?}");
        assert!(live.peak_rss_mib.is_some_and(|m| m > 0.0), "{live:?}");
        p.kill_hard();
        let gone = p.usage();
        assert_eq!(gone.cpu_seconds, None);
        assert_eq!(
            gone.unavailable.as_deref(),
            Some("the process has already been stopped")
        );
    }
}
