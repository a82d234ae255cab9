//! Reloads that cannot go through: syntax errors, a body that raises, undecodable, NUL-laden,
//! empty, missing or unreadable files (a directory, a symlink loop, a FIFO, no permissions). None raises out of `swapscope.reload` (but a `KeyboardInterrupt`,
//! which goes on to the program); each leaves the module exactly as it was.

use crate::common::Project;
use crate::common::engine::project;

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
        e = r['error']
        assert e['file'].endswith('fail_unreadable_m.py'), e
        assert 'cannot read' in e['message'] and 'is a directory' in e['message'], e
        ",
    );
    p.run(UNTOUCHED);
}

#[test]
fn failure_empty_file_is_refused() {
    let p = project();
    load(&p, "fail_empty_m");
    // A tool that truncates before writing, caught in between: reloading would remove every
    // name the game uses.
    for text in ["", "\n   \n"] {
        std::fs::write(p.path("fail_empty_m"), text).unwrap();
        p.run(
            r"
            r = swapscope.reload('fail_empty_m')
            assert r['outcome'] == 'failed', show(r)
            e = r['error']
            assert e['file'].endswith('fail_empty_m.py') and e['line'] == 1, e
            assert 'the file is empty' in e['message'] and 'save the complete file' in e['message'], e
            ",
        );
        p.run(UNTOUCHED);
    }
    // A module emptied on purpose keeps a comment: that reload goes through.
    std::fs::write(p.path("fail_empty_m"), "# nothing here any more\n").unwrap();
    p.run(
        r"
        r = swapscope.reload('fail_empty_m')
        assert r['outcome'] == 'applied', show(r)
        assert not hasattr(m, 'DAMAGE') and f() == 'old'
        ",
    );
}

#[test]
fn failure_symlink_loop_in_place_of_the_file() {
    let p = project();
    load(&p, "fail_loop_m");
    let path = p.path("fail_loop_m");
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("fail_loop_m.py", &path).unwrap();
    p.run(
        r"
        r = swapscope.reload('fail_loop_m')
        assert r['outcome'] == 'failed', show(r)
        e = r['error']
        assert e['file'].endswith('fail_loop_m.py'), e
        assert 'cannot read' in e['message'] and 'symbolic links' in e['message'], e
        ",
    );
    p.run(UNTOUCHED);
}

#[test]
fn failure_fifo_in_place_of_the_file_does_not_block() {
    let p = project();
    load(&p, "fail_fifo_m");
    let path = p.path("fail_fifo_m");
    std::fs::remove_file(&path).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&path).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    // Reading a FIFO with no writer would block the reload forever.
    p.run(
        r"
        r = swapscope.reload('fail_fifo_m')
        assert r['outcome'] == 'failed', show(r)
        e = r['error']
        assert 'not a regular file' in e['message'], e
        ",
    );
    p.run(UNTOUCHED);
}

#[test]
fn failure_permissions_removed() {
    use std::os::unix::fs::PermissionsExt;
    let p = project();
    load(&p, "fail_perm_m");
    let path = p.path("fail_perm_m");
    std::fs::write(&path, "DAMAGE = 99\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&path).is_ok() {
        // Root (as in CI containers) reads through permission bits: the save simply applies.
        p.run(
            r"
            r = swapscope.reload('fail_perm_m')
            assert r['outcome'] == 'applied', show(r)
            assert m.DAMAGE == 99
            ",
        );
        return;
    }
    p.run(
        r"
        r = swapscope.reload('fail_perm_m')
        assert r['outcome'] == 'failed', show(r)
        e = r['error']
        assert 'cannot read' in e['message'] and 'ermission denied' in e['message'], e
        ",
    );
    p.run(UNTOUCHED);
}

#[test]
fn hostile_20_mb_file_reloads_like_any_other() {
    let p = project();
    load(&p, "fail_huge_m");
    let mut text =
        String::from("DAMAGE = 11\n\ndef f():\n    return 'new'\n\nclass C:\n    pass\n");
    let filler = format!("# {}\n", "x".repeat(97));
    while text.len() < 20 * 1024 * 1024 {
        text.push_str(&filler);
    }
    std::fs::write(p.path("fail_huge_m"), &text).unwrap();
    p.run(
        r"
        r = swapscope.reload('fail_huge_m')
        assert r['outcome'] == 'applied', show(r)
        assert m.DAMAGE == 11 and f() == 'new' and m.C is C
        ",
    );
}

#[test]
fn failure_a_keyboard_interrupt_in_the_body_goes_on_to_the_program() {
    let p = project();
    p.write("fail_interrupt_m", "DAMAGE = 10\n");
    p.run("import fail_interrupt_m as m\nbefore = snapshot(m)");
    p.write("fail_interrupt_m", "DAMAGE = 20\nraise KeyboardInterrupt\n");
    p.run(
        r"
        try:
            swapscope.reload('fail_interrupt_m')
        except KeyboardInterrupt as e:
            message = str(e)
        else:
            raise AssertionError('the interrupt was swallowed')
        assert 'interrupted' in message and 'unchanged' in message, message
        assert_identical(m, before)
        assert m.DAMAGE == 10
        ",
    );
}
