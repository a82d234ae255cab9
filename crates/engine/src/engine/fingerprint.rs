//! Value fingerprints for the three-way data rule.
//!
//! A fingerprint is a structural hash of plain data (None, bool, int, float, str, bytes, tuple,
//! list, dict, set, frozenset, enum members, nested, plus instances seen through their
//! `__dict__`), taken without calling user code. Classes, modules and functions a module defines
//! by name (`def f`) are hashed by their qualified name, so a table holding them still matches
//! after they were patched in place; lambdas and nested functions (`<lambda>`, `<locals>`), which
//! nothing patches, by their code, constants and closure contents. Values of a few stdlib types
//! (Decimal, Fraction, dates and times, paths, `range`, compiled patterns, ...) by their repr.
//!
//! What cannot be seen into at the top level is `Opaque`: the merge then compares the source text
//! of its defining statement instead, and its identity for "did the live value move". A value
//! that holds something the walk cannot see into is `Partial`: its hash tells live changes of
//! the visible part, but an equal hash does not prove the source's value unchanged, so the
//! statement text decides that.

use std::hash::{DefaultHasher, Hash, Hasher};

use pyo3::prelude::*;

use super::names::name;
use super::pyobj::python_instance;
use pyo3::types::{
    PyBool, PyBytes, PyDict, PyFloat, PyFrozenSet, PyFunction, PyInt, PyList, PyModule, PySet,
    PyString, PyTuple, PyType,
};

pub use super::rule::Fingerprint;

/// Containers nested deeper than this are hashed as a marker (and a cycle stops here).
const MAX_DEPTH: usize = 48;

/// How many nodes one fingerprint may visit before the value counts as opaque: big live state
/// (a game world reachable from a global) must not make a reload walk the heap.
const NODE_BUDGET: usize = 2_000_000;

/// Fingerprints `obj`.
pub fn fingerprint(obj: &Bound<'_, PyAny>) -> Fingerprint {
    let mut walker = Walker {
        budget: NODE_BUDGET,
        depth: 0,
        partial: false,
    };
    let mut h = DefaultHasher::new();
    match walker.hash(obj, &mut h, true) {
        Ok(()) if walker.partial => Fingerprint::Partial(h.finish()),
        Ok(()) => Fingerprint::Value(h.finish()),
        Err(Blind) => Fingerprint::Opaque(obj.as_ptr() as usize),
    }
}

/// The walk could not see into the value (opaque at the top, or over budget).
struct Blind;

struct Walker {
    budget: usize,
    /// How deep in containers the walk is: past `MAX_DEPTH` a container is hashed as a marker,
    /// which also ends cycles (cheaper than tracking the containers being walked).
    depth: usize,
    /// Something was hashed by its type only (or cut at the depth limit).
    partial: bool,
}

fn type_tag(obj: &Bound<'_, PyAny>, h: &mut DefaultHasher) {
    // Through `name!`, not pyo3's `module()`/`qualname()`: those intern on first use, which
    // releases the GIL, and this runs in the middle of a merge.
    let ty = obj.get_type();
    let py = obj.py();
    for attr in [name!(py, "__module__"), name!(py, "__qualname__")] {
        if let Ok(s) = ty.getattr(attr).and_then(|v| v.extract::<String>()) {
            s.hash(h);
        }
    }
}

fn qualified_name(obj: &Bound<'_, PyAny>, h: &mut DefaultHasher) {
    for attr in ["__module__", "__qualname__"] {
        match obj.getattr(attr) {
            Ok(v) => match v.cast::<PyString>() {
                Ok(s) => s.to_string_lossy().hash(h),
                Err(_) => 0u8.hash(h),
            },
            Err(_) => 0u8.hash(h),
        }
    }
}

