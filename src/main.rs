//! The `haven` command: parse the command line, load config, set up tracing, run the subcommand.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
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
