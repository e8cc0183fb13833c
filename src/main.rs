use clap::Parser;
use scimitar::cli::{Cli, Command, run};

fn main() {
    let mut cli = Cli::parse();
    let mut demo_dir = None;
    if matches!(cli.command, Some(Command::Demo(_))) && std::env::var_os("SCIMITAR_DATA_DIR").is_none() {
        // The demo's journal and reports go to a folder of their own, so the Reports pane shows
        // the demo's operations and the real audit trail never sees the emulator. It goes away
        // with the demo, as the emulator's data does.
        let dir = std::env::temp_dir().join(format!("scimitar-demo-{}", std::process::id()));
        // SAFETY: no other thread exists yet (the runtime is built below).
        unsafe { std::env::set_var("SCIMITAR_DATA_DIR", &dir) };
        demo_dir = Some(dir);
        if let Some(Command::Demo(args)) = cli.command.as_mut() {
            args.own_data_dir = true;
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scimitar: cannot start the async runtime: {e}");
            std::process::exit(scimitar::exit::FAILURE);
        }
    };
    let code = match cli.command {
        Some(Command::Demo(args)) => runtime.block_on(scimitar::tui::run_demo_opts(args, cli.theme, cli.conn.read_only)),
        // `--read-only` reaches every command through `cli.conn`; the write commands refuse it
        // in `bulk::writer`, before they connect (the gate's first rule, asked early).
        Some(cmd) => runtime.block_on(run(&cli.conn, cmd)),
        None => runtime.block_on(scimitar::tui::run_console_opts(&cli.conn, cli.theme, cli.conn.read_only)),
    };
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    if let Some(dir) = demo_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::process::exit(code);
}
