//! Module data through a reload: the three-way rule, overrides, removed and run-time names, kind
//! changes, stale copies in other modules, and dry runs.

use crate::common::alone;
use crate::common::engine::project;

#[test]
fn data_three_way_rule() {
    let p = project();
    p.write(
        "data_rule_m",
        r"
        SAME = 1
        EDITED = 10
        BOTH = 100
        QUIET = 5
        INVENTORY = ['sword']
        ",
    );
    p.run(
        r"
        import data_rule_m as m
        m.SAME = 2
        m.BOTH = 200
        inventory = m.INVENTORY
        inventory.append('shield')
        quiet = m.QUIET
        ",
    );
    p.write(
        "data_rule_m",
        r"
        SAME = 1
        EDITED = 12
        BOTH = 150
        QUIET = 5
        INVENTORY = ['sword']
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('data_rule_m'))
        assert (m.SAME, m.EDITED, m.BOTH, m.QUIET) == (2, 12, 150, 5), (m.SAME, m.EDITED, m.BOTH)
        assert m.INVENTORY is inventory and inventory == ['sword', 'shield']
        c = expect(r, 'SAME', 'kept_live')
        assert c['kind'] == 'data' and c['note'], c
        c = expect(r, 'EDITED', 'took_new')
        assert '10' in c['old'] and '12' in c['new'], c
        c = expect(r, 'BOTH', 'conflict_took_new')
        assert '200' in c['old'] and '150' in c['new'] and c['note'], c
        expect(r, 'QUIET', 'unchanged')
        expect(r, 'INVENTORY', 'kept_live')
        ",
    );
}

#[test]
fn data_keep_and_take_overrides() {
    let p = project();
    p.write(
        "data_overrides_m",
        r"
        CONFLICT = 1
        LIVE = 2
        EDITED = 3
        ",
    );
    p.run(
        r"
        import data_overrides_m as m
        m.CONFLICT = 10
        m.LIVE = 20
        live_conflict = m.CONFLICT
        ",
    );
    p.write(
        "data_overrides_m",
        r"
        CONFLICT = 100
        LIVE = 2
        EDITED = 300
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('data_overrides_m', keep=['CONFLICT', 'EDITED'], take=('LIVE',)))
        assert m.CONFLICT == 10, 'keep wins over a conflict'
        expect(r, 'CONFLICT', 'conflict_kept_live')
        assert m.LIVE == 2, 'take replaces live state with the source value'
        expect(r, 'LIVE', 'took_new')
        assert m.EDITED == 3, 'keep ignores a source edit'
        expect(r, 'EDITED', 'kept_live')
        ",
    );
}

#[test]
fn data_keep_override_on_class_member() {
    let p = project();
    p.write(
        "data_class_keep_m",
        r"
        class Player:
            MAX_HP = 100
        ",
    );
    p.run("import data_class_keep_m as m; m.Player.MAX_HP = 111");
    p.write(
        "data_class_keep_m",
        r"
        class Player:
            MAX_HP = 150
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('data_class_keep_m', keep=['Player.MAX_HP']))
        assert m.Player.MAX_HP == 111
        expect(r, 'Player.MAX_HP', 'conflict_kept_live')
        ",
    );
}

#[test]
fn data_derived_value_follows_its_base() {
    let p = project();
    p.write(
        "data_derived_m",
        r"
        BASE_HP = 100
        BOSS_HP = BASE_HP * 5
        ",
    );
    p.run("import data_derived_m as m; assert m.BOSS_HP == 500");
    p.write(
        "data_derived_m",
        r"
        BASE_HP = 120
        BOSS_HP = BASE_HP * 5
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('data_derived_m'))
        assert (m.BASE_HP, m.BOSS_HP) == (120, 600), (m.BASE_HP, m.BOSS_HP)
        expect(r, 'BASE_HP', 'took_new')
        expect(r, 'BOSS_HP', 'took_new')
        ",
    );
}

