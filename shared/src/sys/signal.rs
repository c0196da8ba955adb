//! `<signal.h>`: sending signals, naming them, and the dispositions a child starts with.
#![expect(
    unsafe_code,
    reason = "nix's signal() is unsafe even for SIG_IGN and SIG_DFL; libc's is used for those"
)]

use std::io;

use nix::sys::signal::Signal;

/// The signal numbered `signal`, for nix's calls; an unknown number is `EINVAL`.
fn signal_of(signal: i32) -> io::Result<Signal> {
    Signal::try_from(signal).map_err(io::Error::from)
}

/// Sends `signal` to process `pid`.
pub(crate) fn kill(pid: libc::pid_t, signal: i32) -> io::Result<()> {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal_of(signal)?).map_err(io::Error::from)
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
    match Signal::try_from(signal) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => format!("signal {signal}"),
    }
}

/// Asks the kernel to send `signal` to this process when its parent thread exits
/// (`PR_SET_PDEATHSIG`), so a child never outlives a parent that was killed.
pub(crate) fn set_parent_death_signal(signal: i32) -> io::Result<()> {
    nix::sys::prctl::set_pdeathsig(signal_of(signal)?).map_err(io::Error::from)
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

/// Gives `signal` back its default action and unblocks it in the calling thread, whatever the
/// program made of it (a handler, `SIG_IGN`, a blocked mask), so that it ends the process.
pub(crate) fn restore_default(signal: i32) -> io::Result<()> {
    set_ignored(signal, false)?;
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(signal_of(signal)?);
    set.thread_unblock().map_err(io::Error::from)
}
