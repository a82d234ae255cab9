//! Incremental reload (DESIGN.md "Incremental reload"): what only this mode does — which
//! statements run, the decorators it does not run again, the line numbers it moves, what makes
//! it fall back to a whole reload — and that a failure in it leaves the module as it was.
//! (That it decides like a whole reload is `differential::`.)

use crate::common::engine::project;

/// Runs the module's statements only if they ran: each appends its name to `RAN` in a module
/// the reloads never touch, so a test sees which statements a reload ran.
const TRACE: &str = r"
    RAN = []
    def ran(name, value=None):
        RAN.append(name)
        return value
";

#[test]
fn a_constant_edit_runs_that_statement_and_the_ones_reading_it() {
    let p = project();
    p.write("inc_trace_a", TRACE);
    let source = |hp: u32| {
        format!(
            r"
            from inc_trace_a import ran
            BASE_HP = ran('BASE_HP', {hp})
            BOSS_HP = ran('BOSS_HP', BASE_HP * 5)
            OTHER = ran('OTHER', 3)
            def heal(x):
                return x + BASE_HP
            "
        )
    };
    p.write("inc_const_m", &source(100));
    p.run("import inc_const_m as m, inc_trace_a as t\nheal = m.heal\nt.RAN.clear()");
    p.write("inc_const_m", &source(120));
    p.run(
        r"
        r = applied(swapscope.reload('inc_const_m'))
        assert r['mode'] == 'incremental', show(r)
        assert r['mode_note'].startswith('2 of 5 statements ran'), r['mode_note']
        assert t.RAN == ['BASE_HP', 'BOSS_HP'], t.RAN
        assert (m.BASE_HP, m.BOSS_HP, m.OTHER) == (120, 600, 3)
        assert m.heal is heal and heal(1) == 121
        expect(r, 'BASE_HP', 'took_new')
        expect(r, 'BOSS_HP', 'took_new')
        expect(r, 'OTHER', 'unchanged')
        expect(r, 'heal', 'unchanged')
        ",
    );
}

#[test]
fn a_function_edit_runs_its_def_and_the_calls_made_at_import() {
    let p = project();
    p.write("inc_trace_b", TRACE);
    let source = |k: u32| {
        format!(
            r"
            from inc_trace_b import ran
            def scale(x):
                return x * {k}
            LIMIT = ran('LIMIT', scale(10))
            NAMES = ran('NAMES', ['a', 'b'])
            "
        )
    };
    p.write("inc_call_m", &source(2));
    p.run("import inc_call_m as m, inc_trace_b as t\nscale = m.scale\nt.RAN.clear()");
    p.write("inc_call_m", &source(3));
    p.run(
        r"
        r = applied(swapscope.reload('inc_call_m'))
        assert r['mode'] == 'incremental', show(r)
        assert t.RAN == ['LIMIT'], t.RAN
        assert m.scale is scale and m.LIMIT == 30
        expect(r, 'scale', 'code_swapped')
        ",
    );
}

#[test]
fn a_decorator_that_registers_is_not_run_again_for_a_body_edit() {
    let p = project();
    p.write(
        "inc_bus",
        "LISTENERS = []\ndef on(f):\n    LISTENERS.append(f)\n    return f\n",
    );
    let source = |msg: &str| {
        format!(
            r"
            from inc_bus import on

            @on
            def greet():
                return '{msg}'
            "
        )
    };
    p.write("inc_deco_m", &source("hi"));
    p.run("import inc_deco_m as m, inc_bus as bus\ngreet = m.greet");
    p.write("inc_deco_m", &source("hello"));
    p.run(
        r"
        r = applied(swapscope.reload('inc_deco_m'))
        assert r['mode'] == 'incremental', show(r)
        assert bus.LISTENERS == [greet], bus.LISTENERS
        assert bus.LISTENERS[0]() == 'hello' and m.greet is greet
        c = expect(r, 'greet', 'code_swapped')
        assert 'not run again' in c['note'], c
        ",
    );
    // A changed decorator line runs the statement whole, as written.
    p.write(
        "inc_deco_m",
        "from inc_bus import on\n\n@on\n@on\ndef greet():\n    return 'twice'\n",
    );
    p.run(
        r"
        r = applied(swapscope.reload('inc_deco_m'))
        assert len(bus.LISTENERS) == 3, bus.LISTENERS
        assert m.greet is greet and greet() == 'twice'
        ",
    );
}

#[test]
fn an_edited_append_makes_the_list_afresh_with_every_append() {
    let p = project();
    let source = |x: u32| format!("ITEMS = []\nITEMS.append(5)\nITEMS.append({x})\nN = 1\n");
    p.write("inc_items_m", &source(6));
    p.run("import inc_items_m as m\nitems = m.ITEMS\nassert items == [5, 6]");
    p.write("inc_items_m", &source(7));
    p.run(
        r"
        r = applied(swapscope.reload('inc_items_m'))
        assert r['mode'] == 'incremental', show(r)
        assert m.ITEMS == [5, 7], m.ITEMS
        expect(r, 'ITEMS', 'took_new')
        ",
    );
}