#[test]
fn data_state_dict_survives_unrelated_change() {
    let p = project();
    p.write(
        "data_state_m",
        r"
        _sessions = {}

        def login(name):
            _sessions[name] = {'level': 1}
            return 'welcome'
        ",
    );
    p.run(
        r"
        import data_state_m as m
        sessions = m._sessions
        m.login('ann'); m.login('bob')
        sessions['ann']['level'] = 9
        ",
    );
    p.write(
        "data_state_m",
        r"
        _sessions = {}

        def login(name):
            _sessions[name] = {'level': 1}
            return 'welcome back'
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('data_state_m'))
        assert m._sessions is sessions
        assert sessions == {'ann': {'level': 9}, 'bob': {'level': 1}}, sessions
        assert m.login('cy') == 'welcome back' and 'cy' in sessions
        c = expect(r, '_sessions', 'kept_live')
        assert c['note'], c
        expect(r, 'login', 'code_swapped')
        ",
    );
}

#[test]
fn data_removed_names_removed_runtime_names_stay() {
    let p = project();
    p.write(
        "data_removed_m",
        r"
        OLD_NAME = 'old'
        KEPT = 1

        def helper():
            return 'helper'

        def remember():
            global CACHE
            CACHE = {'warm': True}
        ",
    );
    p.run(
        r"
        import data_removed_m as m
        from data_removed_m import helper
        m.remember()
        cache = m.CACHE
        ",
    );
    p.write(
        "data_removed_m",
        r"
        KEPT = 1

        def remember():
            global CACHE
            CACHE = {'warm': True}
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('data_removed_m'))
        assert not hasattr(m, 'OLD_NAME') and not hasattr(m, 'helper')
        expect(r, 'OLD_NAME', 'removed')
        expect(r, 'helper', 'removed')
        assert helper() == 'helper', 'held references keep working'
        assert m.CACHE is cache, 'a name created at run time is live state'
        assert action(r, 'CACHE') in ('kept_live', 'unchanged'), show(r)
        ",
    );
}

#[test]
fn data_runtime_name_survives_second_reload() {
    let p = project();
    p.write(
        "data_runtime_twice_m",
        r"
        KEPT = 1

        def remember():
            global CACHE
            CACHE = {'warm': True}
        ",
    );
    p.run(
        r"
        import data_runtime_twice_m as m
        m.remember()
        cache = m.CACHE
        ",
    );
    for (i, kept) in [(1, 2), (2, 3)] {
        p.write(
            "data_runtime_twice_m",
            &format!(
                r"
                KEPT = {kept}

                def remember():
                    global CACHE
                    CACHE = {{'warm': True}}
                "
            ),
        );
        p.run(&format!(
            r"
            r = applied(swapscope.reload('data_runtime_twice_m'))
            assert m.KEPT == {kept}
            assert getattr(m, 'CACHE', None) is cache, ('reload {i}', show(r))
            assert action(r, 'CACHE') in ('kept_live', 'unchanged'), show(r)
            "
        ));
    }
}

#[test]
fn data_keep_override_keeps_removed_name() {
    let p = project();
    p.write(
        "data_keep_removed_m",
        r"
        TABLE = {'a': 1}
        OTHER = 2
        ",
    );
    p.run("import data_keep_removed_m as m; table = m.TABLE");
    p.write("data_keep_removed_m", "OTHER = 2\n");
    p.run(
        r"
        r = applied(swapscope.reload('data_keep_removed_m', keep=['TABLE']))
        assert m.TABLE is table
        c = expect(r, 'TABLE', 'kept_live')
        assert 'override' in c['note'], c
        ",
    );
}

#[test]
fn data_global_changing_kind_is_replaced() {
    let p = project();
    p.write(
        "data_kind_m",
        r"
        def f():
            return 'function'

        X = 1
        ",
    );
    p.run("import data_kind_m as m; from data_kind_m import f");
    p.write(
        "data_kind_m",
        r"
        f = 42

        def X():
            return 'now a function'
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('data_kind_m'))
        assert m.f == 42 and m.X() == 'now a function'
        assert f() == 'function'
        c = expect(r, 'f', 'replaced')
        assert c['kind'] == 'data' and c['note'], c
        c = expect(r, 'X', 'replaced')
        assert c['kind'] == 'function' and c['note'], c
        ",
    );
}

