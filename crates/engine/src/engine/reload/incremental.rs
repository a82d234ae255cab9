//! Steps 1–3 of an incremental reload: plan which statements run (`engine/incremental`),
//! compile them on their own lines, take out the names of statements gone, and run them in the
//! module's dict. What they bound is then merged like a whole reload's namespace.

use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyBytes, PyComplex, PyDict, PyFloat, PyFrozenSet, PyInt, PyString, PyTuple,
};

use super::source::{compile, describe};
use crate::engine::baseline::Baseline;
use crate::engine::classify::{MACHINERY, ObjKind, classify_global};
use crate::engine::fingerprint::fingerprint;
use crate::engine::incremental::{Live, Plan, plan};
use crate::engine::names::name;
use crate::engine::pyobj::helpers;
use crate::engine::tracker::TrackedModule;
use crate::protocol::{ErrorInfo, Overrides};

/// The live module as the planner sees it.
struct LiveNs<'a, 'py> {
    ns: &'a Bound<'py, PyDict>,
    base: &'a Baseline,
    module: &'a str,
    /// When the module's record was stored (`TrackedModule::loaded_seq`).
    seq: u64,
}

impl Live for LiveNs<'_, '_> {
    fn reloaded_since(&mut self) -> Vec<String> {
        crate::engine::tracker::stored_after(self.module, self.seq)
    }

    fn diverged(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for (path, fp) in &self.base.fps {
            // Top-level values, class-level data (`Unit.RATE`) and closure cells (`bump::count`,
            // `Unit.f::n`); key paths are inside their dict's value.
            if path.contains('[') {
                continue;
            }
            let (object, cell) = match path.split_once("::") {
                Some((o, c)) if !c.contains(':') => (o, Some(c)),
                Some(_) => continue,
                None => (path.as_str(), None),
            };
            let mut parts = object.split('.');
            let (Some(top), member) = (parts.next(), parts.next()) else {
                continue;
            };
            if parts.next().is_some() {
                continue;
            }
            let Ok(Some(v)) = self.ns.get_item(top) else {
                out.push(top.to_string());
                continue;
            };
            let v = match member {
                None => v,
                Some(m) => match v.getattr(m) {
                    Ok(x) if v.is_instance_of::<pyo3::types::PyType>() => x,
                    _ => continue,
                },
            };
            let v = match cell {
                None => v,
                Some(var) => match cell_contents(&v, var) {
                    Some(x) => x,
                    None => continue,
                },
            };
            let same = match (fp, fingerprint(&v)) {
                (crate::engine::rule::Fingerprint::Opaque(id), _) => {
                    crate::engine::pyobj::ptr(&v) == *id
                }
                (a, b) => a.hash().is_some() && a.hash() == b.hash(),
            };
            if !same {
                out.push(top.to_string());
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn stable_data(&mut self, name: &str) -> Option<bool> {
        let v = self.ns.get_item(name).ok().flatten()?;
        if let Ok(class) = v.cast::<pyo3::types::PyType>() {
            // A class of this module holding data a statement can change in place (a
            // registry its `__init_subclass__` appends to) is made afresh like that data.
            let ours = class
                .getattr(name!(v.py(), "__module__"))
                .is_ok_and(|m| m.extract::<String>().is_ok_and(|m| m == self.module));
            let mutable_member = ours
                && class
                    .getattr(name!(v.py(), "__dict__"))
                    .and_then(|d| d.call_method0("items"))
                    .and_then(|items| {
                        for item in items.try_iter()? {
                            let (k, m): (String, Bound<'_, PyAny>) = item?.extract()?;
                            if !(k.starts_with("__") && k.ends_with("__"))
                                && matches!(crate::engine::classify::classify(&m), ObjKind::Data)
                                && !immutable(&m, 0)
                            {
                                return Ok(true);
                            }
                        }
                        Ok(false)
                    })
                    .unwrap_or(true);
            return mutable_member.then_some(false);
        }
        if !matches!(classify_global(&v), ObjKind::Data) {
            return None;
        }
        let unchanged = self.base.fps.get(name) == Some(&fingerprint(&v));
        Some(unchanged && immutable(&v, 0))
    }
}

/// The content of the closure cell `var` of function `f` (its `__wrapped__` function's, for a
/// wrapper), if it has one with a value.
fn cell_contents<'py>(f: &Bound<'py, PyAny>, var: &str) -> Option<Bound<'py, PyAny>> {
    let py = f.py();
    let code = f.getattr(name!(py, "__code__")).ok()?;
    let names: Vec<String> = code
        .getattr(name!(py, "co_freevars"))
        .ok()?
        .extract()
        .ok()?;
    let i = names.iter().position(|n| n == var)?;
    f.getattr(name!(py, "__closure__"))
        .ok()?
        .get_item(i)
        .ok()?
        .getattr(name!(py, "cell_contents"))
        .ok()
}

/// A value no statement can change in place: numbers, strings, bytes, None, and tuples and
/// frozensets of them.
fn immutable(v: &Bound<'_, PyAny>, depth: usize) -> bool {
    if v.is_none()
        || v.is_exact_instance_of::<PyInt>()
        || v.is_exact_instance_of::<PyFloat>()
        || v.is_exact_instance_of::<PyString>()
        || v.is_exact_instance_of::<PyBytes>()
        || v.is_exact_instance_of::<PyBool>()
        || v.is_exact_instance_of::<PyComplex>()
    {
        return true;
    }
    if depth > 8 {
        return false;
    }
    if let Ok(t) = v.cast_exact::<PyTuple>() {
        return t.iter().all(|x| immutable(&x, depth + 1));
    }
    if let Ok(s) = v.cast_exact::<PyFrozenSet>() {
        return s.iter().all(|x| immutable(&x, depth + 1));
    }
    false
}

/// Plans an incremental reload of the module `record` tracks, whose live namespace is `ns`,
/// to `new_text`; `Err` says why the whole module reloads instead.
pub(super) fn plan_for<'s>(
    record: &'s TrackedModule,
    new_text: &'s str,
    ns: &Bound<'_, PyDict>,
    overrides: &Overrides,
) -> Result<Plan<'s>, String> {
    let (Some(old_text), Some(base)) = (record.source.as_deref(), record.baseline.as_ref()) else {
        return Err(
            "the module's last load was not recorded (it was imported before tracking began)"
                .to_string(),
        );
    };
    let take: Vec<&str> = overrides.take.iter().map(|q| top_name(q)).collect();
    plan(
        old_text,
        new_text,
        record.spans.as_deref(),
        &mut LiveNs {
            ns,
            base,
            module: &record.name,
            seq: record.loaded_seq,
        },
        &take,
    )
}

