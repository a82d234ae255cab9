//! Classes with machinery through a reload: Enum members keep their identity, dataclasses
//! regenerate their methods on the old class, `NamedTuple` field changes are refused.

use crate::common::engine::project;

#[test]
fn enum_members_keep_identity_added_removed_value_changed() {
    let p = project();
    p.write(
        "enum_members_m",
        r"
        import enum

        class Color(enum.Enum):
            RED = 1
            GREEN = 2
            BLUE = 3

            def label(self):
                return self.name.lower()

        FAVOURITE = Color.RED
        ",
    );
    p.run(
        r"
        import enum_members_m as m
        from enum_members_m import Color
        red, green, blue = Color.RED, Color.GREEN, Color.BLUE
        by_color = {Color.RED: 'warm'}
        assert red.label() == 'red'
        ",
    );
    p.write(
        "enum_members_m",
        r"
        import enum

        class Color(enum.Enum):
            RED = 1
            GREEN = 20
            YELLOW = 4

            def label(self):
                return self.name.upper()

        FAVOURITE = Color.RED
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('enum_members_m'))
        assert m.Color is Color
        assert Color.RED is red and Color(1) is red and Color['RED'] is red
        assert m.FAVOURITE is red
        assert by_color[Color.RED] == 'warm'
        assert red.label() == 'RED', 'members run the new methods'
        # value change: same member object, new value, found by the new value only
        assert Color.GREEN is green and green.value == 20 and Color(20) is green
        try:
            Color(2)
        except ValueError:
            pass
        else:
            raise AssertionError('Color(2) still finds a member')
        c = expect(r, 'Color.GREEN', 'took_new')
        assert '2' in c['old'] and '20' in c['new'], c
        # added member: on the old class, an instance of it
        yellow = Color.YELLOW
        assert isinstance(yellow, Color) and type(yellow) is Color and Color(4) is yellow
        assert yellow.label() == 'YELLOW' and yellow.value == 4
        expect(r, 'Color.YELLOW', 'added')
        # removed member: gone from the class, held references keep working
        assert 'BLUE' not in Color.__members__ and not hasattr(Color, 'BLUE')
        assert blue.value == 3
        expect(r, 'Color.BLUE', 'removed')
        assert list(Color) == [red, green, yellow], list(Color)
        expect(r, 'Color.RED', 'unchanged')
        expect(r, 'Color.label', 'code_swapped')
        ",
    );
}

#[test]
fn dataclass_field_added_regenerates_machinery() {
    let p = project();
    p.write(
        "dc_fields_m",
        r"
        from dataclasses import dataclass

        @dataclass
        class Unit:
            name: str
            hp: int = 10

            def describe(self):
                return f'{self.name}:{self.hp}'
        ",
    );
    p.run(
        r#"
        import dataclasses
        import dc_fields_m as m
        from dc_fields_m import Unit
        old_unit = Unit('ann', 3)
        assert repr(old_unit) == "Unit(name='ann', hp=3)"
        "#,
    );
    p.write(
        "dc_fields_m",
        r"
        from dataclasses import dataclass

        @dataclass
        class Unit:
            name: str
            hp: int = 10
            armor: int = 0

            def describe(self):
                return f'{self.name}:{self.hp}/{self.armor}'
        ",
    );
    p.run(
        r#"
        r = applied(swapscope.reload('dc_fields_m'))
        assert m.Unit is Unit
        assert [f.name for f in dataclasses.fields(Unit)] == ['name', 'hp', 'armor']
        u = Unit('bob', 5, 2)
        assert type(u) is Unit and u.armor == 2
        assert repr(u) == "Unit(name='bob', hp=5, armor=2)", repr(u)
        assert u == Unit('bob', 5, 2) and u != Unit('bob', 5, 3)
        assert Unit('cy').armor == 0
        # old instances keep their class and see the new machinery (armor from its default)
        assert type(old_unit) is Unit and isinstance(old_unit, m.Unit)
        assert repr(old_unit) == "Unit(name='ann', hp=3, armor=0)", repr(old_unit)
        assert old_unit.describe() == 'ann:3/0'
        assert old_unit == Unit('ann', 3)
        assert action(r, 'Unit') == 'class_patched', show(r)
        "#,
    );
}

#[test]
fn namedtuple_field_change_refused_as_incompatible() {
    let p = project();
    p.write(
        "nt_fields_m",
        r"
        from typing import NamedTuple

        class Point(NamedTuple):
            x: int
            y: int

        def norm(p):
            return abs(p.x) + abs(p.y)
        ",
    );
    p.run(
        r"
        import nt_fields_m as m
        from nt_fields_m import Point
        pt = Point(1, 2)
        before, class_before = snapshot(m), snapshot(Point)
        ",
    );
    p.write(
        "nt_fields_m",
        r"
        from typing import NamedTuple

        class Point(NamedTuple):
            x: int
            y: int
            z: int = 0

        def norm(p):
            return abs(p.x) + abs(p.y) + abs(p.z)
        ",
    );
    p.run(
        r"
        r = swapscope.reload('nt_fields_m')
        assert r['outcome'] == 'incompatible', show(r)
        msg = r['error']['message']
        assert 'Point' in msg and 'fields' in msg, msg
        assert 'replace_incompatible=True' in msg, msg
        c = entry(r, 'Point')
        assert c['note'] and 'fields' in c['note'], c
        assert_identical(m, before)
        assert_identical(Point, class_before)
        assert Point._fields == ('x', 'y') and m.norm(pt) == 3
        ",
    );
}

#[test]
fn enum_int_member_value_change_is_consistent_or_reported() {
    let p = project();
    p.write(
        "enum_int_m",
        r"
        import enum

        class Level(enum.IntEnum):
            LOW = 1
            HIGH = 2
        ",
    );
    p.run(
        r"
        import enum_int_m as m
        from enum_int_m import Level
        high = Level.HIGH
        ",
    );
    p.write(
        "enum_int_m",
        r"
        import enum

        class Level(enum.IntEnum):
            LOW = 1
            HIGH = 3
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('enum_int_m'))
        c = entry(r, 'Level.HIGH')
        if c['action'] in ('not_applied', 'replaced'):
            # Refused, and said so: the member must then still be the consistent old one.
            assert c['note'], c
            assert Level.HIGH.value == int(Level.HIGH), (Level.HIGH.value, int(Level.HIGH))
        else:
            # Applied: the member is the same object and is the new value everywhere.
            assert Level.HIGH is high and Level(3) is high
            assert high.value == 3 and int(high) == 3 and high == 3, (high.value, int(high))
        ",
    );
}
