use clap::Parser;
use scimitar::cli::{Cli, run};

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
        Some(cmd) => runtime.block_on(run(&cli.conn, cmd)),
        None => {
            eprintln!("scimitar: the console is not built yet; try `scimitar --help`");
            scimitar::exit::USAGE
        }
    };
    std::process::exit(code);
}
