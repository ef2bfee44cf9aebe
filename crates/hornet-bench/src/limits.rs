//! The open files limit: raised from soft to hard at start, so that this
//! process (19,000 client sockets) and the brokers it spawns (which inherit
//! it) can hold the `conns` scenario.

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the new soft
/// limit, or an error message when it could not be read or raised.
pub(crate) fn raise_nofile() -> Result<u64, String> {
    rlimit::increase_nofile_limit(u64::MAX).map_err(|e| format!("raising RLIMIT_NOFILE: {e}"))
}
