//! What real packages do that small test modules did not: a package `__init__` whose namespace
//! holds its submodules, a module-level object whose type defines `__get__`, a class whose
//! `__doc__` is a descriptor, a function default that is the same object as a global, a class
//! bound as another class's attribute, a property whose accessor is not a plain function.

use crate::common::engine::project;

/// A decorator object like `toolz.curry`: an instance of a Python class that defines `__get__`.
const CURRY: &str = r"
    class curry:
        def __init__(self, func):
            self.func = func
        def __call__(self, *a):
            return self.func(*a)
        def __get__(self, instance, owner):
            return self
    ";

#[test]
fn pkg_reloading_a_package_init_keeps_its_submodules_and_can_read_them() {
    let p = project();
    p.write(
        "pkg_sub_p/core",
        "X = 1\ndef helper():\n    return 'core'\n",
    );
    p.write("pkg_sub_p/extra", "Y = 2\n");
    // The body reads `core`, bound by the import system when `.core` was first imported (as
    // toolz's __init__ reads `functoolz`).
    p.write(
        "pkg_sub_p/__init__",
        "from .core import helper\nfrom . import extra\nVERSION = core.X\n",
    );
    p.run(
        r"
        import pkg_sub_p
        import pkg_sub_p.core as core_mod
        from pkg_sub_p import helper
        assert pkg_sub_p.VERSION == 1
        ",
    );
    p.write(
        "pkg_sub_p/__init__",
        "from .core import helper\nfrom . import extra\nVERSION = core.X + 10\n",
    );
    p.run(
        r"
        r = applied(swapscope.reload('pkg_sub_p'))
        assert pkg_sub_p.VERSION == 11, pkg_sub_p.VERSION
        assert pkg_sub_p.core is core_mod and pkg_sub_p.extra.Y == 2
        assert not [c for c in r['changes'] if c['qualname'] in ('core', 'extra')
                    and c['action'] == 'removed'], show(r)
        # Unchanged file: nothing removed, the submodules still there.
        r = applied(swapscope.reload('pkg_sub_p'))
        assert pkg_sub_p.core is core_mod, show(r)
        assert all(c['action'] != 'removed' for c in r['changes']), show(r)
        ",
    );
}

#[test]
fn pkg_a_module_level_object_whose_type_has_get_is_data() {
    let p = project();
    p.write("pkg_desc_lib", CURRY);
    let module = r"
        from pkg_desc_lib import curry
        def _add(a, b):
            return a + b
        add = curry(_add)
        ";
    p.write("pkg_desc_m", module);
    p.run(
        r"
        import pkg_desc_m as m
        from pkg_desc_m import add
        ",
    );
    p.write("pkg_desc_m", module);
    p.run(
        r"
        r = applied(swapscope.reload('pkg_desc_m'))
        expect(r, 'add', 'unchanged')
        assert m.add is add, 'an unchanged module-level object stays the same object'
        ",
    );
}

#[test]
fn pkg_a_class_doc_descriptor_stays_a_descriptor() {
    let p = project();
    let module = r"
        class DocDescriptor:
            def __get__(self, instance, owner):
                return 'generated doc of ' + owner.__name__
        class Widget:
            __doc__ = DocDescriptor()
            def size(self):
                return 1
        ";
    p.write("pkg_doc_m", module);
    p.run(
        r"
        import pkg_doc_m as m
        Widget = m.Widget
        assert Widget.__doc__ == 'generated doc of Widget'
        ",
    );
    p.write("pkg_doc_m", &module.replace("return 1", "return 2"));
    p.run(
        r"
        r = applied(swapscope.reload('pkg_doc_m'))
        assert m.Widget is Widget and Widget().size() == 2
        assert isinstance(Widget.__dict__['__doc__'], m.DocDescriptor), Widget.__dict__['__doc__']
        assert Widget.__doc__ == 'generated doc of Widget'
        ",
    );
}

