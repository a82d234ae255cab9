//! Functions through a reload: the old function object stays and runs the new code, wherever it
//! is held; its defaults, doc, annotations and `__dict__` follow the new source; the report tells
//! changed functions from unchanged ones.

use crate::common::engine::project;

#[test]
fn function_held_references_run_new_code() {
    let p = project();
    p.write(
        "fn_held_m",
        r"
        def f(x):
            return x + 1

        def g(cb=f):
            return cb(10)

        class Obj:
            def meth(self):
                return f(0)
        ",
    );
    p.run(
        r"
        import functools
        import fn_held_m as m
        from fn_held_m import f, g
        callbacks = {'x': f}
        part = functools.partial(f, 5)
        obj = m.Obj()
        bound = obj.meth
        code_before = f.__code__
        assert (f(1), callbacks['x'](1), part(), g(), bound()) == (2, 2, 6, 11, 1)
        ",
    );
    p.write(
        "fn_held_m",
        r"
        def f(x):
            return x * 100

        def g(cb=f):
            return cb(10)

        class Obj:
            def meth(self):
                return f(0) - 1
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('fn_held_m'))
        assert m.f is f and callbacks['x'] is f and part.func is f and m.g is g
        assert f.__code__ is not code_before
        assert f(1) == 100, f(1)
        assert callbacks['x'](2) == 200
        assert part() == 500
        # g's default still holds the surviving f, not the throwaway one the new body made
        assert g.__defaults__[0] is f, g.__defaults__
        assert g() == 1000, g()
        assert bound.__self__ is obj and bound.__func__ is m.Obj.meth
        assert bound() == -1, bound()
        expect(r, 'f', 'code_swapped')
        expect(r, 'g', 'unchanged')
        expect(r, 'Obj.meth', 'code_swapped')
        ",
    );
}

#[test]
fn function_defaults_doc_annotations_dict_follow_new_source() {
    let p = project();
    p.write(
        "fn_attrs_m",
        r#"
        def f(a, b=1, *, c=2) -> int:
            "old doc"
            return a + b + c
        f.tag = "old"
        f.only_old = True

        def h(a=1, *, k=3):
            return a + k

        def none_before(a):
            return a
        "#,
    );
    p.run(
        r"
        from fn_attrs_m import f, h, none_before
        assert f(0) == 3 and f.__defaults__ == (1,) and h() == 4
        ",
    );
    p.write(
        "fn_attrs_m",
        r#"
        def f(a, b=10, *, c=20, d=30) -> str:
            "new doc"
            return a + b + c + d
        f.tag = "new"

        def h(a):
            return a

        def none_before(a, b=[7]):
            return a + b[0]
        "#,
    );
    p.run(
        r"
        import fn_attrs_m as m
        r = applied(swapscope.reload('fn_attrs_m'))
        assert m.f is f and m.h is h and m.none_before is none_before
        assert f.__defaults__ == (10,) and type(f.__defaults__) is tuple, f.__defaults__
        assert f.__kwdefaults__ == {'c': 20, 'd': 30}, f.__kwdefaults__
        assert f.__doc__ == 'new doc', f.__doc__
        assert f.__annotations__ == {'return': str}, f.__annotations__
        assert f.__dict__ == {'tag': 'new'}, f.__dict__
        assert f(1) == 61, f(1)
        assert h.__defaults__ is None and h.__kwdefaults__ is None, (h.__defaults__, h.__kwdefaults__)
        assert h(5) == 5
        assert none_before.__defaults__ == ([7],) and type(none_before.__defaults__) is tuple
        assert none_before(1) == 8
        for name in ('f', 'h', 'none_before'):
            expect(r, name, 'code_swapped')
        ",
    );
}

#[test]
fn function_report_code_swapped_vs_unchanged() {
    let p = project();
    p.write(
        "fn_report_m",
        r"
        def changed():
            return 1

        def untouched(x):
            return [x, 'same']

        def moved(y):
            return {'y': y}
        ",
    );
    p.run("import fn_report_m as m; old_moved_line = m.moved.__code__.co_firstlineno");
    p.write(
        "fn_report_m",
        r"
        def changed():
            return 2

        def untouched(x):
            return [x, 'same']

        # a comment and a blank line push this one down

        def moved(y):
            return {'y': y}
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('fn_report_m'))
        c = expect(r, 'changed', 'code_swapped')
        assert c['kind'] == 'function', c
        assert expect(r, 'untouched', 'unchanged')['kind'] == 'function'
        expect(r, 'moved', 'unchanged')
        assert m.changed() == 2 and m.untouched(1) == [1, 'same'] and m.moved(3) == {'y': 3}
        ",
    );
}

/// A function the reload must replace (its free variables changed: a method now calls
/// `super()`): a copy in a module global follows; a copy inside kept data (a handlers dict)
/// still holds the old version, and the report says so at its key path instead of calling the
/// dict unchanged.
#[test]
fn function_replaced_copies_in_kept_data_are_reported() {
    let p = project();
    p.write(
        "fn_repl_copies",
        r#"
        class Foo:
            def foo(self):
                return 1

        foo = Foo.foo
        handlers = {"f": Foo.foo}
        chain = [Foo.foo]
        "#,
    );
    p.run("import fn_repl_copies as m");
    p.write(
        "fn_repl_copies",
        r#"
        class Foo:
            def foo(self):
                return super().__hash__() and 2

        foo = Foo.foo
        handlers = {"f": Foo.foo}
        chain = [Foo.foo]
        "#,
    );
    p.run(
        r#"
        r = applied(swapscope.reload('fn_repl_copies'))
        expect(r, 'Foo.foo', 'replaced')
        assert m.foo is m.Foo.foo
        c = expect(r, "handlers['f']", 'not_applied')
        assert 'old Foo.foo' in c['note'], c
        expect(r, 'chain[0]', 'not_applied')
        "#,
    );
}