#[test]
fn data_stale_copies_listed_and_propagated() {
    // Stale copies are looked for in every tracked module, and `propagate` writes into each one
    // listed: another test's module holding `DAMAGE = 10` (the same small int) would be one.
    let _alone = alone();
    let p = project();
    p.write(
        "data_stale_src",
        r"
        DAMAGE = 10
        LOOT = {'coin': 1}
        SPEED = 3
        ",
    );
    p.write(
        "data_stale_user",
        r"
        from data_stale_src import DAMAGE, SPEED
        from data_stale_src import LOOT as DROPS

        def shoot():
            return DAMAGE

        def drops():
            return DROPS
        ",
    );
    p.run(
        r"
        import data_stale_src as src
        import data_stale_user as user
        assert user.shoot() == 10
        ",
    );
    p.write(
        "data_stale_src",
        r"
        DAMAGE = 12
        LOOT = {'coin': 2}
        SPEED = 3
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('data_stale_src'))
        stale = {(s['module'], s['name'], s['source']) for s in r['stale_refs']}
        assert ('data_stale_user', 'DAMAGE', 'DAMAGE') in stale, show(r)
        assert not any(s[1] == 'SPEED' for s in stale), 'an unchanged value is not stale'
        # A dict is merged key by key into the live one: a copy of it is no copy at all.
        assert not any(s[1] == 'DROPS' for s in stale), show(r)
        assert user.DROPS is src.LOOT and user.drops() == {'coin': 2}
        assert user.shoot() == 10, 'not propagated yet'
        n = swapscope.propagate(r)
        assert n == len(r['stale_refs']), n
        assert user.shoot() == 12 and user.DAMAGE == 12
        ",
    );
}

#[test]
fn data_dry_run_reports_and_changes_nothing() {
    let p = project();
    p.write(
        "data_dry_m",
        r"
        DAMAGE = 10
        OLD = 'old'

        def f():
            return 'old'

        class C:
            def m(self):
                return 'old'
        ",
    );
    p.run(
        r"
        import data_dry_m as m
        from data_dry_m import f, C
        before, class_before = snapshot(m), snapshot(C)
        code_before, method_code = f.__code__, C.m.__code__
        ",
    );
    p.write(
        "data_dry_m",
        r"
        DAMAGE = 12
        NEW = 'new'

        def f():
            return 'new'

        class C:
            def m(self):
                return 'new'
            def added(self):
                return 'added'
        ",
    );
    p.run(
        r"
        r = swapscope.reload('data_dry_m', dry_run=True)
        assert r['dry_run'] is True and r['outcome'] == 'applied', show(r)
        expect(r, 'DAMAGE', 'took_new')
        expect(r, 'NEW', 'added')
        expect(r, 'OLD', 'removed')
        expect(r, 'f', 'code_swapped')
        expect(r, 'C', 'class_patched')
        expect(r, 'C.m', 'code_swapped')
        expect(r, 'C.added', 'added')
        assert_identical(m, before)
        assert_identical(C, class_before)
        assert f.__code__ is code_before and C.m.__code__ is method_code
        assert f() == 'old' and C().m() == 'old' and m.DAMAGE == 10
        # the dry run left the baseline alone: the real reload reports the same
        real = applied(swapscope.reload('data_dry_m'))
        assert real['dry_run'] is False
        dry = sorted((c['qualname'], c['action']) for c in r['changes'])
        done = sorted((c['qualname'], c['action']) for c in real['changes'])
        assert dry == done, (dry, done)
        assert m.DAMAGE == 12 and f() == 'new' and C().added() == 'added'
        ",
    );
}

