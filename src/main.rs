use clap::CommandFactory;
use scimitar::cli::{Cli, run};
use scimitar::command_error::Fail;
use scimitar::commands::Command;
use scimitar::env::Environment;

fn main() {
    harden();
    // A usage error exits 64 (EX_USAGE), not clap's 2: `plan` says "changes" with 2.
    let cli = match Cli::parse_args(std::env::args_os()) {
        Ok(cli) => cli,
        Err(code) => std::process::exit(code),
    };
    // Flags and the process environment are read here, once; everything below gets them as
    // values (`Inputs`, `UiOptions`).
    let mut inputs = cli.inputs();
    // The secrets are in `inputs` now: their copies in the environment block are wiped.
    forget_secret_variables(&inputs.secret_variables);
    let ui = cli.ui();
    // The demo's journal and reports go to a private folder of its own (0700, a fresh name, gone
    // with the demo, as the emulator's data is), so the Reports pane shows the demo's operations
    // and the real audit trail never sees the emulator. SCIMITAR_DATA_DIR still wins.
    // The demo's exports (report CSVs) must outlive it: they go to the real data dir's `exports/`.
    let demo_exports = scimitar::env::Paths::resolve(&inputs).data_dir.join("exports");
    let demo_dir = if matches!(cli.command, Some(Command::Demo(_))) && inputs.data_dir.is_none() {
        use std::os::unix::fs::PermissionsExt;
        match tempfile::Builder::new().prefix("scimitar-demo-").permissions(std::fs::Permissions::from_mode(0o700)).tempdir() {
            Ok(d) => {
                inputs.data_dir = Some(d.path().to_path_buf());
                Some(d)
            }
            Err(e) => {
                eprintln!("scimitar: cannot make the demo's private data dir: {e}");
                std::process::exit(scimitar::exit::FAILURE);
            }
        }
    } else {
        None
    };
    // A headless command streams a listing through a few page buffers and exits: two workers
    // are plenty whatever the machine's core count. `tune_allocator` keeps freed pages from
    // staying resident (see there): in headless commands and in the console, whose loading
    // passes 100 page bodies through. The emulator keeps the defaults.
    let headless = !matches!(cli.command, None | Some(Command::Demo(_)) | Some(Command::Emulator(_)));
    if !matches!(cli.command, Some(Command::Emulator(_))) {
        tune_allocator();
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if headless {
        builder.worker_threads(2);
    }
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scimitar: cannot start the async runtime: {e}");
            std::process::exit(scimitar::exit::FAILURE);
        }
    };
    let code = match cli.command {
        // The emulator is a server of its own: no config, no profile.
        Some(Command::Emulator(args)) => runtime.block_on(run_emulator(args)),
        // Generated from the CLI definition: no config, no profile.
        Some(Command::Completions { shell, .. }) => {
            docs(scimitar::commands::docs::completions(shell, Cli::command(), &mut std::io::stdout().lock()))
        }
        Some(Command::Man { dir, .. }) => {
            docs(scimitar::commands::docs::man(Cli::command(), dir.as_deref(), &mut std::io::stdout().lock()))
        }
        command => match Environment::load(inputs) {
            Err(e) => fail(Fail::from(e)),
            Ok(mut env) => match command {
                Some(Command::Demo(args)) => {
                    if demo_dir.is_some() {
                        env.paths.exports = Some(demo_exports);
                    }
                    docs(scimitar::command_error::console_exit(runtime.block_on(scimitar_console::run_demo(
                        args.into(),
                        env,
                        ui,
                        demo_dir.is_some(),
                    ))))
                }
                Some(cmd) => runtime.block_on(run(&env, cmd)),
                None => docs(scimitar::command_error::console_exit(runtime.block_on(scimitar_console::run_console(env, ui)))),
            },
        },
    };
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    drop(demo_dir);
    std::process::exit(code);
}

async fn run_emulator(args: scimitar::commands::emulator::EmulatorArgs) -> i32 {
    docs(scimitar::commands::emulator::run(args).await)
}

fn docs(r: Result<i32, Fail>) -> i32 {
    r.unwrap_or_else(fail)
}

/// glibc malloc, tuned for a process that streams: one arena (each thread otherwise gets its own,
/// and memory freed in one is never reused by another), and allocations from 256 KiB up (page
/// bodies, page vectors) mapped and unmapped on their own instead of being carved from (and
/// pinning) the heap: glibc's default raises that threshold up to 32 MiB as large blocks are
/// freed, after which every page body stays in the heap. Measured with `cargo bench --bench
/// list_users` (README "Performance"). Must run before any thread starts.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

fn fail(f: Fail) -> i32 {
    if !f.message.is_empty() {
        eprintln!("scimitar: {}", f.message);
    }
    f.code
}

/// No core dumps, and no ptrace by other processes of the same user: a dump of a running sync
/// would hold the token and the LDAP password (issue 22). `RLIMIT_CORE` 0 (inherited by the
/// commands we start, which is as well) and `PR_SET_DUMPABLE` 0 (also makes `/proc/<pid>/mem`
/// and `environ` readable by root only). Failures are ignored: hardening, not a requirement.
fn harden() {
    #[cfg(unix)]
    {
        let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        let mut files = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: plain system calls on this process, with valid rlimits.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            // Room for file descriptors: the soft limit up to the hard one (as Go's runtime
            // does; systemd's default is 1,024 soft and 524,288 hard), at most 65,536.
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut files) == 0 && files.rlim_cur < files.rlim_max {
                files.rlim_cur = files.rlim_max.min(1 << 16);
                libc::setrlimit(libc::RLIMIT_NOFILE, &files);
            }
        }
    }
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) takes no pointers.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Overwrite the values of the secret variables in this process's environment block and remove
/// them from it, so the token read from `SLACK_SCIM_TOKEN` exists once (in its `Secret`), not also
/// in the environment. Called in `main` before any other thread starts.
fn forget_secret_variables(names: &[std::ffi::OsString]) {
    #[cfg(unix)]
    for name in names {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(name.as_bytes()) else { continue };
        // SAFETY: single-threaded here (no runtime yet); getenv's pointer is to the value's
        // bytes in the environment block, valid and writable until the variable is changed.
        unsafe {
            let p = libc::getenv(c.as_ptr());
            if !p.is_null() {
                std::ptr::write_bytes(p, 0, libc::strlen(p));
            }
            std::env::remove_var(name);
        }
    }
}