/// The top-level name of a qualname or key path (`WEAPONS` of `WEAPONS['rifle']`).
pub(super) fn top_name(path: &str) -> &str {
    path.split(['.', '[', ':']).next().unwrap_or(path)
}

/// Keeps only the decorated functions whose live object holds a plain function of that name
/// (along `__wrapped__`); the others run whole, decorators and all, as in a whole reload.
pub(super) fn resolve_undecorated(
    py: Python<'_>,
    plan: &mut Plan<'_>,
    ns: &Bound<'_, PyDict>,
) -> PyResult<()> {
    if plan.undecorated.is_empty() {
        return Ok(());
    }
    let raw_function = helpers(py)?.getattr(name!(py, "raw_function"))?;
    let mut dropped = Vec::new();
    for u in &plan.undecorated {
        let found = match ns.get_item(u.name)? {
            Some(o) => !raw_function.call1((o, u.name))?.is_none(),
            None => false,
        };
        if !found {
            dropped.push(u.name);
        }
    }
    plan.undecorated.retain(|u| !dropped.contains(&u.name));
    plan.delete.extend(dropped);
    Ok(())
}

/// The name of the decorator that returns the function it is given, in the scratch namespace
/// a decorated def patched without its decorators runs in.
const SAME: &str = "__swapscope_same__";

/// One statement ready to run: its code, and for a decorated function patched without its
/// decorators, the function's name.
pub(super) struct Ready<'py> {
    code: Bound<'py, PyAny>,
    undecorated: Option<String>,
}