impl Walker {
    fn hash(
        &mut self,
        obj: &Bound<'_, PyAny>,
        h: &mut DefaultHasher,
        top: bool,
    ) -> Result<(), Blind> {
        if self.budget == 0 {
            return Err(Blind);
        }
        self.budget -= 1;
        if obj.is_none() {
            0u8.hash(h);
        } else if let Ok(b) = obj.cast_exact::<PyBool>() {
            1u8.hash(h);
            b.is_true().hash(h);
        } else if let Ok(i) = obj.cast_exact::<PyInt>() {
            if let Ok(v) = i.extract::<i64>() {
                2u8.hash(h);
                v.hash(h);
            } else {
                3u8.hash(h);
                i.str().map_err(|_| Blind)?.to_string_lossy().hash(h);
            }
        } else if let Ok(f) = obj.cast_exact::<PyFloat>() {
            4u8.hash(h);
            f.value().to_bits().hash(h);
        } else if let Ok(s) = obj.cast_exact::<PyString>() {
            5u8.hash(h);
            s.to_string_lossy().hash(h);
        } else if let Ok(b) = obj.cast_exact::<PyBytes>() {
            6u8.hash(h);
            b.as_bytes().hash(h);
        } else if is_enum_member(obj) {
            7u8.hash(h);
            type_tag(obj, h);
            if let Ok(name) = obj.getattr(name!(obj.py(), "_name_"))
                && let Ok(s) = name.cast::<PyString>()
            {
                s.to_string_lossy().hash(h);
            }
        } else if let Ok(t) = obj.cast::<PyTuple>() {
            8u8.hash(h);
            subclass_tag::<PyTuple>(obj, h);
            self.sequence(obj, t.iter(), t.len(), h)?;
        } else if let Ok(l) = obj.cast::<PyList>() {
            9u8.hash(h);
            subclass_tag::<PyList>(obj, h);
            self.sequence(obj, l.iter(), l.len(), h)?;
        } else if let Ok(d) = obj.cast::<PyDict>() {
            10u8.hash(h);
            subclass_tag::<PyDict>(obj, h);
            if !self.enter(h) {
                return Ok(());
            }
            let mut acc = 0u64;
            for (k, v) in d.iter() {
                let mut sub = DefaultHasher::new();
                self.hash(&k, &mut sub, false)?;
                self.hash(&v, &mut sub, false)?;
                acc = acc.wrapping_add(sub.finish());
            }
            self.leave(obj);
            (d.len(), acc).hash(h);
        } else if obj.is_instance_of::<PySet>() || obj.is_instance_of::<PyFrozenSet>() {
            11u8.hash(h);
            type_tag(obj, h);
            if !self.enter(h) {
                return Ok(());
            }
            let mut acc = 0u64;
            let mut n = 0usize;
            for item in obj.try_iter().map_err(|_| Blind)? {
                let item = item.map_err(|_| Blind)?;
                let mut sub = DefaultHasher::new();
                self.hash(&item, &mut sub, false)?;
                acc = acc.wrapping_add(sub.finish());
                n += 1;
            }
            self.leave(obj);
            (n, acc).hash(h);
        } else if obj.is_instance_of::<PyFunction>() && made_at_run_time(obj) {
            16u8.hash(h);
            self.function(obj, h)?;
        } else if obj.is_instance_of::<PyType>() || obj.is_instance_of::<PyFunction>() {
            12u8.hash(h);
            qualified_name(obj, h);
        } else if let Some(text) = value_repr(obj) {
            17u8.hash(h);
            type_tag(obj, h);
            text.hash(h);
        } else if let Ok(m) = obj.cast::<PyModule>() {
            13u8.hash(h);
            m.name().map_err(|_| Blind)?.to_string_lossy().hash(h);
        } else if top && wraps_code(obj) {
            // A decorator object (`@curry def f`): its `__dict__` holds a function, which is
            // hashed by name only, so an edit of the body would look unchanged. Opaque: the
            // defining statement's text decides.
            return Err(Blind);
        } else if let Some(d) = instance_dict(obj) {
            14u8.hash(h);
            type_tag(obj, h);
            if !self.enter(h) {
                return Ok(());
            }
            self.hash(&d, h, false)?;
            self.leave(obj);
            // State outside `__dict__` (slots, the C fields of an extension type such as
            // `functools.partial`) is not seen.
            if !state_in_dict_only(obj) {
                self.partial = true;
            }
        } else if top {
            return Err(Blind);
        } else {
            15u8.hash(h);
            type_tag(obj, h);
            self.partial = true;
        }
        Ok(())
    }

