//! Which Python environment the embedded interpreter runs in, checked before the script starts.
//!
//! The embedded interpreter is the libpython swapscope was built against. It finds its
//! environment the way `python3` would: through the `python3` first on `PATH`, so an activated
//! virtual environment works. What does not work is refused here with what to do instead, so a
//! program never runs half in one environment: `VIRTUAL_ENV` naming a venv that is not active,
//! an active venv made for another `CPython` version or by another install, and `PYTHONPATH`
//! pointing into a venv's site-packages (its `.pth` files, editable installs among them, are not
//! read that way, and this Python's own packages stay visible).

use std::path::{Path, PathBuf};

/// What the interpreter and the process say about the environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// `sys.prefix`: the venv when one is active.
    pub prefix: PathBuf,
    /// `sys.base_prefix`: the installation swapscope's libpython belongs to.
    pub base_prefix: PathBuf,
    /// `sys.version_info[:2]`.
    pub version: (u32, u32),
    /// `VIRTUAL_ENV`, if set.
    pub virtual_env: Option<PathBuf>,
    /// `PYTHONPATH` entries.
    pub pythonpath: Vec<PathBuf>,
}

/// The parts of a venv's `pyvenv.cfg` the check reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VenvConfig {
    /// `home`: the `bin` folder of the Python that made the venv.
    pub home: Option<PathBuf>,
    /// `version` or `version_info`, as written (`3.12.1`).
    pub version: Option<String>,
}

/// Why the script does not start in this environment; the message says what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvError {
    #[error(
        "VIRTUAL_ENV names {venv} but it is not the active environment (swapscope's Python \
         found {prefix} through the python3 on PATH); activate it (`source {venv}/bin/activate`) \
         or run with PATH={venv}/bin:$PATH so its python3 comes first"
    )]
    NotActive { venv: String, prefix: String },
    #[error(
        "the virtual environment {venv} is for Python {theirs}, but swapscope runs the Python \
         {ours} it was built against ({base}); use a venv made with Python {ours}, or rebuild \
         swapscope for it: PYO3_PYTHON={venv}/bin/python cargo build --release"
    )]
    OtherVersion {
        venv: String,
        theirs: String,
        ours: String,
        base: String,
    },
    #[error(
        "the virtual environment {venv} was made by the Python in {home}, but swapscope runs the \
         one in {base} (same version, another installation: compiled packages may not load); \
         recreate it with {base}/bin/python3 -m venv {venv}, or rebuild swapscope with \
         PYO3_PYTHON={home}/python3"
    )]
    OtherInstall {
        venv: String,
        home: String,
        base: String,
    },
    #[error(
        "PYTHONPATH names {entry}, the site-packages of the virtual environment {venv}: that way \
         its .pth files (editable installs) are not read and this Python's own packages stay \
         visible; activate the venv instead (`source {venv}/bin/activate`) and unset PYTHONPATH"
    )]
    PythonPathIntoVenv { entry: String, venv: String },
}

/// Checks the environment; `venv_config` reads a venv's `pyvenv.cfg` (None: not a venv).
pub fn check(
    facts: &Facts,
    venv_config: impl Fn(&Path) -> Option<VenvConfig>,
) -> Result<(), EnvError> {
    let same = |a: &Path, b: &Path| real(a) == real(b);
    let show = |p: &Path| p.display().to_string();
    if let Some(venv) = &facts.virtual_env
        && venv_config(venv).is_some()
        && !same(venv, &facts.prefix)
    {
        return Err(EnvError::NotActive {
            venv: show(venv),
            prefix: show(&facts.prefix),
        });
    }
    if !same(&facts.prefix, &facts.base_prefix)
        && let Some(cfg) = venv_config(&facts.prefix)
    {
        let ours = format!("{}.{}", facts.version.0, facts.version.1);
        if let Some(theirs) = &cfg.version
            && major_minor(theirs).is_some_and(|v| v != facts.version)
        {
            return Err(EnvError::OtherVersion {
                venv: show(&facts.prefix),
                theirs: theirs.clone(),
                ours,
                base: show(&facts.base_prefix),
            });
        }
        // `home` is the bin folder of the Python that made the venv. It lies in that Python's
        // installation, or its python3 resolves there (Homebrew's `opt/python@3.x/bin`
        // links into the framework that is `sys.base_prefix`).
        let base = real(&facts.base_prefix);
        let python = format!("python{}.{}", facts.version.0, facts.version.1);
        if let Some(home) = &cfg.home
            && !real(home).starts_with(&base)
            && !real(&home.join(&python)).starts_with(&base)
        {
            return Err(EnvError::OtherInstall {
                venv: show(&facts.prefix),
                home: show(home),
                base: show(&facts.base_prefix),
            });
        }
    }
    for entry in &facts.pythonpath {
        // <venv>/lib/pythonX.Y/site-packages
        if entry.file_name().is_some_and(|n| n == "site-packages")
            && let Some(venv) = entry.ancestors().nth(3)
            && venv_config(venv).is_some()
            && !same(venv, &facts.prefix)
        {
            return Err(EnvError::PythonPathIntoVenv {
                entry: show(entry),
                venv: show(venv),
            });
        }
    }
    Ok(())
}

