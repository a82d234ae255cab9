//! The `swapscope` Python module's argument checking: each misuse raises the documented exception
//! type with a message that says what was wrong.

use crate::common::engine::project;

/// Python helper: calls `fn(*args, **kwargs)` and returns the exception's message, asserting its
/// type.
const RAISES: &str = r"
def raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return str(e)
    except BaseException as e:
        raise AssertionError(f'expected {exc_type.__name__}, got {type(e).__name__}: {e}')
    raise AssertionError(f'expected {exc_type.__name__}, nothing raised')
";

#[test]
fn api_unknown_module_is_key_error() {
    let p = project();
    p.run(RAISES);
    p.run(
        r"
        msg = raises(KeyError, swapscope.reload, 'api_no_such_module_anywhere')
        assert 'api_no_such_module_anywhere' in msg and 'sys.modules' in msg, msg
        ",
    );
}

#[test]
fn api_builtin_extension_and_main_are_value_errors() {
    let p = project();
    p.run(RAISES);
    p.run(
        r"
        import math, sys
        assert math.__file__.endswith('.so'), 'this check needs math as a C extension'
        msg = raises(ValueError, swapscope.reload, 'sys')
        assert 'sys' in msg and 'builtin' in msg, msg
        msg = raises(ValueError, swapscope.reload, math)
        assert 'math' in msg and 'C extension' in msg, msg
        msg = raises(ValueError, swapscope.reload, 'math')
        assert 'C extension' in msg, msg
        import __main__
        msg = raises(ValueError, swapscope.reload, '__main__')
        assert '__main__' in msg and 'script' in msg, msg
        ",
    );
}

#[test]
fn api_wrong_types_are_type_errors() {
    let p = project();
    p.run(RAISES);
    p.write("api_types_m", "X = 1\n");
    p.run(
        r"
        import api_types_m
        msg = raises(TypeError, swapscope.reload, 42)
        assert 'module' in msg and 'int' in msg, msg
        msg = raises(TypeError, swapscope.reload, 'api_types_m', keep='X')
        assert 'keep' in msg and 'single string' in msg and 'keep=[' in msg, msg
        msg = raises(TypeError, swapscope.reload, 'api_types_m', take='X')
        assert 'take' in msg, msg
        msg = raises(TypeError, swapscope.reload, 'api_types_m', keep=[1])
        assert 'keep' in msg and 'str' in msg, msg
        msg = raises(TypeError, swapscope.reload, 'api_types_m', keep=5)
        assert 'keep' in msg and 'int' in msg, msg
        msg = raises(TypeError, swapscope.propagate, 'not a report')
        assert 'report' in msg, msg
        ",
    );
}

#[test]
fn api_contradicting_overrides_are_value_error() {
    let p = project();
    p.run(RAISES);
    p.write("api_contra_m", "X = 1\n");
    p.run(
        r"
        import api_contra_m as m
        m.X = 5
        msg = raises(ValueError, swapscope.reload, 'api_contra_m', keep=['X'], take=['X'])
        assert 'X' in msg and 'keep' in msg and 'take' in msg, msg
        assert m.X == 5
        ",
    );
}

#[test]
fn api_reload_accepts_module_object() {
    let p = project();
    p.write("api_modobj_m", "def f():\n    return 1\n");
    p.run("import api_modobj_m as m; from api_modobj_m import f");
    p.write("api_modobj_m", "def f():\n    return 2\n");
    p.run(
        r"
        r = applied(swapscope.reload(m))
        assert r['module'] == 'api_modobj_m' and r['file'].endswith('api_modobj_m.py'), r
        assert f() == 2
        ",
    );
}

#[test]
fn api_namespace_package_and_module_without_file_are_value_errors() {
    let p = project();
    p.run(RAISES);
    std::fs::create_dir(p.root().join("api_ns_pkg")).expect("mkdir");
    p.run(
        r"
        import api_ns_pkg, sys, types
        msg = raises(ValueError, swapscope.reload, 'api_ns_pkg')
        assert 'api_ns_pkg' in msg and 'namespace package' in msg, msg
        sys.modules['api_made_at_run_time'] = types.ModuleType('api_made_at_run_time')
        msg = raises(ValueError, swapscope.reload, 'api_made_at_run_time')
        assert 'api_made_at_run_time' in msg and 'no source file' in msg, msg
        del sys.modules['api_made_at_run_time']
        ",
    );
}

