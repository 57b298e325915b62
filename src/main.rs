//! The `haven` command: parse the command line, load config, set up tracing, run the subcommand.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    return_large_allocations_at_once();
    let cli = haven::cli::Cli::parse();
    haven::cli::init_tracing();
    match haven::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("haven: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Each password hash takes a 19 MiB block. glibc's malloc raises its mmap threshold after such
/// a block is freed, so later blocks come from heap arenas that are seldom given back: a burst
/// of sign-ins would leave the process large for good. A fixed threshold keeps every large
/// block in its own mapping, returned to the system the moment it is freed.
fn return_large_allocations_at_once() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any hashing starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}
