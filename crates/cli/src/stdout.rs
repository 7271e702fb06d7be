//! Standard output that ends quietly when the reader goes away, and error messages that say each
//! cause once.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by `--quiet`: standard output stays empty.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Makes every later [`write`] print nothing (`--quiet`).
pub fn set_quiet() {
    QUIET.store(true, Ordering::Relaxed);
}

/// Writes to standard output. A closed pipe (the reader, such as `head`, has exited) ends the program
/// with exit code 0 and no message, as other command-line tools do; results are written to files
/// atomically before anything is printed, so nothing is lost. Any other write error ends it with
/// exit code 2 and says why.
pub fn write(args: std::fmt::Arguments<'_>, newline: bool) {
    if QUIET.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let result = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(e) = result {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(2);
    }
}

/// Writes a line while a run is going on (an epoch of `train`): nothing with `--quiet`, and a
/// closed pipe is ignored rather than ending the program, so the run still finishes and saves.
pub fn write_during_run(args: std::fmt::Arguments<'_>) {
    if QUIET.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(args).and_then(|()| out.write_all(b"\n"));
}

/// The error and its causes, joined by `: `, leaving out a cause whose text the message already
/// holds (a library error that quotes its source, wrapped by a context that quotes it again).
pub fn error_message(err: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::error_message;
    use anyhow::Context;

    #[test]
    fn each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file (os error 2)");
        let err = Err::<(), _>(io)
            .context("cannot open a.csv: No such file (os error 2)")
            .context("--input")
            .unwrap_err();
        assert_eq!(
            error_message(&err),
            "--input: cannot open a.csv: No such file (os error 2)"
        );
        let err = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_message(&err), "outer: inner");
    }
}