fn real(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// `3.12.1` → (3, 12).
fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim().split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Reads `<dir>/pyvenv.cfg`; `None` when `dir` is not a virtual environment.
pub fn read_venv_config(dir: &Path) -> Option<VenvConfig> {
    let text = std::fs::read_to_string(dir.join("pyvenv.cfg")).ok()?;
    let mut cfg = VenvConfig::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "home" => cfg.home = Some(PathBuf::from(value)),
            "version" | "version_info" => cfg.version = Some(value.to_string()),
            _ => {}
        }
    }
    Some(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(prefix: &str, virtual_env: Option<&str>, pythonpath: &[&str]) -> Facts {
        Facts {
            prefix: prefix.into(),
            base_prefix: "/py/3.11".into(),
            version: (3, 11),
            virtual_env: virtual_env.map(PathBuf::from),
            pythonpath: pythonpath.iter().map(PathBuf::from).collect(),
        }
    }

    /// Venvs of this test: /venv/ok (3.11 of /py/3.11), /venv/new (3.12), /venv/other (3.11 of
    /// another install).
    fn venvs(dir: &Path) -> Option<VenvConfig> {
        let cfg = |home: &str, version: &str| VenvConfig {
            home: Some(home.into()),
            version: Some(version.into()),
        };
        match dir.to_str()? {
            "/venv/ok" => Some(cfg("/py/3.11/bin", "3.11.7")),
            "/venv/new" => Some(cfg("/py/3.12/bin", "3.12.1")),
            "/venv/other" => Some(cfg("/usr/bin", "3.11.2")),
            _ => None,
        }
    }

    #[test]
    fn environment_table() {
        let ok = Ok(());
        #[rustfmt::skip] // one case a line
        let table: [(&str, Facts, Result<(), &str>); 9] = [
            ("no venv", facts("/py/3.11", None, &[]), ok),
            ("activated venv", facts("/venv/ok", Some("/venv/ok"), &[]), ok),
            ("venv on PATH only", facts("/venv/ok", None, &[]), ok),
            ("VIRTUAL_ENV alone", facts("/py/3.11", Some("/venv/ok"), &[]), Err("not the active")),
            ("VIRTUAL_ENV not a venv", facts("/py/3.11", Some("/nowhere"), &[]), ok),
            ("another version", facts("/venv/new", Some("/venv/new"), &[]), Err("is for Python 3.12.1")),
            ("another install", facts("/venv/other", None, &[]), Err("another installation")),
            ("PYTHONPATH into a venv", facts("/py/3.11", None, &["/venv/ok/lib/python3.11/site-packages"]), Err("PYTHONPATH names")),
            ("PYTHONPATH into the active venv", facts("/venv/ok", None, &["/venv/ok/lib/python3.11/site-packages"]), ok),
        ];
        for (case, facts, expected) in table {
            let got = check(&facts, venvs);
            match (got, expected) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(words)) => {
                    assert!(e.to_string().contains(words), "{case}: {e}");
                }
                (got, expected) => panic!("{case}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn pyvenv_cfg_is_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("pyvenv.cfg"),
            "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n",
        )
        .expect("write");
        let cfg = read_venv_config(dir.path()).expect("a venv");
        assert_eq!(cfg.home.as_deref(), Some(Path::new("/usr/bin")));
        assert_eq!(cfg.version.as_deref(), Some("3.11.2"));
        assert_eq!(read_venv_config(&dir.path().join("nope")), None);
    }
}
