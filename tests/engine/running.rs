//! Code that keeps running old code after a reload is named in the report, never silent.

use crate::common::Project;

#[test]
fn a_frame_running_old_code_is_reported_not_applied() {
    let p = Project::new();
    p.write(
        "run_frame_m",
        r"
        import threading
        gate = threading.Event()
        entered = threading.Event()

        def work():
            entered.set()
            gate.wait(10)
            return 'old'
        ",
    );
    p.run(
        r"
        import threading, run_frame_m as m
        out = []
        t = threading.Thread(target=lambda: out.append(m.work()), name='busy-worker')
        t.start()
        assert m.entered.wait(10)
        ",
    );
    p.write(
        "run_frame_m",
        r"
        import threading
        gate = threading.Event()
        entered = threading.Event()

        def work():
            entered.set()
            gate.wait(10)
            return 'new'
        ",
    );
    p.run(
        r"
        r = swapscope.reload('run_frame_m')
        assert r['outcome'] == 'applied', r
        running = [c for c in r['changes'] if c['qualname'] == 'work (running)']
        assert running and running[0]['action'] == 'not_applied', r['changes']
        assert 'busy-worker' in running[0]['note'], running[0]
        assert [c['action'] for c in r['changes'] if c['qualname'] == 'work'] == ['code_swapped']
        m.gate.set()
        t.join(10)
        assert out == ['old'], out          # the running frame finished with the old code
        m.gate.set()
        assert m.work() == 'new'            # the next call runs the new code
        ",
    );
}

#[test]
fn a_changed_generator_function_says_existing_generators_keep_old_code() {
    let p = Project::new();
    p.write("run_gen_m", "def ticks():\n    yield 1\n    yield 2\n");
    p.run("import run_gen_m as m\ng = m.ticks()\nassert next(g) == 1");
    p.write("run_gen_m", "def ticks():\n    yield 10\n    yield 20\n");
    p.run(
        r"
        r = swapscope.reload('run_gen_m')
        (c,) = [c for c in r['changes'] if c['qualname'] == 'ticks']
        assert c['action'] == 'code_swapped', c
        assert 'generators' in c['note'] and 'old code' in c['note'], c
        assert next(g) == 2                  # the existing generator: old code
        assert list(m.ticks()) == [10, 20]   # a new one: new code
        ",
    );
}
