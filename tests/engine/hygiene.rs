//! After any reload, applied or not, the interpreter is as it was: `sys.meta_path` (the same list,
//! same contents), `gc.isenabled()`, the switch interval and the keys of `sys.modules` (except
//! modules the new body imports for the first time).
//!
//! These tests compare process-wide state, so each has the interpreter alone
//! (`common::alone`): another test of this binary importing its modules or reloading at the same
//! time would change `sys.modules` or the switch interval under them.

use crate::common::engine::project;
use crate::common::{Project, alone};

const OLD: &str = r"
    import enum

    class Kind(enum.Enum):
        A = 1

    class C:
        def method(self):
            return 'old'

    def f():
        return 'old'
";

/// Loads `module` from [`OLD`], then for gc on and off: writes `new`, reloads with `kwargs`,
/// checks the outcome and that the interpreter state is unchanged (`new_modules` aside).
fn check(p: &Project, module: &str, new: &str, kwargs: &str, outcome: &str, new_modules: &str) {
    check_after(p, "pass", module, new, kwargs, outcome, new_modules);
}

/// [`check`], running the statement `pre` before taking the interpreter state.
fn check_after(
    p: &Project,
    pre: &str,
    module: &str,
    new: &str,
    kwargs: &str,
    outcome: &str,
    new_modules: &str,
) {
    p.write(module, OLD);
    p.run(&format!("import {module}\n{pre}"));
    p.write(module, new);
    for gc_on in ["True", "False"] {
        p.run(&format!(
            r"
            import gc
            gc_on = {gc_on}
            gc.enable() if gc_on else gc.disable()
            try:
                state = interpreter_state()
                r = swapscope.reload('{module}'{kwargs})
                assert r['outcome'] == '{outcome}', show(r)
                assert_interpreter_state(state, {new_modules})
            finally:
                gc.enable()
            "
        ));
    }
}

#[test]
fn hygiene_after_applied_reload() {
    let _alone = alone();
    check(
        &project(),
        "hyg_applied_m",
        r"
        import enum

        class Kind(enum.Enum):
            A = 1
            B = 2

        class C:
            def method(self):
                return 'new'

        def f():
            return 'new'
        ",
        "",
        "applied",
        "()",
    );
}

#[test]
fn hygiene_after_applied_reload_importing_a_new_module() {
    let _alone = alone();
    let p = project();
    p.write("hyg_import_dep", "VALUE = 1\n");
    check(
        &p,
        "hyg_import_m",
        r"
        import hyg_import_dep

        def f():
            return hyg_import_dep.VALUE
        ",
        "",
        "applied",
        "{'hyg_import_dep'} if gc_on else ()",
    );
}

#[test]
fn hygiene_after_dry_run() {
    let _alone = alone();
    check(
        &project(),
        "hyg_dry_m",
        r"
        def f():
            return 'new'
        ",
        ", dry_run=True",
        "applied",
        "()",
    );
}

#[test]
fn hygiene_after_syntax_error() {
    let _alone = alone();
    check(&project(), "hyg_syntax_m", "def f(:\n", "", "failed", "()");
}

#[test]
fn hygiene_after_undecodable_source() {
    let _alone = alone();
    let p = project();
    p.write("hyg_decode_m", OLD);
    p.run("import hyg_decode_m");
    p.write_bytes("hyg_decode_m", b"X = '\xff'\n");
    p.run(
        r"
        state = interpreter_state()
        r = swapscope.reload('hyg_decode_m')
        assert r['outcome'] == 'failed', show(r)
        assert_interpreter_state(state)
        ",
    );
}

#[test]
fn hygiene_after_rolled_back_body() {
    let _alone = alone();
    let p = project();
    p.write("hyg_raise_dep", "VALUE = 1\n");
    check(
        &p,
        "hyg_raise_m",
        r"
        import hyg_raise_dep

        def f():
            return 'new'

        raise ValueError('boom')
        ",
        "",
        "rolled_back",
        // The body imported the dependency before raising: the import stays (DESIGN.md: never
        // remove a module from sys.modules during a reload).
        "{'hyg_raise_dep'} if gc_on else ()",
    );
}

const INCOMPATIBLE: &str = r"
    class Base:
        pass

    class C(Base):
        def method(self):
            return 'new'
";

#[test]
fn hygiene_after_incompatible_class() {
    let _alone = alone();
    // `inspect` imported first: the engine's own import of it is the subject of the next test.
    check_after(
        &project(),
        "import inspect",
        "hyg_incompat_m",
        INCOMPATIBLE,
        "",
        "incompatible",
        "()",
    );
}

#[test]
fn hygiene_incompatible_reload_imports_nothing() {
    let _alone = alone();
    let p = project();
    p.write("hyg_incompat_imports_m", OLD);
    p.run("import hyg_incompat_imports_m");
    p.write("hyg_incompat_imports_m", INCOMPATIBLE);
    p.run(
        r"
        import sys
        # Another test may have imported these already: take them out for the check, then put
        # the very same module objects back.
        hidden = {n: sys.modules.pop(n) for n in ('inspect', 'dis', 'opcode', '_opcode')
                  if n in sys.modules}
        try:
            state = interpreter_state()
            r = swapscope.reload('hyg_incompat_imports_m')
            assert r['outcome'] == 'incompatible', show(r)
            assert_interpreter_state(state)
        finally:
            sys.modules.update(hidden)
        ",
    );
}
