use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = causeway_relay::cli::Cli::parse();
    match causeway_relay::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