    /// A lambda or nested function: its code (and the code nested in it), constants, names,
    /// defaults and closure contents.
    fn function(&mut self, f: &Bound<'_, PyAny>, h: &mut DefaultHasher) -> Result<(), Blind> {
        let py = f.py();
        let code = f.getattr(name!(py, "__code__")).map_err(|_| Blind)?;
        self.code(&code, h)?;
        for attr in [name!(py, "__defaults__"), name!(py, "__kwdefaults__")] {
            let v = f.getattr(attr).map_err(|_| Blind)?;
            self.hash(&v, h, false)?;
        }
        let closure = f.getattr(name!(py, "__closure__")).map_err(|_| Blind)?;
        if !closure.is_none() {
            for cell in closure.try_iter().map_err(|_| Blind)? {
                let cell = cell.map_err(|_| Blind)?;
                match cell.getattr(name!(py, "cell_contents")) {
                    Ok(v) => self.hash(&v, h, false)?,
                    // An empty cell (assigned later).
                    Err(_) => 0u8.hash(h),
                }
            }
        }
        Ok(())
    }

    fn code(&mut self, code: &Bound<'_, PyAny>, h: &mut DefaultHasher) -> Result<(), Blind> {
        if !self.enter(h) {
            return Ok(());
        }
        let py = code.py();
        for attr in [name!(py, "co_code"), name!(py, "co_names")] {
            let v = code.getattr(attr).map_err(|_| Blind)?;
            self.hash(&v, h, false)?;
        }
        let consts = code.getattr(name!(py, "co_consts")).map_err(|_| Blind)?;
        let code_type = code.get_type();
        for c in consts.try_iter().map_err(|_| Blind)? {
            let c = c.map_err(|_| Blind)?;
            if c.is_instance(&code_type).unwrap_or(false) {
                self.code(&c, h)?;
            } else {
                self.hash(&c, h, false)?;
            }
        }
        self.leave(code);
        Ok(())
    }

    fn sequence<'py>(
        &mut self,
        obj: &Bound<'py, PyAny>,
        items: impl Iterator<Item = Bound<'py, PyAny>>,
        len: usize,
        h: &mut DefaultHasher,
    ) -> Result<(), Blind> {
        if !self.enter(h) {
            return Ok(());
        }
        len.hash(h);
        for item in items {
            self.hash(&item, h, false)?;
        }
        self.leave(obj);
        Ok(())
    }

    /// Goes one level down; at the depth limit, hashes the cycle marker instead and says no
    /// (what lies deeper is not seen: the value is partial).
    fn enter(&mut self, h: &mut DefaultHasher) -> bool {
        if self.depth >= MAX_DEPTH {
            cycle(h);
            self.partial = true;
            return false;
        }
        self.depth += 1;
        true
    }

    fn leave(&mut self, _obj: &Bound<'_, PyAny>) {
        self.depth -= 1;
    }
}

/// Tags a subclass of a builtin container with its type, so an `OrderedDict` is not a `dict`.
fn subclass_tag<T: pyo3::type_object::PyTypeInfo>(obj: &Bound<'_, PyAny>, h: &mut DefaultHasher) {
    if !obj.is_exact_instance_of::<T>() {
        type_tag(obj, h);
    }
}

/// A container nested past `MAX_DEPTH` (a cycle among them) is hashed as a marker.
fn cycle(h: &mut DefaultHasher) {
    16u8.hash(h);
}

static ENUM: pyo3::sync::PyOnceLock<Py<PyType>> = pyo3::sync::PyOnceLock::new();

fn enum_type(py: Python<'_>) -> PyResult<&Py<PyType>> {
    ENUM.get_or_try_init(py, || -> PyResult<Py<PyType>> {
        Ok(py
            .import("enum")?
            .getattr("Enum")?
            .cast_into::<PyType>()?
            .unbind())
    })
}