#[test]
fn data_unchanged_statement_keeps_live_state_when_code_it_runs_changed() {
    let p = project();
    p.write(
        "data_stmt_m",
        r"
        class Player:
            def __init__(self, name):
                self.name = name
                self.hp = 100

        players = [Player('ann'), Player('bob')]
        SPAWN_HP = [p.hp for p in [Player('x')]]
        ",
    );
    p.run(
        r"
        import data_stmt_m as m
        held = list(m.players)
        m.players[0].hp = 42
        ",
    );
    // The class changed, so the unchanged `players = ...` statement now builds other values;
    // the designer did not touch it and the game changed them: live state stays.
    p.write(
        "data_stmt_m",
        r"
        class Player:
            def __init__(self, name):
                self.name = name
                self.hp = 150

        players = [Player('ann'), Player('bob')]
        SPAWN_HP = [p.hp for p in [Player('x')]]
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('data_stmt_m'))
        assert m.players == held and all(a is b for a, b in zip(m.players, held))
        assert m.players[0].hp == 42
        c = expect(r, 'players', 'conflict_kept_live')
        assert 'statement is unchanged' in c['note'], c
        # Nobody changed SPAWN_HP at run time: it follows the code it runs.
        assert m.SPAWN_HP == [150]
        expect(r, 'SPAWN_HP', 'took_new')
        ",
    );
}

/// Values the fingerprint used to hash by type name only (issue: "values the fingerprint cannot
/// see into"): each edit is taken, an unchanged statement keeps the live value.
#[test]
fn data_values_of_stdlib_types_lambdas_and_unseen_objects_follow_the_source() {
    let p = project();
    let module = r"
        import re, decimal, fractions, datetime, pathlib, functools
        FORMULAS = {'damage': lambda lvl: lvl * 2}
        PATTERNS = (re.compile('a'),)
        PRICES = {'sword': decimal.Decimal('1.50')}
        RATIO = [fractions.Fraction(1, 3)]
        DATES = {'launch': datetime.date(2026, 1, 1)}
        PATHS = {'save': pathlib.Path('saves/a')}
        SPANS = {'levels': range(10)}
        BOUND = {'add': functools.partial(max, 1)}
        KEPT = {'add': functools.partial(max, 1), 'n': 1}
        ";
    p.write("data_unseen_m", module);
    p.run(
        r"
        import data_unseen_m as m
        kept = m.KEPT
        ",
    );
    let edited = module
        .replace("lvl * 2", "lvl * 3")
        .replace("compile('a')", "compile('b')")
        .replace("'1.50'", "'2.50'")
        .replace("Fraction(1, 3)", "Fraction(2, 3)")
        .replace("2026, 1, 1", "2027, 1, 1")
        .replace("saves/a", "saves/b")
        .replace("range(10)", "range(20)")
        .replace(
            "{'add': functools.partial(max, 1)}",
            "{'add': functools.partial(max, 2)}",
        );
    p.write("data_unseen_m", &edited);
    p.run(
        r"
        r = applied(swapscope.reload('data_unseen_m'))
        for name in ('FORMULAS', 'PATTERNS', 'PRICES', 'RATIO', 'DATES', 'PATHS', 'SPANS', 'BOUND'):
            assert action(r, name) == 'took_new', (name, show(r))
        assert m.FORMULAS['damage'](10) == 30
        assert m.PATTERNS[0].pattern == 'b' and str(m.PRICES['sword']) == '2.50'
        assert m.RATIO == [fractions.Fraction(2, 3)] if (fractions := __import__('fractions')) else False
        assert m.DATES['launch'].year == 2027 and str(m.PATHS['save']) == 'saves/b'
        assert m.SPANS['levels'] == range(20) and m.BOUND['add'](0) == 2
        # KEPT holds an object hashed by its type only; its statement did not change.
        expect(r, 'KEPT', 'unchanged')
        assert m.KEPT is kept
        ",
    );
}

