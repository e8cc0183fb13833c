use clap::Parser;
use scimitar::cli::{Cli, Command, run};

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scimitar: cannot start the async runtime: {e}");
            std::process::exit(scimitar::exit::FAILURE);
        }
    };
    let code = match cli.command {
        Some(Command::Demo(args)) => runtime.block_on(scimitar::tui::run_demo_opts(args, cli.theme, cli.read_only)),
        Some(cmd) if cli.read_only && scimitar::cli::is_write(&cmd) => {
            eprintln!("scimitar: --read-only: this command changes Slack; nothing was done");
            scimitar::exit::USAGE
        }
        Some(cmd) => runtime.block_on(run(&cli.conn, cmd)),
        None => runtime.block_on(scimitar::tui::run_console_opts(&cli.conn, cli.theme, cli.read_only)),
    };
    std::process::exit(code);
}