/// Compiles the statements the plan runs, each on its own lines of `file` (so tracebacks and
/// errors name the file's lines). A `SyntaxError` is the report's error: nothing ran yet.
pub(super) fn compile_statements<'py>(
    py: Python<'py>,
    plan: &Plan<'_>,
    file: &str,
) -> Result<Vec<Ready<'py>>, ErrorInfo> {
    let flags = if plan.future.is_empty() {
        Ok(0)
    } else {
        helpers(py)
            .and_then(|h| h.getattr(name!(py, "future_flags")))
            .and_then(|f| f.call1((plan.future.clone(),)))
            .and_then(|f| f.extract::<u32>())
    }
    .map_err(|e| describe(py, &e, file))?;
    let context = if plan.imported.is_empty() {
        "None\n".to_string()
    } else {
        format!("if 0: import {}\n", plan.imported.join(", "))
    };
    // Consecutive statements that run compile together, each on its own lines (the ones that
    // do not run between them are blank lines); a decorated def patched without its
    // decorators is a group of its own (it runs apart).
    let mut groups: Vec<(usize, String, Option<String>)> = Vec::new(); // (first index, text, undecorated)
    let mut last_line = 0;
    for (j, s) in plan.index.new.iter().enumerate() {
        if !plan.run[j] {
            continue;
        }
        let undecorated = plan.undecorated.iter().find(|u| u.index == j);
        // A decorated def patched without its decorators: one decorator that changes nothing
        // (`SAME`, on the first decorator's line, so the function's code starts on the line a
        // whole reload's would), the other decorator lines blank.
        let text: std::borrow::Cow<'_, str> = match undecorated {
            Some(u) => {
                let blank = s.text[..u.def_offset].matches('\n').count();
                let mut t = format!("@{SAME}");
                t.extend(std::iter::repeat_n('\n', blank));
                t.push_str(&s.text[u.def_offset..]);
                t.into()
            }
            None => s.text.into(),
        };
        let joins = groups.last().is_some_and(|g| g.2.is_none()) && undecorated.is_none();
        if joins && let Some(g) = groups.last_mut() {
            g.1.extend(std::iter::repeat_n('\n', s.first_line - last_line));
            g.1.push_str(&text);
        } else {
            groups.push((
                j,
                text.into_owned(),
                undecorated.map(|u| u.name.to_string()),
            ));
        }
        last_line = s.last_line;
    }
    let mut out = Vec::new();
    for (j, text, undecorated) in groups {
        let line = plan.index.new[j].first_line;
        // Any group but one starting with the module's first statement gets a line before it
        // that runs nothing: so that a string statement is not taken for the docstring, and
        // naming the module's imports (see `Plan::imported`).
        let (text, line) = if j == 0 || line < 2 {
            (text, line)
        } else {
            (format!("{context}{text}"), line - 1)
        };
        let code = compile_at(py, &text, file, line, flags).map_err(|e| describe(py, &e, file))?;
        out.push(Ready { code, undecorated });
    }
    Ok(out)
}

/// Compiles `text` as the code it is when it starts at `line` of `file`. A small text is parsed
/// and its line numbers moved (helpers.py `compile_at`); a big one is compiled after blank
/// lines, which costs a millisecond per 25,000 lines but nothing per statement.
fn compile_at<'py>(
    py: Python<'py>,
    text: &str,
    file: &str,
    line: usize,
    flags: u32,
) -> PyResult<Bound<'py, PyAny>> {
    const SMALL: usize = 32 * 1024;
    if text.len() <= SMALL {
        return helpers(py)?
            .getattr(name!(py, "compile_at"))?
            .call1((text, file, line, flags));
    }
    let mut padded = String::with_capacity(line + text.len());
    padded.extend(std::iter::repeat_n('\n', line.saturating_sub(1)));
    padded.push_str(text);
    compile(py, &padded, file, flags)
}

/// A decorated function whose new code goes into the live function without its decorators
/// running: the live object the module binds, the plain function in it, the new function.
pub(crate) struct Undecorated<'py> {
    pub name: String,
    pub outer: Bound<'py, PyAny>,
    pub live: Bound<'py, PyAny>,
    pub new: Bound<'py, PyAny>,
}