#[test]
fn data_a_same_valued_global_not_imported_is_not_a_stale_copy_and_an_alias_is() {
    let p = project();
    p.write("data_coin_src", "DEBUG = False\nDAMAGE = 10\n");
    // Holds the same objects (False, the small int 10) without importing them.
    p.write("data_coin_other", "DEBUG = False\nDAMAGE = 10\n");
    p.write(
        "data_coin_alias",
        "from data_coin_src import DAMAGE as HIT\n",
    );
    p.run("import data_coin_src as src, data_coin_other as other, data_coin_alias as alias");
    p.write("data_coin_src", "DEBUG = True\nDAMAGE = 12\n");
    p.run(
        r"
        r = applied(swapscope.reload('data_coin_src'))
        stale = {(s['module'], s['name'], s['source']) for s in r['stale_refs']}
        assert not any(m == 'data_coin_other' for m, _, _ in stale), show(r)
        assert ('data_coin_alias', 'HIT', 'DAMAGE') in stale, show(r)
        swapscope.propagate(r)
        assert other.DEBUG is False and other.DAMAGE == 10, 'an unrelated module is left alone'
        assert alias.HIT == 12
        ",
    );
}

/// A name removed from the source that other tracked modules (and the module's own new code)
/// still read: the dry run and the report say where, file and line, before the game fails.
#[test]
fn data_removed_name_still_used_is_reported_with_places() {
    let p = project();
    p.write(
        "data_gone_bal",
        r"
        XP_PER_KILL = 30
        LEVEL_CAP = 10

        def cap():
            return LEVEL_CAP
        ",
    );
    p.write(
        "data_gone_players",
        r"
        import data_gone_bal as bal

        def gain():
            return bal.XP_PER_KILL * 2

        class Hero:
            def level_up(self):
                return bal.LEVEL_CAP
        ",
    );
    p.run(
        r"
        import data_gone_bal as b
        import data_gone_players as pl
        assert pl.gain() == 60
        ",
    );
    p.write(
        "data_gone_bal",
        r"
        def cap():
            return LEVEL_CAP
        ",
    );
    p.run(
        r"
        d = applied(swapscope.reload('data_gone_bal', dry_run=True))
        note = expect(d, 'XP_PER_KILL', 'removed')['note']
        assert 'data_gone_players.py:4 reads bal.XP_PER_KILL' in note, note
        note = expect(d, 'LEVEL_CAP', 'removed')['note']
        assert 'data_gone_players.py:8 reads bal.LEVEL_CAP' in note, note
        assert 'data_gone_bal.py:2 uses LEVEL_CAP' in note, note
        assert b.XP_PER_KILL == 30, 'a dry run changes nothing'
        r = applied(swapscope.reload('data_gone_bal'))
        assert 'data_gone_players.py:4' in expect(r, 'XP_PER_KILL', 'removed')['note']
        ",
    );
}

/// `from m import *` elsewhere: a value the reload replaced is a stale copy there too (a shared
/// small value included, since the star imported it), and a public name the reload added is
/// listed as missing; `propagate` fixes both. A private name is not imported by a star.
#[test]
fn data_star_import_copies_and_new_names_are_propagated() {
    let _alone = alone();
    let p = project();
    p.write(
        "data_star_src",
        r"
        DAMAGE = 10
        LOOT = ['coin']
        ",
    );
    p.write(
        "data_star_user",
        r"
        from data_star_src import *

        def shoot():
            return DAMAGE
        ",
    );
    p.run(
        r"
        import data_star_src as src
        import data_star_user as user
        ",
    );
    p.write(
        "data_star_src",
        r"
        DAMAGE = 12
        LOOT = ['gem']
        BONUS = 5
        _SECRET = 1
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('data_star_src'))
        stale = {(s['module'], s['name']) for s in r['stale_refs']}
        assert ('data_star_user', 'DAMAGE') in stale, show(r)
        assert ('data_star_user', 'BONUS') in stale, show(r)
        assert ('data_star_user', '_SECRET') not in stale, show(r)
        assert not hasattr(user, 'BONUS')
        swapscope.propagate(r)
        assert user.shoot() == 12 and user.BONUS == 5 and not hasattr(user, '_SECRET')
        ",
    );
}
