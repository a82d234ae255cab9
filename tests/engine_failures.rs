//! Reloads that cannot go through: syntax errors, a body that raises, undecodable, NUL-laden,
//! missing or unreadable files. None raises out of `swapscope.reload`; each leaves the module
//! exactly as it was.

mod common;
mod engine_support;

use common::Project;
use engine_support::project;

const OLD: &str = r"
    DAMAGE = 10

    def f():
        return 'old'

    class C:
        def method(self):
            return 'old'
";

/// Imports `module` (written from [`OLD`]) and snapshots it as `before`/`class_before`.
fn load(p: &Project, module: &str) {
    p.write(module, OLD);
    p.run(&format!(
        r"
        import {module} as m
        from {module} import f, C
        before, class_before, code_before = snapshot(m), snapshot(C), f.__code__
        "
    ));
}

/// The module is exactly as [`load`] left it, running the old code.
const UNTOUCHED: &str = r"
assert_identical(m, before)
assert_identical(C, class_before)
assert f.__code__ is code_before
assert f() == 'old' and C().method() == 'old' and m.DAMAGE == 10
";

#[test]
fn failure_syntax_error_reports_location_and_leaves_module() {
    let p = project();
    load(&p, "fail_syntax_m");
    p.write(
        "fail_syntax_m",
        r"
        DAMAGE = 12

        def f(:
            return 'new'
        ",
    );
    p.run(
        r"
        r = swapscope.reload('fail_syntax_m')
        assert r['outcome'] == 'failed', show(r)
        e = r['error']
        assert e['file'].endswith('fail_syntax_m.py'), e
        assert e['line'] == 3, e
        assert e['col'] is not None, e
        assert 'SyntaxError' in e['message'] or 'invalid syntax' in e['message'], e
        assert e['text'] is not None and 'def f(:' in e['text'], e
        assert r['changes'] == [], r['changes']
        ",
    );
    p.run(UNTOUCHED);
    // Fixing the file makes the next reload go through.
    p.write(
        "fail_syntax_m",
        r"
        DAMAGE = 12

        def f():
            return 'new'

        class C:
            def method(self):
                return 'new'
        ",
    );
    p.run(
        r"
        applied(swapscope.reload('fail_syntax_m'))
        assert m.f is f and f() == 'new' and C().method() == 'new' and m.DAMAGE == 12
        ",
    );
}

const RAISING: &str = r"
    DAMAGE = 99
    ADDED = 'added before the raise'

    def f():
        return 'new'

    class C:
        def method(self):
            return 'new'

    raise RuntimeError('boom in the body')
";

#[test]
fn failure_body_exception_rolls_back_module() {
    let p = project();
    load(&p, "fail_raise_m");
    p.write("fail_raise_m", RAISING);
    p.run(
        r"
        r = swapscope.reload('fail_raise_m')
        assert r['outcome'] == 'rolled_back', show(r)
        e = r['error']
        assert e['file'].endswith('fail_raise_m.py'), e
        assert 'RuntimeError' in e['message'] and 'boom in the body' in e['message'], e
        assert not hasattr(m, 'ADDED'), 'a name the failed body added is gone'
        assert r['changes'] == [], r['changes']
        ",
    );
    p.run(UNTOUCHED);
}

#[test]
fn failure_body_exception_reports_line_and_traceback() {
    let p = project();
    load(&p, "fail_raise_tb_m");
    p.write("fail_raise_tb_m", RAISING);
    p.run(
        r#"
        r = swapscope.reload('fail_raise_tb_m')
        assert r['outcome'] == 'rolled_back', show(r)
        e = r['error']
        assert e['line'] == 11, e
        assert 'raise RuntimeError' in (e['text'] or ''), e
        tb = e['traceback']
        assert 'fail_raise_tb_m.py", line 11' in tb and 'boom in the body' in tb, tb
        "#,
    );
    p.run(UNTOUCHED);
}

#[test]
fn failure_non_utf8_source() {
    let p = project();
    load(&p, "fail_latin1_m");
    p.write_bytes("fail_latin1_m", b"DAMAGE = 12\nNAME = '\xe9t\xe9'\n");
    p.run(
        r"
        r = swapscope.reload('fail_latin1_m')
        assert r['outcome'] == 'failed', show(r)
        e = r['error']
        assert e['line'] == 2, e
        assert 'decode' in e['message'] and 'UTF-8' in e['message'], e
        ",
    );
    p.run(UNTOUCHED);
}

#[test]
fn failure_nul_byte_in_source() {
    let p = project();
    load(&p, "fail_nul_m");
    p.write_bytes("fail_nul_m", b"DAMAGE = 12\nX = 1\x00\n");
    p.run(
        r"
        r = swapscope.reload('fail_nul_m')
        assert r['outcome'] == 'failed', show(r)
        e = r['error']
        assert e['line'] == 2, e
        assert 'NUL' in e['message'], e
        ",
    );
    p.run(UNTOUCHED);
}

#[test]
fn failure_file_deleted() {
    let p = project();
    load(&p, "fail_deleted_m");
    std::fs::remove_file(p.path("fail_deleted_m")).unwrap();
    p.run(
        r"
        r = swapscope.reload('fail_deleted_m')
        assert r['outcome'] == 'failed', show(r)
        e = r['error']
        assert e['file'].endswith('fail_deleted_m.py'), e
        assert 'cannot read' in e['message'], e
        ",
    );
    p.run(UNTOUCHED);
}

#[test]
fn failure_file_unreadable() {
    let p = project();
    load(&p, "fail_unreadable_m");
    // A directory in place of the file: unreadable even for root (the tests may run as root,
    // where permission bits do not stop a read).
    let path = p.path("fail_unreadable_m");
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    p.run(
        r"
        r = swapscope.reload('fail_unreadable_m')
        assert r['outcome'] == 'failed', show(r)
        assert 'cannot read' in r['error']['message'], r['error']
        ",
    );
    p.run(UNTOUCHED);
}
