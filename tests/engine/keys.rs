//! The key-level merge of nested dicts: the three-way rule per key path, the live dict merged in
//! place (held references see the result), run-time additions and buffs kept, the report and the
//! overrides by key path.

use crate::common::engine::project;

/// The issue's case: the game adds a laser and buffs the rifle at run time, the designer edits
/// the pistol; after the reload all three hold, in the same dict objects the game holds.
#[test]
fn keys_designer_edit_keeps_run_time_additions_and_buffs() {
    let p = project();
    p.write(
        "keys_weapons_m",
        r#"
        WEAPONS = {"pistol": {"damage": 10}, "rifle": {"damage": 20}}
        "#,
    );
    p.run(
        r#"
        import keys_weapons_m as m
        weapons = m.WEAPONS
        rifle = m.WEAPONS["rifle"]
        m.WEAPONS["laser"] = {"damage": 99}
        m.WEAPONS["rifle"]["damage"] = 25
        "#,
    );
    p.write(
        "keys_weapons_m",
        r#"
        WEAPONS = {"pistol": {"damage": 14}, "rifle": {"damage": 20}}
        "#,
    );
    p.run(
        r#"
        r = applied(swapscope.reload('keys_weapons_m'))
        assert m.WEAPONS is weapons and m.WEAPONS["rifle"] is rifle, "merged in place"
        assert weapons == {"pistol": {"damage": 14}, "rifle": {"damage": 25}, "laser": {"damage": 99}}, weapons
        c = expect(r, "WEAPONS['pistol']['damage']", 'took_new')
        assert (c['old'], c['new']) == ('10', '14'), c
        expect(r, "WEAPONS['laser']", 'kept_live')
        assert 'run time' in entry(r, "WEAPONS['laser']")['note']
        assert not entries(r, "WEAPONS['rifle']['damage']"), "buffed at run time, unchanged in source: kept silently"
        c = expect(r, 'WEAPONS', 'took_new')
        assert 'key by key' in c['note'], c
        "#,
    );
}

/// Every row of the rule per key: changed on both sides (the source wins, a conflict), removed
/// from the source (gone unless the game changed it), deleted at run time (stays deleted unless
/// the source changed it), added by the source.
#[test]
fn keys_every_row_of_the_rule() {
    let p = project();
    p.write(
        "keys_rows_m",
        r#"
        T = {"both": 1, "gone": 2, "gone_but_used": 3, "deleted": 4, "deleted_edited": 5, "same": 6}
        "#,
    );
    p.run(
        r#"
        import keys_rows_m as m
        t = m.T
        t["both"] = 100
        t["gone_but_used"] = 300
        del t["deleted"]
        del t["deleted_edited"]
        "#,
    );
    p.write(
        "keys_rows_m",
        r#"
        T = {"both": 10, "deleted": 4, "deleted_edited": 50, "same": 6, "fresh": 7}
        "#,
    );
    p.run(
        r#"
        r = applied(swapscope.reload('keys_rows_m'))
        assert m.T is t
        assert t == {"both": 10, "gone_but_used": 300, "deleted_edited": 50, "same": 6, "fresh": 7}, t
        expect(r, "T['both']", 'conflict_took_new')
        expect(r, "T['gone']", 'removed')
        expect(r, "T['gone_but_used']", 'conflict_kept_live')
        expect(r, "T['deleted']", 'kept_live')
        expect(r, "T['deleted_edited']", 'conflict_took_new')
        expect(r, "T['fresh']", 'added')
        assert not entries(r, "T['same']")
        "#,
    );
}