#[test]
fn unchanged_functions_below_added_lines_report_their_new_lines() {
    let p = project();
    let source = |padding: &str| {
        format!(
            "X = 1{padding}\n\ndef fail():\n    raise ValueError('here')\n\nclass C:\n    def m(self):\n        raise KeyError('there')\n"
        )
    };
    p.write("inc_lines_m", &source(""));
    p.run("import inc_lines_m as m\nfail, C = m.fail, m.C");
    p.write("inc_lines_m", &source("\nY = 2\nZ = 3"));
    p.run(
        r"
        import traceback
        r = applied(swapscope.reload('inc_lines_m'))
        assert r['mode'] == 'incremental' and r['mode_note'].startswith('2 of'), show(r)
        def line_of(call):
            try:
                call()
            except Exception as e:
                return traceback.extract_tb(e.__traceback__)[-1].lineno
        assert line_of(fail) == 6, line_of(fail)
        assert line_of(lambda: C().m()) == 10, line_of(lambda: C().m())
        assert fail.__code__.co_firstlineno == 5
        ",
    );
}

#[test]
fn a_syntax_error_in_a_changed_statement_names_the_files_line_and_changes_nothing() {
    let p = project();
    p.write("inc_syntax_m", "A = 1\nB = 2\n\n\ndef f():\n    return A\n");
    p.run("import inc_syntax_m as m\nsnap = snapshot(m)");
    p.write(
        "inc_syntax_m",
        "A = 1\nB = 2\n\n\ndef f():\n    return A +\n",
    );
    p.run(
        r"
        r = swapscope.reload('inc_syntax_m')
        assert r['outcome'] == 'failed' and r['error']['line'] == 6, show(r)
        assert r['error']['file'].endswith('inc_syntax_m.py')
        assert_identical(m, snap)
        ",
    );
}

#[test]
fn a_raising_statement_rolls_back_exactly() {
    let p = project();
    p.write("inc_raise_m", "A = 1\nB = A + 1\nC = 3\n");
    p.run("import inc_raise_m as m\nsnap = snapshot(m)");
    p.write("inc_raise_m", "A = 2\nB = A + 1\nC = 1 // 0\n");
    p.run(
        r"
        r = swapscope.reload('inc_raise_m')
        assert r['outcome'] == 'rolled_back', show(r)
        assert r['mode'] == 'incremental'
        assert r['error']['line'] == 3 and 'ZeroDivisionError' in r['error']['message'], show(r)
        assert_identical(m, snap)
        assert (m.A, m.B, m.C) == (1, 2, 3)
        ",
    );
}

#[test]
fn a_removed_statement_removes_its_name_and_a_reader_fails_as_in_a_whole_reload() {
    let p = project();
    p.write("inc_gone_m", "A = 1\nB = 2\ndef f():\n    return B\n");
    p.run("import inc_gone_m as m");
    p.write("inc_gone_m", "A = 1\ndef f():\n    return B\n");
    p.run(
        r"
        r = applied(swapscope.reload('inc_gone_m'))
        assert r['mode'] == 'incremental', show(r)
        expect(r, 'B', 'removed')
        assert not hasattr(m, 'B')
        ",
    );
    p.write("inc_gone_m", "A = 1\nC = B\n");
    p.run(
        r"
        r = swapscope.reload('inc_gone_m')
        assert r['outcome'] == 'rolled_back' and 'NameError' in r['error']['message'], show(r)
        ",
    );
}

#[test]
fn what_the_analysis_cannot_follow_reloads_the_whole_module_and_says_why() {
    let p = project();
    p.write("inc_dyn_m", "X = 1\nglobals()['Y'] = X * 2\n");
    p.run("import inc_dyn_m as m");
    p.write("inc_dyn_m", "X = 2\nglobals()['Y'] = X * 2\n");
    p.run(
        r"
        r = applied(swapscope.reload('inc_dyn_m'))
        assert r['mode'] == 'full' and 'globals()' in r['mode_note'], show(r)
        assert 'line 2' in r['mode_note'], r['mode_note']
        assert m.Y == 4
        ",
    );
    p.write("inc_order_m", "A = 1\nB = 2\n");
    p.run("import inc_order_m as o");
    p.write("inc_order_m", "B = 2\nA = 1\n");
    p.run(
        r"
        r = applied(swapscope.reload('inc_order_m'))
        assert r['mode'] == 'full' and 'order' in r['mode_note'], show(r)
        ",
    );
    // Asked for.
    p.write("inc_order_m", "B = 2\nA = 3\n");
    p.run(
        r"
        r = applied(swapscope.reload('inc_order_m', full=True))
        assert r['mode'] == 'full' and 'asked' in r['mode_note'], show(r)
        ",
    );
}

