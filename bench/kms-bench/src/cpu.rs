//! Reading a process's CPU time, for the CPU cost per call beside calls/s.

use std::time::Duration;

/// CPU time (user + system) a process (this one for `None`) has used so far, from
/// `/proc/PID/stat` (Linux; `None` elsewhere). Its resolution is one clock tick (10 ms), fine over
/// a window of seconds.
pub(crate) fn process_cpu(pid: Option<u32>) -> Option<Duration> {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |p| format!("/proc/{p}/stat"),
    );
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces): utime and
    // stime are the 12th and 13th of them.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ').skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // USER_HZ is 100 on every Linux ABI Rust supports.
    Some(Duration::from_millis((utime + stime) * 10))
}
