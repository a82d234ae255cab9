//! Makes the binary load the libpython it was linked against.
//!
//! Cargo drops pyo3's rpath, so without this a binary built against a pyenv Python would load
//! whichever libpython the system loader finds first (or none).
fn main() {
    // Only the embedded interpreter links libpython; a window-only build needs none.
    if std::env::var_os("CARGO_FEATURE_EMBEDDED").is_some() {
        pyo3_build_config::add_libpython_rpath_link_args();
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
