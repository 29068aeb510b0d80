use std::io::IsTerminal;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = clerk::cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal: log files and journald get plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if tracing::enabled!(tracing::Level::DEBUG) {
        // Info and above hold ids, counts and states only; debug traces the pipeline.
        tracing::warn!(
            "logging at debug: the log holds customers' questions and the passages found for \
             them; use info or above where customers write"
        );
    }
    match clerk::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
