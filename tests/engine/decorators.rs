//! Decorated functions through a reload: `functools.wraps` chains are patched through
//! `__wrapped__`, `lru_cache` wrappers stay and lose their cache only when their function changed.

use crate::common::engine::project;

#[test]
fn decorator_wraps_chain_patched_through_wrapped() {
    let p = project();
    p.write(
        "deco_wraps_m",
        r#"
        import functools

        def tag(label):
            def deco(fn):
                @functools.wraps(fn)
                def wrapper(*args, **kwargs):
                    return (label, fn(*args, **kwargs))
                return wrapper
            return deco

        @tag('outer')
        @tag('inner')
        def f(x):
            "old doc"
            return x + 1
        "#,
    );
    p.run(
        r"
        import deco_wraps_m as m
        from deco_wraps_m import f
        middle = f.__wrapped__
        inner = middle.__wrapped__
        handlers = [f]
        assert f(1) == ('outer', ('inner', 2)) and inner(1) == 2
        ",
    );
    p.write(
        "deco_wraps_m",
        r#"
        import functools

        def tag(label):
            def deco(fn):
                @functools.wraps(fn)
                def wrapper(*args, **kwargs):
                    return (label, fn(*args, **kwargs))
                return wrapper
            return deco

        @tag('outer')
        @tag('inner')
        def f(x):
            "new doc"
            return x + 2
        "#,
    );
    p.run(
        r"
        r = applied(swapscope.reload('deco_wraps_m'))
        assert m.f is f and handlers[0] is f
        assert f.__wrapped__ is middle and middle.__wrapped__ is inner
        assert inner(1) == 3, 'the old inner function object runs the new code'
        assert f(1) == ('outer', ('inner', 3)), f(1)
        assert f.__doc__ == 'new doc' and inner.__doc__ == 'new doc', (f.__doc__, inner.__doc__)
        assert action(r, 'f') == 'code_swapped', show(r)
        ",
    );
}

#[test]
fn decorator_lru_cache_cleared_only_when_function_changed() {
    let p = project();
    p.write(
        "deco_lru_m",
        r"
        import functools

        @functools.lru_cache(maxsize=None)
        def cost(x):
            return x * 10

        @functools.lru_cache(maxsize=None)
        def stable(x):
            return x + 1
        ",
    );
    p.run(
        r"
        import deco_lru_m as m
        from deco_lru_m import cost, stable
        inner = cost.__wrapped__
        assert cost(2) == 20 and stable(1) == 2
        assert cost.cache_info().currsize == 1 and stable.cache_info().currsize == 1
        ",
    );
    p.write(
        "deco_lru_m",
        r"
        import functools

        @functools.lru_cache(maxsize=None)
        def cost(x):
            return x * 100

        @functools.lru_cache(maxsize=None)
        def stable(x):
            return x + 1
        ",
    );
    p.run(
        r"
        r = applied(swapscope.reload('deco_lru_m'))
        assert m.cost is cost and m.stable is stable
        assert cost.__wrapped__ is inner
        assert cost.cache_info().currsize == 0, 'changed function: cache cleared'
        assert cost(2) == 200, 'a stale cached result'
        assert stable.cache_info().currsize == 1, 'unchanged function: cache kept'
        hits = stable.cache_info().hits
        assert stable(1) == 2 and stable.cache_info().hits == hits + 1
        expect(r, 'cost', 'code_swapped')
        expect(r, 'stable', 'unchanged')
        ",
    );
}

#[test]
fn decorator_changed_wrapper_keeps_old_inner() {
    let p = project();
    let source = |version: &str| {
        format!(
            r"
            import functools

            def deco(fn):
                @functools.wraps(fn)
                def wrapper(*args):
                    return ({version:?}, fn(*args))
                return wrapper

            @deco
            def f(x):
                return x + 1
            "
        )
    };
    p.write("deco_wrapper_only_m", &source("v1"));
    p.run(
        r"
        import deco_wrapper_only_m as m
        from deco_wrapper_only_m import f
        inner = f.__wrapped__
        assert f(1) == ('v1', 2)
        ",
    );
    p.write("deco_wrapper_only_m", &source("v2"));
    p.run(
        r"
        r = applied(swapscope.reload('deco_wrapper_only_m'))
        assert m.f is f and f(1) == ('v2', 2), f(1)
        expect(r, 'f', 'code_swapped')
        assert f.__wrapped__ is inner, 'f.__wrapped__ is a throwaway function'
        assert f.__closure__[0].cell_contents is inner
        ",
    );
}