#[test]
fn pkg_a_default_that_is_a_global_stays_the_same_object_as_the_global() {
    let p = project();
    let module = r"
        REGISTRY = {}
        def register(name, value, registry=REGISTRY):
            registry[name] = value
            return len(registry)
        ";
    p.write("pkg_default_m", module);
    p.run(
        r"
        import pkg_default_m as m
        registry = m.REGISTRY
        m.register('a', 1)
        ",
    );
    p.write(
        "pkg_default_m",
        &module.replace("len(registry)", "len(registry) * 10"),
    );
    p.run(
        r"
        r = applied(swapscope.reload('pkg_default_m'))
        expect(r, 'REGISTRY', 'kept_live')
        assert m.REGISTRY is registry
        assert m.register.__defaults__[0] is registry, 'the default is the live global'
        assert m.register('b', 2) == 20 and registry == {'a': 1, 'b': 2}
        ",
    );
}

#[test]
fn pkg_a_class_bound_as_another_class_attribute_is_unchanged() {
    let p = project();
    let module = r"
        class Environment:
            def render(self):
                return self.template_class().text()
        class Template:
            kind: str = 'html'
            LIMIT = 3
            def text(self):
                return 'v1'
        Environment.template_class = Template
        ";
    p.write("pkg_alias_m", module);
    p.run(
        r"
        import pkg_alias_m as m
        Environment, Template = m.Environment, m.Template
        ",
    );
    p.write("pkg_alias_m", module);
    p.run(
        r"
        r = applied(swapscope.reload('pkg_alias_m'))
        noisy = [c for c in r['changes'] if c['action'] != 'unchanged']
        assert not noisy, show(r)
        assert not [c for c in r['changes'] if c['qualname'].startswith('Environment.template_class.')], show(r)
        assert Environment.template_class is Template and m.Template is Template
        ",
    );
    p.write("pkg_alias_m", &module.replace("'v1'", "'v2'"));
    p.run(
        r"
        r = applied(swapscope.reload('pkg_alias_m'))
        assert Environment().render() == 'v2', show(r)
        assert Environment.template_class is Template
        ",
    );
}

#[test]
fn pkg_a_property_with_a_non_function_accessor_says_so() {
    let p = project();
    let module = r"
        import operator
        class Point:
            def __init__(self):
                self._x = 3
            x = property(operator.attrgetter('_x'))
        ";
    p.write("pkg_prop_m", module);
    p.run("import pkg_prop_m as m\nPoint = m.Point");
    p.write("pkg_prop_m", module);
    p.run(
        r"
        r = applied(swapscope.reload('pkg_prop_m', full=True))
        c = entry(r, 'Point.x')
        assert 'changed from' not in c['note'], show(r)
        assert Point().x == 3
        ",
    );
}

#[test]
fn pkg_a_builtin_made_anew_by_the_same_expression_is_unchanged() {
    let p = project();
    let module = r"
        class Environment:
            concat = ''.join
        lower = str.lower
        ";
    p.write("pkg_builtin_m", module);
    p.run("import pkg_builtin_m as m\nconcat = m.Environment.concat");
    p.write("pkg_builtin_m", module);
    p.run(
        r"
        r = applied(swapscope.reload('pkg_builtin_m', full=True))
        expect(r, 'Environment.concat', 'unchanged')
        expect(r, 'lower', 'unchanged')
        assert m.Environment.concat is concat
        ",
    );
}

#[test]
fn pkg_a_warning_at_import_points_at_the_importer_not_at_swapscope() {
    let p = project();
    p.write(
        "pkg_warn_lib",
        "import warnings\nwarnings.warn('old api', DeprecationWarning, stacklevel=2)\n",
    );
    p.write("pkg_warn_user", "import pkg_warn_lib\n");
    p.run(
        r"
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            import pkg_warn_user
        places = [(w.filename, w.lineno) for w in caught]
        assert len(places) == 1, places
        assert places[0][0].endswith('pkg_warn_user.py') and places[0][1] == 1, places
        ",
    );
}