#[test]
fn data_the_program_changed_is_decided_by_the_rule_as_in_a_whole_reload() {
    let p = project();
    p.write(
        "inc_state_m",
        "SCORES = {'ann': 0}\nLEVEL = 1\ndef f():\n    return 1\n",
    );
    p.run("import inc_state_m as m\nm.SCORES['bob'] = 5\nm.LEVEL = 7\nscores = m.SCORES");
    p.write(
        "inc_state_m",
        "SCORES = {'ann': 0}\nLEVEL = 1\ndef f():\n    return 2\n",
    );
    p.run(
        r"
        r = applied(swapscope.reload('inc_state_m'))
        assert r['mode'] == 'incremental', show(r)
        assert m.SCORES is scores and scores == {'ann': 0, 'bob': 5}
        assert m.LEVEL == 7
        expect(r, 'LEVEL', 'kept_live')
        ",
    );
}

#[test]
fn a_new_subclass_runs_alone_on_the_live_base() {
    let p = project();
    p.write("inc_sub_m", "class Base:\n    pass\n");
    p.run("import inc_sub_m as m\nBase = m.Base");
    p.write(
        "inc_sub_m",
        "class Base:\n    pass\n\nclass Child(Base):\n    pass\n",
    );
    p.run(
        r"
        r = applied(swapscope.reload('inc_sub_m'))
        assert r['mode'] == 'incremental' and r['mode_note'].startswith('1 of 2'), show(r)
        assert m.Child.__bases__ == (Base,)
        expect(r, 'Child', 'added')
        expect(r, 'Base', 'unchanged')
        ",
    );
}

#[test]
fn a_module_reloaded_since_is_read_again_by_the_imports_that_name_it() {
    let p = project();
    p.write("inc_dep_a", "VALUE = 1\n");
    p.write(
        "inc_dep_b",
        "import inc_dep_a\nfrom inc_dep_a import VALUE\nX = inc_dep_a.VALUE\nY = VALUE\nN = 1\n",
    );
    p.run("import inc_dep_a as a, inc_dep_b as b");
    p.write("inc_dep_a", "VALUE = 2\n");
    p.run("applied(swapscope.reload('inc_dep_a'))");
    p.write(
        "inc_dep_b",
        "import inc_dep_a\nfrom inc_dep_a import VALUE\nX = inc_dep_a.VALUE\nY = VALUE\nN = 2\n",
    );
    p.run(
        r"
        r = applied(swapscope.reload('inc_dep_b'))
        assert r['mode'] == 'incremental', show(r)
        assert (b.X, b.Y, b.N) == (2, 2, 2), (b.X, b.Y, b.N)
        expect(r, 'X', 'took_new')
        ",
    );
}

#[test]
fn a_closure_counter_survives_reload_after_reload_in_both_modes() {
    let p = project();
    let source = |x: u32| {
        format!(
            r"
            def make_counter():
                count = 0
                def bump():
                    nonlocal count
                    count += 1
                    return count
                return bump

            bump = make_counter()
            X = {x}
            "
        )
    };
    for (module, full) in [("inc_cell_full", "True"), ("inc_cell_inc", "False")] {
        p.write(module, &source(1));
        p.run(&format!("import {module} as m\nbump = m.bump"));
        p.write(module, &source(2));
        p.run(&format!(
            "applied(swapscope.reload('{module}', full={full}))\nassert bump() == 1"
        ));
        p.write(module, &source(3));
        p.run(&format!(
            r"
            r = applied(swapscope.reload('{module}', full={full}))
            assert bump() == 2, 'the count was reset'
            assert m.bump is bump
            assert action(r, 'bump::count') == 'kept_live', show(r)
            "
        ));
    }
}

#[test]
fn moved_lines_move_this_modules_code_and_leave_generated_and_other_code_alone() {
    let p = project();
    let source = |padding: &str| {
        format!(
            "import dataclasses, functools\n{padding}X = 1\n\ndef traced(fn):\n    @functools.wraps(fn)\n    def wrapper(*a):\n        return fn(*a)\n    return wrapper\n\n@dataclasses.dataclass\nclass S:\n    a: int = 1\n\nclass Unit:\n    @traced\n    def attack(self):\n        return 7\n\ndef make():\n    def inner():\n        return 1\n    return inner\n\nmade = make()\n"
        )
    };
    p.write("inc_move_m", &source("P0 = 0\nP1 = 1\nP2 = 2\n"));
    p.run(
        r"
        import inc_move_m as m
        lines = lambda: (m.S.__init__.__code__.co_firstlineno,
                         m.Unit.attack.__code__.co_firstlineno,
                         m.Unit.attack.__wrapped__.__code__.co_firstlineno,
                         m.made.__code__.co_firstlineno,
                         m.make.__code__.co_firstlineno)
        before = lines()
        ",
    );
    p.write("inc_move_m", &source(""));
    p.run(
        r"
        r = applied(swapscope.reload('inc_move_m'))
        assert r['mode'] == 'incremental', show(r)
        now = lines()
        # The dataclass's generated __init__ is not this file's; the wrapper's code is traced's,
        # which moved too; the method, the closure made by make(), and make itself moved up 3.
        assert now[0] == before[0], (before, now)
        assert [b - n for b, n in zip(before[1:], now[1:])] == [3, 3, 3, 3], (before, now)
        assert not hasattr(m, 'P0')
        ",
    );
}