/// Takes out the names of statements gone, then runs the statements in `target`.
/// `Err(Outer)` is swapscope's own failure; `Ok(Err(e))` is a statement raising `e`.
pub(super) fn execute<'py>(
    py: Python<'py>,
    plan: &Plan<'_>,
    ready: Vec<Ready<'py>>,
    target: &Bound<'py, PyDict>,
    submodules: &[(String, Bound<'py, PyAny>)],
) -> PyResult<Result<Vec<Undecorated<'py>>, PyErr>> {
    for n in &plan.delete {
        if MACHINERY.contains(n) || submodules.iter().any(|(s, _)| s == n) {
            continue;
        }
        if target.contains(*n)? {
            target.del_item(*n)?;
        }
    }
    let exec = py.import("builtins")?.getattr(name!(py, "exec"))?;
    let raw_function = helpers(py)?.getattr(name!(py, "raw_function"))?;
    let mut undecorated = Vec::new();
    for r in ready {
        if let Some(fname) = r.undecorated {
            // The live object and the plain function in it; without one, the whole statement
            // runs (its decorators too), as in a whole reload.
            let outer = target.get_item(&fname)?;
            let live = match &outer {
                Some(o) => Some(raw_function.call1((o, &fname))?).filter(|f| !f.is_none()),
                None => None,
            };
            if let (Some(outer), Some(live)) = (outer, live) {
                let scratch = PyDict::new(py);
                scratch.set_item(SAME, helpers(py)?.getattr(name!(py, "same"))?)?;
                if let Err(e) = exec.call1((&r.code, target, &scratch)) {
                    return Ok(Err(e));
                }
                let Some(new) = scratch.get_item(&fname)? else {
                    continue;
                };
                undecorated.push(Undecorated {
                    name: fname,
                    outer,
                    live,
                    new,
                });
                continue;
            }
            // `resolve_undecorated` found it a moment ago, with the GIL held.
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "{fname} lost its function while its statement ran; reload again"
            )));
        }
        if let Err(e) = exec.call1((&r.code, target)) {
            return Ok(Err(e));
        }
    }
    Ok(Ok(undecorated))
}

/// The names whose binding differs between `old_ns` and `target`: bound anew, added or gone.
pub(super) fn rebound(
    old_ns: &Bound<'_, PyDict>,
    target: &Bound<'_, PyDict>,
) -> PyResult<Vec<String>> {
    let mut out = Vec::new();
    for (k, v) in target.iter() {
        let same = old_ns.get_item(&k)?.is_some_and(|o| o.is(&v));
        if !same && let Ok(k) = k.extract::<String>() {
            out.push(k);
        }
    }
    for (k, _) in old_ns.iter() {
        if !target.contains(&k)?
            && let Ok(k) = k.extract::<String>()
        {
            out.push(k);
        }
    }
    out.retain(|k| !MACHINERY.contains(&k.as_str()));
    Ok(out)
}

/// Puts `names` in the order the new source binds them (names it does not bind, the removed
/// ones, last, as they came).
pub(super) fn in_source_order(names: &mut [String], plan: &Plan<'_>) {
    let order = plan.bind_order();
    names.sort_by_key(|n| order.get(n.as_str()).copied().unwrap_or(usize::MAX));
}

/// The part of `ns` under `names`.
pub(super) fn subset<'py>(
    py: Python<'py>,
    ns: &Bound<'py, PyDict>,
    names: &[String],
) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    for n in names {
        if let Some(v) = ns.get_item(n)? {
            out.set_item(n, v)?;
        }
    }
    Ok(out)
}

/// The next baseline: the last one (`base`, updated in place), with the names merged now
/// replaced by what the merge recorded for them.
pub(super) fn next_baseline(base: &mut Baseline, merged: &[String], fresh: Baseline) {
    let touched: foldhash::HashSet<&str> = merged.iter().map(String::as_str).collect();
    let keep = |path: &String| !touched.contains(top_name(path));
    base.fps.retain(|k, _| keep(k));
    base.defined.retain(|k| keep(k));
    base.dicts.retain(|k| keep(k));
    base.fps.extend(fresh.fps);
    base.defined.extend(fresh.defined);
    base.dicts.extend(fresh.dicts);
}

/// Moves the line numbers of code made by unchanged statements below an edit that added or
/// removed lines (see `helpers.py` `shift_namespace`).
/// Returns what puts them back (`helpers.py` `unshift`), if anything moved.
pub(super) fn shift_lines<'py>(
    py: Python<'py>,
    plan: &Plan<'_>,
    module: &str,
    file: &str,
    dict: &Bound<'py, PyDict>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    if plan.moved.is_empty() {
        return Ok(None);
    }
    helpers(py)?
        .getattr(name!(py, "shift_namespace"))?
        .call1((dict, module, file, plan.moved.clone()))
        .map(Some)
}