/// Initialises the lazily loaded types: their first use releases the GIL (see `names`), which
/// must not happen in the middle of a reload.
pub(crate) fn warm(py: Python<'_>) -> PyResult<()> {
    enum_type(py).map(|_| ())
}

fn is_enum_member(obj: &Bound<'_, PyAny>) -> bool {
    let py = obj.py();
    let Ok(enum_type) = enum_type(py) else {
        return false;
    };
    obj.is_instance(enum_type.bind(py)).unwrap_or(false)
}

/// A function nothing patches in place: a lambda, or one defined inside another function.
fn made_at_run_time(f: &Bound<'_, PyAny>) -> bool {
    f.getattr(name!(f.py(), "__qualname__"))
        .and_then(|q| q.extract::<String>())
        .is_ok_and(|q| q.contains("<lambda>") || q.contains("<locals>"))
}

/// The repr of a value of a stdlib type whose repr is its value (exact types only: a subclass
/// may define its own repr).
fn value_repr(obj: &Bound<'_, PyAny>) -> Option<String> {
    const TYPES: [(&str, &str); 16] = [
        ("decimal", "Decimal"),
        ("fractions", "Fraction"),
        ("datetime", "date"),
        ("datetime", "datetime"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("pathlib", "PosixPath"),
        ("pathlib", "WindowsPath"),
        ("pathlib", "PurePosixPath"),
        ("pathlib", "PureWindowsPath"),
        ("builtins", "range"),
        ("builtins", "complex"),
        ("builtins", "bytearray"),
        ("re", "Pattern"),
        ("uuid", "UUID"),
    ];
    let ty = obj.get_type();
    let py = obj.py();
    let text = |attr| {
        ty.getattr(attr)
            .and_then(|v| v.extract::<String>())
            .unwrap_or_default()
    };
    let (module, qualname) = (
        text(name!(py, "__module__")),
        text(name!(py, "__qualname__")),
    );
    let module = module.trim_start_matches('_'); // `_decimal`, `_datetime`
    TYPES
        .iter()
        .any(|(m, q)| *m == module && *q == qualname)
        .then(|| obj.repr().ok().map(|r| r.to_string()))
        .flatten()
}

/// An instance of a Python class whose type defines `__get__`: a descriptor or decorator object
/// wrapping code.
fn wraps_code(obj: &Bound<'_, PyAny>) -> bool {
    python_instance(obj)
        && obj
            .get_type()
            .hasattr(name!(obj.py(), "__get__"))
            .unwrap_or(false)
}

/// True if the instance keeps all its state in its `__dict__`: its layout is a bare object plus
/// the dict and weak-reference slots (no `__slots__`, no C fields).
pub(crate) fn state_in_dict_only(obj: &Bound<'_, PyAny>) -> bool {
    const WORD: isize = std::mem::size_of::<usize>().cast_signed();
    let ty = obj.get_type();
    let py = obj.py();
    let number = |attr| {
        ty.getattr(attr)
            .and_then(|v| v.extract::<isize>())
            .unwrap_or(-1)
    };
    let basic = number(name!(py, "__basicsize__"));
    let dict = number(name!(py, "__dictoffset__"));
    let weakref = number(name!(py, "__weakrefoffset__"));
    // A managed dict or weak-reference list (3.12+) lives outside the basic size: offset <= 0.
    let extra = WORD * (isize::from(dict > 0) + isize::from(weakref > 0));
    basic - extra == 2 * WORD
}

/// The instance `__dict__` of an object whose class is defined in Python, read through the type's
/// own `__dict__` descriptor (never a user `__getattr__`).
pub(crate) fn instance_dict<'py>(obj: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDict>> {
    // Heap types only: builtin objects with a __dict__ (functions, modules) are handled above or
    // are opaque.
    if !python_instance(obj) {
        return None;
    }
    let dict = obj.getattr(name!(obj.py(), "__dict__")).ok()?;
    dict.cast_into::<PyDict>().ok()
}
