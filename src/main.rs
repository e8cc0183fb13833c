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
        Some(Command::Demo(args)) => runtime.block_on(scimitar::tui::run_demo(args, cli.theme)),
        Some(cmd) => runtime.block_on(run(&cli.conn, cmd)),
        None => runtime.block_on(scimitar::tui::run_console(&cli.conn, cli.theme)),
    };
    std::process::exit(code);
}
