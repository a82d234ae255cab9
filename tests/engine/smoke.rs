use crate::common::Project;

#[test]
fn smoke() {
    let p = Project::new();
    p.write(
        "smoke_m",
        r"
        DAMAGE = 10
        def f():
            return DAMAGE
        class P:
            def fire(self):
                return f() + 1
    ",
    );
    p.run(
        r"
        import smoke_m as m
        from smoke_m import f, P
        p = P(); bound = p.fire; g = f
        assert f() == 10 and bound() == 11
    ",
    );
    p.write(
        "smoke_m",
        r"
        DAMAGE = 12
        def f():
            return DAMAGE * 2
        class P:
            def fire(self):
                return f() + 100
    ",
    );
    p.run(
        r"
        r = swapscope.reload('smoke_m')
        import json; print(json.dumps(r, indent=1))
        assert r['outcome'] == 'applied', r
        assert m.f is g and m.P is P
        assert f() == 24, f()
        assert bound() == 124
    ",
    );
}
