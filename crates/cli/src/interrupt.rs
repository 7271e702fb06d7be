//! Ctrl-C during training: say how to continue instead of dying silently.

/// Makes SIGINT (Ctrl-C) print that rerunning the same command resumes, then exit with status 130
/// (128 + SIGINT, as shells report it). Every file of a run directory is written atomically and the
/// trainer saves after each epoch, so stopping at any instant loses at most the epoch in progress;
/// a temporary file it leaves is removed when the run resumes.
pub fn say_how_to_resume_on_interrupt() {
    #[cfg(unix)]
    {
        extern "C" fn on_interrupt(_signal: libc::c_int) {
            const MESSAGE: &[u8] =
                b"\ninterrupted: every finished epoch is saved; rerun the same command to resume\n";
            // SAFETY: write(2) and _exit(2) are async-signal-safe; MESSAGE is a static buffer.
            unsafe {
                libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
                libc::_exit(130);
            }
        }
        let handler: extern "C" fn(libc::c_int) = on_interrupt;
        // SAFETY: installs a handler that only calls async-signal-safe functions.
        unsafe {
            libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        }
    }
}