#[test]
fn pkg_an_import_that_raises_shows_no_swapscope_frame() {
    let p = project();
    p.write(
        "pkg_tb_bad",
        "X = 1\nraise ValueError('broken at import')\n",
    );
    p.run(
        r"
        import traceback
        try:
            import pkg_tb_bad
        except ValueError:
            text = traceback.format_exc()
        else:
            raise AssertionError('the import did not raise')
        assert 'pkg_tb_bad.py' in text and 'broken at import' in text, text
        assert 'swapscope' not in text and 'exec_module' not in text, text
        ",
    );
}

#[test]
fn pkg_an_edit_inside_a_decorator_object_is_taken() {
    let p = project();
    p.write("pkg_curry_lib", CURRY);
    let module = r"
        from pkg_curry_lib import curry
        @curry
        def add(a, b):
            return a + b
        ";
    p.write("pkg_curry_m", module);
    p.run("import pkg_curry_m as m\nassert m.add(1, 2) == 3");
    p.write("pkg_curry_m", &module.replace("a + b", "a + b + 100"));
    p.run(
        r"
        r = applied(swapscope.reload('pkg_curry_m'))
        c = entry(r, 'add')
        assert c['action'] != 'unchanged', show(r)
        assert m.add(1, 2) == 103, 'the edited body runs'
        ",
    );
}

#[test]
fn pkg_kept_globals_never_redirect_defaults_that_were_something_else() {
    let p = project();
    p.write("pkg_sentinel_lib", "MISSING = object()\n");
    let module = r"
        import enum
        import pkg_sentinel_lib as lib
        class Mode(enum.Enum):
            FAST = 1
            SLOW = 2
        MODE = Mode.FAST
        HISTORY = ()
        DEFAULT = lib.MISSING
        def pick(mode=Mode.FAST, past=(), value=lib.MISSING):
            return mode, past, value
        ";
    p.write("pkg_sentinel_m", module);
    p.run(
        r"
        import pkg_sentinel_m as m, pkg_sentinel_lib as lib
        m.MODE = m.Mode.SLOW
        m.HISTORY = ('run 1',)
        m.DEFAULT = 5
        ",
    );
    p.write(
        "pkg_sentinel_m",
        &module.replace("return mode", "return (mode)"),
    );
    p.run(
        r"
        r = applied(swapscope.reload('pkg_sentinel_m'))
        assert (m.MODE, m.HISTORY, m.DEFAULT) == (m.Mode.SLOW, ('run 1',), 5), show(r)
        mode, past, value = m.pick()
        assert mode is m.Mode.FAST and past == () and value is lib.MISSING, (mode, past, value)
        ",
    );
}

/// A module imported from a folder on `sys.path` that is neither the script's nor a watched one
/// (a `src/` layout, an editable install) is tracked like any project module: the designer's
/// edited constant is taken (the source changed, and the report says so), and the next reload
/// agrees with the first.
#[test]
fn pkg_a_module_outside_the_watched_folders_is_tracked() {
    let p = project();
    let src = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        src.path().join("pkg_outside_cfg.py"),
        "SPEED = 10\nLIVES = 3\n",
    )
    .expect("write");
    p.run(&format!(
        r"
        import sys
        sys.path.insert(0, {:?})
        import pkg_outside_cfg as cfg
        cfg.LIVES = 2
        info = [m for m in swapscope.modules() if m['name'] == 'pkg_outside_cfg'][0]
        assert info['tracked'], info
        ",
        src.path().to_string_lossy()
    ));
    std::fs::write(
        src.path().join("pkg_outside_cfg.py"),
        "SPEED = 12\nLIVES = 3\n",
    )
    .expect("write");
    p.run(
        r"
        r = applied(swapscope.reload('pkg_outside_cfg'))
        c = expect(r, 'SPEED', 'took_new')
        assert 'unchanged' not in c['note'], c
        expect(r, 'LIVES', 'kept_live')
        assert (cfg.SPEED, cfg.LIVES) == (12, 2)
        r = applied(swapscope.reload('pkg_outside_cfg'))
        expect(r, 'SPEED', 'unchanged')
        expect(r, 'LIVES', 'kept_live')
        ",
    );
}
