//! swapscope's command line: parse arguments, then run headless or open the inspector.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// In-place hot reload for Python, with a report of every swap.
///
/// Runs SCRIPT (default: the bundled demo game) inside an embedded CPython with swapscope's
/// import hook installed and `import swapscope` available. Modules under the script's folder
/// and each --watch folder are tracked and can be reloaded in place.
#[derive(Debug, Parser)]
#[expect(
    clippy::doc_markdown,
    reason = "these doc comments are the --help text users read"
)]
#[command(name = "swapscope", version, about, long_about)]
struct Cli {
    /// Run without a window, like `python SCRIPT ARGS`: same sys.argv, sys.path[0], __main__ and
    /// exit code. Prints nothing of its own on stdout; reload failures go to stderr.
    #[arg(long)]
    headless: bool,

    /// Also track and watch this folder (repeatable). The script's folder is always watched.
    #[arg(long = "watch", value_name = "DIR")]
    watch: Vec<PathBuf>,

    /// Run SCRIPT in this Python interpreter instead of the embedded one (a venv's
    /// `bin/python` with swapscope installed; see the README), and attach the window to it.
    #[arg(long, value_name = "PYTHON", conflicts_with_all = ["headless", "capture"])]
    python: Option<PathBuf>,

    /// Reload a tracked module as soon as its file is saved (headless too).
    #[arg(long)]
    auto: bool,

    /// Append every reload's report to FILE, one JSON object per line.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,

    /// Run the bundled demo on a temporary copy, take the README's screenshots of the window
    /// (main view, a report with a function diff, a failed reload) into DIR, then exit.
    /// Needs a display (use Xvfb on a headless machine).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["headless", "command"])]
    capture: Option<PathBuf>,

    /// The Python script to run (default: the bundled demo game), then its arguments: everything
    /// after SCRIPT goes to the script as sys.argv[1:], flags included.
    #[arg(value_name = "SCRIPT [ARGS]", trailing_var_arg = true, num_args = 0..)]
    command: Vec<String>,
}

/// `swapscope attach`: connect to programs that run swapscope in their own interpreter
/// (`python -m swapscope SCRIPT`, or `swapscope.serve()` in the program).
///
/// Without options, opens the window on the one such program running (with several, --pid
/// chooses). --list and --reload are window-less, for scripts and CI.
#[derive(Debug, Parser)]
#[command(name = "swapscope attach", version, about, long_about)]
struct AttachCli {
    /// Print the programs you can attach to, one per line: pid, Python version, interpreter,
    /// script (tab-separated).
    #[arg(long, conflicts_with_all = ["pid", "reload"])]
    list: bool,

    /// The process to attach to (needed when several run).
    #[arg(long, value_name = "PID")]
    pid: Option<u32>,

    /// Reload MODULE in the process without a window; print the report as one JSON line.
    /// Exit 0 when it was applied, 1 when it failed or was refused, 3 when the connection was
    /// lost, 4 on timeout.
    #[arg(long, value_name = "MODULE")]
    reload: Option<String>,

    /// With --reload: keep this attribute's live value (repeatable).
    #[arg(long = "keep", value_name = "NAME", requires = "reload")]
    keep: Vec<String>,

    /// With --reload: take this attribute's new value (repeatable).
    #[arg(long = "take", value_name = "NAME", requires = "reload")]
    take: Vec<String>,

    /// With --reload: report what would change, change nothing.
    #[arg(long, requires = "reload")]
    dry_run: bool,

    /// With --reload: how long to wait for the report, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30, requires = "reload")]
    timeout: u64,
}

fn main() -> ExitCode {
    let mut argv = std::env::args_os();
    if std::env::args_os().nth(1).is_some_and(|a| a == "attach") {
        let program = argv.next();
        argv.next();
        let cli = AttachCli::parse_from(program.into_iter().chain(argv));
        return exit(attach(&cli));
    }
    exit(run(Cli::parse()))
}

