fn main() {
    restore_sigpipe();
    std::process::exit(assay::cli::main());
}

/// Restores the default SIGPIPE action, which the Rust runtime sets to "ignore": a closed
/// pipe (`assay schema | head -1`) then ends the process quietly, as for other Unix tools,
/// instead of making the next write fail and `println!` panic.
#[cfg(unix)]
fn restore_sigpipe() {
    // SAFETY: called first in `main`, before any thread starts; setting a signal's action
    // to its default has no other precondition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_sigpipe() {}
