//! `<signal.h>`: sending signals and naming them.

use std::io;

use super::cvt;

/// Sends `signal` to process `pid`.
pub(crate) fn kill(pid: libc::pid_t, signal: i32) -> io::Result<()> {
    // SAFETY: kill only takes integers; a bad pid or signal comes back as an errno.
    cvt(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// The conventional name of a signal number, e.g. `SIGKILL` for 9.
///
/// # Examples
///
/// ```
/// use multiprocessing::signal_name;
///
/// assert_eq!(signal_name(9), "SIGKILL");
/// // An exit code of -15 means the process was killed by signal 15:
/// assert_eq!(signal_name(15), "SIGTERM");
/// ```
pub fn signal_name(signal: i32) -> String {
    match nix::sys::signal::Signal::try_from(signal) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => format!("signal {signal}"),
    }
}

/// Asks the kernel to send `signal` to this process when its parent thread exits
/// (`PR_SET_PDEATHSIG`), so a child never outlives a parent that was killed.
pub(crate) fn set_parent_death_signal(signal: i32) -> io::Result<()> {
    let arg = libc::c_ulong::try_from(signal).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: PR_SET_PDEATHSIG takes a signal number as its one argument; no pointers.
    cvt(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, arg, 0, 0, 0) }).map(drop)
}

/// Sets the disposition of `signal` to ignored (`ignore`) or to its default action. Used by the
/// fork server, which ignores `SIGINT` (a Ctrl-C meant for the program must not end the server)
/// and gives its children back the default.
pub(crate) fn set_ignored(signal: i32, ignore: bool) -> io::Result<()> {
    let handler = if ignore { libc::SIG_IGN } else { libc::SIG_DFL };
    // SAFETY: SIG_IGN and SIG_DFL are not functions that run; installing either is always sound.
    let previous = unsafe { libc::signal(signal, handler) };
    if previous == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