fn exit(result: anyhow::Result<i32>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1)),
        Err(e) => {
            eprintln!("swapscope: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn attach(cli: &AttachCli) -> anyhow::Result<i32> {
    use swapscope::attach;
    if cli.list {
        let all = attach::agents()?;
        if all.is_empty() {
            eprintln!(
                "swapscope: no programs to attach to (start one with `python -m swapscope \
                 SCRIPT` or `swapscope.serve()`)"
            );
        }
        for a in &all {
            println!("{}", attach::list_line(a));
        }
        return Ok(0);
    }
    if let Some(module) = &cli.reload {
        let req = attach::ReloadRequest {
            pid: cli.pid,
            module: module.clone(),
            overrides: swapscope::protocol::Overrides {
                keep: cli.keep.clone(),
                take: cli.take.clone(),
            },
            dry_run: cli.dry_run,
            timeout: std::time::Duration::from_secs(cli.timeout),
        };
        return match attach::reload(&req) {
            Ok(report) => {
                println!("{}", serde_json::to_string(&report)?);
                Ok(i32::from(!attach::applied(&report)))
            }
            Err(e) => {
                eprintln!("swapscope: {e}");
                Ok(e.exit_code())
            }
        };
    }
    if let Some(pid) = cli.pid {
        let agent = attach::choose(Some(pid))?;
        return open_attached(&[agent], None);
    }
    let all = attach::agents()?;
    if all.is_empty() {
        return Err(attach::AttachError::NoAgent.into());
    }
    open_attached(&all, Some(attach::Discover::All))
}

#[cfg(feature = "gui")]
fn open_attached(
    agents: &[swapscope::protocol::agents::AgentFile],
    discover: Option<swapscope::attach::Discover>,
) -> anyhow::Result<i32> {
    swapscope::ui::run_attached(agents, discover)?;
    Ok(0)
}

#[cfg(feature = "gui")]
fn open_launched(launched: swapscope::attach::Launched) -> anyhow::Result<i32> {
    swapscope::ui::run_launched(launched)?;
    restart_if_asked()
}

/// After the window closed: when the user asked for "Restart script", runs swapscope again with
/// the same command line in this process (the program and its window start over). Embedded
/// Python cannot be started twice in one process, and a launched program has been ended by now.
#[cfg(feature = "gui")]
fn restart_if_asked() -> anyhow::Result<i32> {
    use std::os::unix::process::CommandExt;
    if !swapscope::ui::restart_requested() {
        return Ok(0);
    }
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot restart: where is this program? {e}"))?;
    let e = std::process::Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .exec();
    Err(anyhow::anyhow!("cannot restart {}: {e}", exe.display()))
}

#[cfg(not(feature = "gui"))]
fn open_launched(mut launched: swapscope::attach::Launched) -> anyhow::Result<i32> {
    launched.child.kill().ok();
    anyhow::bail!("this swapscope was built without the window (feature \"gui\")")
}

#[cfg(not(feature = "gui"))]
fn open_attached(
    _agents: &[swapscope::protocol::agents::AgentFile],
    _discover: Option<swapscope::attach::Discover>,
) -> anyhow::Result<i32> {
    anyhow::bail!(
        "this swapscope was built without the window (feature \"gui\"); use --list or --reload"
    )
}

fn run(mut cli: Cli) -> anyhow::Result<i32> {
    #[cfg(feature = "embedded")]
    swapscope::fault::arm_from_env()?;
    if let Some(out) = cli.capture {
        return capture(&out);
    }
    let mut command = std::mem::take(&mut cli.command).into_iter();
    let script = match command.next() {
        Some(s) => PathBuf::from(s),
        None => swapscope::demo::script()?,
    };
    let args: Vec<String> = command.collect();
    check_script(&script)?;
    for dir in &cli.watch {
        if !dir.is_dir() {
            anyhow::bail!("cannot watch {}: not a folder", dir.display());
        }
    }
    if let Some(python) = &cli.python {
        let launched = swapscope::attach::launch(python, &script, &args, &cli.watch, cli.auto)?;
        return open_launched(launched);
    }
    run_embedded(cli, script, args)
}

#[cfg(feature = "embedded")]
fn check_script(script: &std::path::Path) -> anyhow::Result<()> {
    Ok(swapscope::runtime::check_script(script)?)
}

#[cfg(not(feature = "embedded"))]
fn check_script(script: &std::path::Path) -> anyhow::Result<()> {
    if !script.is_file() {
        anyhow::bail!("cannot run {}: no such file", script.display());
    }
    Ok(())
}

#[cfg(not(feature = "embedded"))]
fn run_embedded(_cli: Cli, _script: PathBuf, _args: Vec<String>) -> anyhow::Result<i32> {
    anyhow::bail!(
        "this swapscope was built without the embedded interpreter (feature \"embedded\"): run \
         the script in your own Python with --python PYTHON, or attach with `swapscope attach`"
    )
}

/// Runs the script in the embedded interpreter, headless or with the window.
#[cfg(feature = "embedded")]
fn run_embedded(cli: Cli, script: PathBuf, args: Vec<String>) -> anyhow::Result<i32> {
    let config = swapscope::runtime::Config {
        script,
        args,
        watch: cli.watch,
        capture_output: !cli.headless,
        watch_files: true,
        auto_reload: cli.auto,
        // The window keeps the main thread; `headless::run` runs the script on it.
        ..swapscope::runtime::Config::default()
    };
    if cli.headless {
        let opts = swapscope::headless::Options {
            config,
            report: cli.report,
        };
        return Ok(swapscope::headless::run(&opts)?);
    }
    open_window(config)
}

#[cfg(all(feature = "gui", feature = "embedded"))]
fn open_window(config: swapscope::runtime::Config) -> anyhow::Result<i32> {
    swapscope::ui::run(config, None)?;
    restart_if_asked()
}

#[cfg(all(not(feature = "gui"), feature = "embedded"))]
fn open_window(_config: swapscope::runtime::Config) -> anyhow::Result<i32> {
    anyhow::bail!(
        "this swapscope was built without the window (feature \"gui\"); run with --headless"
    )
}

#[cfg(not(all(feature = "gui", feature = "embedded")))]
fn capture(_out: &std::path::Path) -> anyhow::Result<i32> {
    anyhow::bail!(
        "this swapscope was built without the window or the embedded interpreter (features \
         \"gui\" and \"embedded\"); --capture needs both"
    )
}

/// `--capture DIR`: the screenshot session on a temporary copy of the demo.
#[cfg(all(feature = "gui", feature = "embedded"))]
fn capture(out: &std::path::Path) -> anyhow::Result<i32> {
    std::fs::create_dir_all(out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    let demo = tempfile_dir()?;
    let script = swapscope::demo::write_copy(&demo)?;
    let config = swapscope::runtime::Config {
        script,
        capture_output: true,
        watch_files: true,
        ..Default::default()
    };
    let capture = swapscope::ui::CaptureScript::new(out.to_path_buf(), demo.clone());
    let error = std::sync::Arc::clone(&capture.error);
    let result = swapscope::ui::run(config, Some(capture));
    std::fs::remove_dir_all(&demo).ok();
    result?;
    if let Some(e) = error
        .lock()
        .map_err(|_| anyhow::anyhow!("capture state poisoned"))?
        .take()
    {
        anyhow::bail!("capture failed: {e}");
    }
    for name in swapscope::ui::capture::SHOTS {
        if !out.join(name).is_file() {
            anyhow::bail!("capture did not write {}", out.join(name).display());
        }
    }
    eprintln!(
        "swapscope: wrote {} screenshots to {}",
        swapscope::ui::capture::SHOTS.len(),
        out.display()
    );
    Ok(0)
}

#[cfg(all(feature = "gui", feature = "embedded"))]
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("swapscope-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}