#[test]
fn api_on_reload_calls_listeners_with_every_report() {
    let p = project();
    p.run(RAISES);
    p.write("api_listen_m", "X = 1\n");
    p.run(
        r"
        import api_listen_m
        seen = []
        # Other tests of this binary reload their own modules meanwhile: look at ours only.
        def listener(report):
            if report['module'] == 'api_listen_m':
                seen.append((report['module'], report['outcome'], report['saves']))
        def broken(report):
            if report['module'] == 'api_listen_m':
                raise RuntimeError('a listener that fails')
        import sys
        unraisable = []
        old_hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
        try:
            assert swapscope.on_reload(listener) is listener
            swapscope.on_reload(broken)
            swapscope.reload('api_listen_m')
            swapscope.reload('api_listen_m', dry_run=True)
        finally:
            sys.unraisablehook = old_hook
        assert seen == [('api_listen_m', 'applied', 0)], seen
        assert len(unraisable) == 1 and 'a listener that fails' in str(unraisable[0].exc_value)
        assert swapscope.off_reload(listener) and swapscope.off_reload(broken)
        assert not swapscope.off_reload(listener)
        swapscope.reload('api_listen_m')
        assert len(seen) == 1, seen
        msg = raises(TypeError, swapscope.on_reload, 42)
        assert 'on_reload() takes a function' in msg and 'int' in msg, msg
        ",
    );
}

/// `undo(module)` puts back the version before the last applied reload, in place and step by
/// step: the same function and class objects run the earlier code, data the program changed at
/// run time stays, the file is not touched (the module then reads as changed on disk), and an
/// undo with nothing left raises `ValueError`.
#[test]
fn api_undo_puts_back_earlier_versions_in_place() {
    let p = project();
    p.run(RAISES);
    let version = |damage: u32, power: u32| {
        format!(
            "
            DAMAGE = {damage}
            STATE = {{'kills': 0}}

            def power():
                return {power}

            class Unit:
                def hit(self):
                    return DAMAGE + power()
            "
        )
    };
    p.write("api_undo_m", &version(10, 1));
    p.run(
        r"
        import api_undo_m as m
        power, Unit, state = m.power, m.Unit, m.STATE
        unit = Unit()
        assert unit.hit() == 11
        msg = raises(ValueError, swapscope.undo, 'api_undo_m')
        assert 'nothing to undo' in msg, msg
        ",
    );
    p.write("api_undo_m", &version(14, 2));
    p.run("applied(swapscope.reload('api_undo_m')); assert unit.hit() == 16");
    p.write("api_undo_m", &version(20, 3));
    let v3 = std::fs::read_to_string(p.path("api_undo_m")).expect("read v3");
    p.run(
        r"
        applied(swapscope.reload('api_undo_m'))
        assert unit.hit() == 23
        m.STATE['kills'] = 7
        r = applied(swapscope.undo(m))
        assert r['undo'] is True, show(r)
        assert m.power is power and m.Unit is Unit and m.STATE is state
        assert unit.hit() == 16 and m.DAMAGE == 14, (unit.hit(), show(r))
        assert m.STATE == {'kills': 7}, m.STATE
        changed = [x for x in swapscope.modules() if x['name'] == 'api_undo_m']
        assert changed and changed[0]['changed_on_disk'], changed
        r = applied(swapscope.undo('api_undo_m'))
        assert unit.hit() == 11 and m.power is power, show(r)
        msg = raises(ValueError, swapscope.undo, 'api_undo_m')
        assert 'nothing to undo' in msg and 'api_undo_m' in msg, msg
        ",
    );
    assert_eq!(
        std::fs::read_to_string(p.path("api_undo_m")).expect("read file"),
        v3,
        "undo does not write the file"
    );
    // A reload from the file after undos brings the newest version back (and is undoable).
    p.run(
        r"
        applied(swapscope.reload('api_undo_m'))
        assert unit.hit() == 23
        applied(swapscope.undo('api_undo_m'))
        assert unit.hit() == 11
        ",
    );
}
