//! Closures through a reload: old cells stay, their contents follow the three-way data rule, and a
//! change of free variables binds the new function in the module and says so.

use crate::common::engine::project;

#[test]
fn closure_nonlocal_counter_keeps_live_value() {
    let p = project();
    p.write(
        "clo_counter_m",
        r"
        def make_counter():
            n = 0
            def tick():
                nonlocal n
                n += 1
                return n
            return tick

        tick = make_counter()
        ",
    );
    p.run(
        r"
        import clo_counter_m as m
        from clo_counter_m import tick
        cell = tick.__closure__[0]
        assert [tick(), tick(), tick()] == [1, 2, 3]
        ",
    );
    p.write(
        "clo_counter_m",
        r"
        def make_counter():
            n = 0
            def tick():
                nonlocal n
                n += 10
                return n
            return tick

        tick = make_counter()
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('clo_counter_m'))
        assert m.tick is tick and tick.__closure__[0] is cell
        assert cell.cell_contents == 3, cell.cell_contents
        assert tick() == 13, 'new code on the live count'
        expect(r, 'tick::n', 'kept_live')
        expect(r, 'tick', 'code_swapped')
        ",
    );
}

#[test]
fn closure_factory_argument_change_takes_new_value() {
    let p = project();
    p.write(
        "clo_factory_m",
        r"
        def make_weapon(damage):
            def fire():
                return damage
            return fire

        pistol = make_weapon(12)
        rifle = make_weapon(30)
        ",
    );
    p.run(
        r"
        import clo_factory_m as m
        from clo_factory_m import pistol, rifle
        loadout = {'main': pistol}
        assert pistol() == 12 and rifle() == 30
        ",
    );
    p.write(
        "clo_factory_m",
        r"
        def make_weapon(damage):
            def fire():
                return damage
            return fire

        pistol = make_weapon(15)
        rifle = make_weapon(30)
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('clo_factory_m'))
        assert m.pistol is pistol and loadout['main'] is pistol and m.rifle is rifle
        assert pistol() == 15, pistol()
        assert rifle() == 30
        expect(r, 'pistol::damage', 'took_new')
        ",
    );
}

#[test]
fn closure_free_variables_changed_is_replaced() {
    let p = project();
    p.write(
        "clo_freevars_m",
        r"
        def make_adder():
            a = 1
            def inner():
                return a
            return inner

        def make_remover():
            a, b = 1, 2
            def inner():
                return a + b
            return inner

        grows = make_adder()
        shrinks = make_remover()
        ",
    );
    p.run(
        r"
        import clo_freevars_m as m
        from clo_freevars_m import grows, shrinks
        assert grows() == 1 and shrinks() == 3
        ",
    );
    p.write(
        "clo_freevars_m",
        r"
        def make_adder():
            a, b = 1, 2
            def inner():
                return (a + b) * 10
            return inner

        def make_remover():
            a = 1
            def inner():
                return a * 100
            return inner

        grows = make_adder()
        shrinks = make_remover()
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('clo_freevars_m'))
        # the module has the new functions ...
        assert m.grows is not grows and m.grows() == 30, m.grows()
        assert m.shrinks is not shrinks and m.shrinks() == 100, m.shrinks()
        # ... references held elsewhere keep the old code, and the report says so
        assert grows() == 1 and shrinks() == 3
        for name in ('grows', 'shrinks'):
            c = expect(r, name, 'replaced')
            assert 'free variables' in c['note'], c
        ",
    );
}

/// Handlers a factory made before the reload keep the old code by default (no heap scan);
/// `closures=True` finds them and gives them the new code, keeping their cells; the report says
/// how many and how long the scan took.
#[test]
fn closures_made_before_the_reload_are_updated_only_on_request() {
    let p = project();
    p.write(
        "clos_scan_m",
        r"
        def make_handler(tag):
            def handle(x):
                return f'{tag}:{x}'
            return handle
        ",
    );
    p.run(
        r"
        import clos_scan_m as m
        ui = m.make_handler('ui')
        net = m.make_handler('net')
        handlers = {'ui': ui}
        ",
    );
    p.write(
        "clos_scan_m",
        r"
        def make_handler(tag):
            def handle(x):
                return f'{tag}={x}!'
            return handle
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('clos_scan_m'))
        assert ui(1) == 'ui:1', 'no scan by default'
        assert not entries(r, 'closures')
        assert m.make_handler('new')(2) == 'new=2!'
        ",
    );
    p.write(
        "clos_scan_m",
        r"
        def make_handler(tag):
            def handle(x):
                return f'{tag}#{x}'
            return handle
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('clos_scan_m', closures=True))
        c = expect(r, 'closures', 'code_swapped')
        assert ' 2 closures' in c['note'] and 'objects scanned' in c['note'], c
        assert ui(1) == 'ui#1' and net(3) == 'net#3' and handlers['ui'] is ui
        ",
    );
}