/// A dry run reports the key paths and changes nothing; overrides name key paths; `take` on the
/// whole name still replaces the whole value.
#[test]
fn keys_dry_run_overrides_and_whole_take() {
    let p = project();
    p.write(
        "keys_ov_m",
        r#"
        CFG = {"a": {"x": 1, "y": 2}, "b": 3}
        "#,
    );
    p.run(
        r#"
        import keys_ov_m as m
        cfg = m.CFG
        cfg["a"]["y"] = 20
        cfg["extra"] = True
        "#,
    );
    p.write(
        "keys_ov_m",
        r#"
        CFG = {"a": {"x": 5, "y": 2}, "b": 30}
        "#,
    );
    p.run(
        r#"
        d = applied(swapscope.reload('keys_ov_m', dry_run=True))
        assert cfg == {"a": {"x": 1, "y": 20}, "b": 3, "extra": True}, ("dry run changed it", cfg)
        expect(d, "CFG['a']['x']", 'took_new')
        expect(d, "CFG['b']", 'took_new')

        r = applied(swapscope.reload('keys_ov_m', keep=["CFG['b']"], take=["CFG['a']['y']"]))
        assert m.CFG is cfg
        assert cfg == {"a": {"x": 5, "y": 2}, "b": 3, "extra": True}, cfg
        expect(r, "CFG['b']", 'kept_live')
        expect(r, "CFG['a']['y']", 'took_new')
        "#,
    );
    p.write(
        "keys_ov_m",
        r#"
        CFG = {"a": {"x": 6, "y": 2}, "b": 30}
        "#,
    );
    p.run(
        r#"
        r = applied(swapscope.reload('keys_ov_m', take=["CFG"]))
        assert m.CFG == {"a": {"x": 6, "y": 2}, "b": 30} and m.CFG is not cfg, m.CFG
        expect(r, 'CFG', 'conflict_took_new')
        assert not entries(r, "CFG['a']['x']"), "a whole take has no key paths"
        "#,
    );
}

/// Functions held in a dict the source edits: the merged dict holds the module's live
/// functions (patched in place), not the throwaway objects of the re-run body.
#[test]
fn keys_functions_in_a_merged_dict_are_the_live_ones() {
    let p = project();
    p.write(
        "keys_fn_m",
        r#"
        def hit(x):
            return x + 1

        def heal(x):
            return x - 1

        ACTIONS = {"hit": hit, "n": 1}
        "#,
    );
    p.run(
        r#"
        import keys_fn_m as m
        actions = m.ACTIONS
        hit = m.hit
        actions["custom"] = len
        "#,
    );
    p.write(
        "keys_fn_m",
        r#"
        def hit(x):
            return x + 10

        def heal(x):
            return x - 1

        ACTIONS = {"hit": hit, "heal": heal, "n": 2}
        "#,
    );
    p.run(
        r#"
        r = applied(swapscope.reload('keys_fn_m'))
        assert m.ACTIONS is actions
        assert actions["hit"] is hit and hit(1) == 11, actions
        assert actions["heal"] is m.heal, (actions["heal"], m.heal)
        assert actions["custom"] is len and actions["n"] == 2
        "#,
    );
}

/// A plain instance is merged attribute by attribute, in place: the game's run-time changes to
/// one attribute stay, the designer's edit of another lands, and the instance (and a nested
/// dict in it) keeps its identity.
#[test]
fn keys_plain_instances_are_merged_per_attribute() {
    let p = project();
    p.write(
        "keys_inst_m",
        r#"
        class Settings:
            def __init__(self, **kw):
                self.__dict__.update(kw)

        DEFAULTS = Settings(hp=100, mana=50, bonuses={"fire": 1})
        "#,
    );
    p.run(
        r#"
        import keys_inst_m as m
        d = m.DEFAULTS
        bonuses = d.bonuses
        d.mana = 75
        d.bonuses["ice"] = 2
        "#,
    );
    p.write(
        "keys_inst_m",
        r#"
        class Settings:
            def __init__(self, **kw):
                self.__dict__.update(kw)

        DEFAULTS = Settings(hp=120, mana=50, bonuses={"fire": 3})
        "#,
    );
    p.run(
        r#"
        r = applied(swapscope.reload('keys_inst_m'))
        assert m.DEFAULTS is d and d.bonuses is bonuses
        assert (d.hp, d.mana, d.bonuses) == (120, 75, {"fire": 3, "ice": 2}), vars(d)
        expect(r, 'DEFAULTS.hp', 'took_new')
        expect(r, "DEFAULTS.bonuses['fire']", 'took_new')
        expect(r, "DEFAULTS.bonuses['ice']", 'kept_live')
        assert isinstance(d, m.Settings)
        "#,
    );
}
