# Runs INSIDE the sandbox as the functional program's __main__ (stdlib only). judge.py appends one
# line, the call of __coderl_main with the sources as literals; docs/judging.md, "Functional
# problems" and "Threat model", explain each step.


def __coderl_hook(token, frame, done_line, getframe, gettrace, getprofile, write, str_type):
    """The audit hook: the only holder of the completion token (no Python reference reaches it)."""
    state = {"tainted": False, "done": False, "in_done": False}
    banned = (
        "ctypes.",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "sys._current_frames",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "pty.spawn",
        "sys.addaudithook",
    )
    frame_attrs = ("tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back")
    paths = ("open", "os.chdir", "os.listdir", "os.scandir", "os.symlink", "os.link", "os.rename")
    forbidden_parts = ("fd", "stdin", "stdout", "stderr")

    def hook(event, args):
        if event == "coderl.done":
            if state["done"] or state["tainted"] or gettrace() is not None or getprofile() is not None:
                return
            state["in_done"] = True
            try:
                caller = getframe(1)
            finally:
                state["in_done"] = False
            if caller is frame and caller.f_lineno == done_line:
                state["done"] = True
                write(1, b"\n" + token + b"\n")
            return
        if event == "sys._getframe":
            if not state["in_done"]:
                raise ValueError("coderl judge: frame introspection is not available to judged programs")
            return
        if event in ("sys.settrace", "sys.setprofile"):
            # doctest restores a None tracer (allowed); removing a tracer means one was installed
            if gettrace() is not None or getprofile() is not None:
                state["tainted"] = True
            return
        if event == "object.__getattr__" and len(args) > 1 and args[1] in frame_attrs:
            raise PermissionError(f"coderl judge: .{args[1]} is not available to judged programs")
        if event == "object.__setattr__" and len(args) > 1 and args[1] in ("__code__", "f_trace", "f_lineno"):
            raise PermissionError(f"coderl judge: setting {args[1]} is not allowed in judged programs")
        if event.startswith(banned):
            raise PermissionError(f"coderl judge: {event} is not allowed in judged programs")
        if event in paths and args:
            p = args[0]
            t = str_type(p)
            if t is int or p is None:
                return
            if t is bytes:
                p = p.decode("utf-8", "replace")
            elif t is not str:  # a path object's __fspath__ would run the program's code here
                raise PermissionError("coderl judge: pass paths as str in judged programs")
            # /proc (this process's memory and descriptors) and /dev/fd, /dev/std*, which lead
            # there; by component, so relative paths (dir_fd, symlinks to "/") are caught too
            parts = p.split("/")
            if "proc" in parts or any(c in forbidden_parts for c in parts):
                raise PermissionError(f"coderl judge: {p} is not available to judged programs")

    return hook


def __coderl_main(prompt, answer, tests, entry, call_check, test_modules, names_in_tests):
    import builtins as _builtins
    import os as _os
    import sys as _sys
    import types  # noqa: F401  (before the hook: importing it reads a traceback's tb_frame)

    # 1. the token: read from fd 0 before any program code runs, then fd 0 becomes /dev/null
    tok = b""
    while len(tok) < __TOKEN_LEN__:
        chunk = _os.read(0, __TOKEN_LEN__ - len(tok))
        if not chunk:
            break
        tok += chunk
    null = _os.open(_os.devnull, _os.O_RDONLY)
    _os.dup2(null, 0)
    _os.close(null)
    if len(tok) != __TOKEN_LEN__ or not tok.startswith(b"CODERL-DONE-") or not tok.endswith(b"\n"):
        raise SystemExit("coderl judge: no completion token on stdin")
    tok = tok[:-1]
    if not hasattr(_sys, "addaudithook"):  # Python < 3.8 runs the answers: the judge's failure
        _os.write(2, b"\nCODERL-HARNESS-ERROR " + tok + b" the sandbox's Python has no audit hooks (3.8+ needed)\n")
        raise SystemExit(3)
    _exec, _compile, _dict, _type, _id = exec, compile, dict, type, id
    _audit, _modules = _sys.audit, _sys.modules
    pristine = _dict(_builtins.__dict__)
    # 2. the problem's own code (HumanEval's prompt) in a namespace of its own: its helpers
    #    (poly, encode_cyclic...) are what the tests call, whatever the answer redefines
    problem = {"__name__": "__coderl_problem__", "__builtins__": _dict(pristine)}
    if prompt is not None:
        _exec(_compile(prompt, "<prompt>", "exec", dont_inherit=True), problem)
    # modules the tests import, loaded now: a change the answer makes to them is seen at the end
    watched = {}
    for name in test_modules:
        try:
            __import__(name)
        except ImportError:
            continue
        mod = _modules.get(name)
        watched[name] = (mod, _dict(mod.__dict__))
    atoms = (type(None), bool, int, float, complex, str, bytes)
    boxes = (list, tuple, set, frozenset)
    # stdlib containers answers return (MBPP 40, 88 return Counters), with their contents checked;
    # their classes are watched like the tests' modules (a patched Counter.__eq__ is seen)
    import collections as _collections

    mappings = (_collections.Counter, _collections.OrderedDict, _collections.defaultdict)
    trusted = {c: _dict(c.__dict__) for c in mappings + (_collections.deque,)}

    def plain(value):
        # The values the tests compare: builtin data only, checked deeply (no custom __eq__)
        todo, seen = [value], set()
        while todo:
            v = todo.pop()
            t = _type(v)
            if t in atoms:
                continue
            if _id(v) in seen:
                continue
            if t in boxes or t is _collections.deque:
                seen.add(_id(v))
                todo.extend(v)
            elif t is dict or t in mappings:
                seen.add(_id(v))
                todo.extend(v.keys())
                todo.extend(v.values())
            else:
                raise AssertionError(
                    "coderl judge: the tested function returned a value that is not plain "
                    "builtin data (None, bool, int, float, complex, str, bytes, list, tuple, "
                    "set, frozenset, dict, Counter, OrderedDict, defaultdict, deque)"
                )
        return value

    module = _type(_sys)("__coderl_solution__")
    ns = module.__dict__
    ns["__builtins__"] = _dict(pristine)
    _modules["__coderl_solution__"] = module
    hook = __coderl_hook(
        tok, _sys._getframe(), __DONE_LINE__, _sys._getframe, _sys.gettrace, _sys.getprofile, _os.write, _type
    )
    del tok
    _sys.addaudithook(hook)
    del hook
    # 3. prompt + answer, as HumanEval's harness runs them, but not as __main__
    _exec(_compile(answer, "<solution>", "exec", dont_inherit=True), ns)

    def intact(when):
        b = ns.get("__builtins__")
        if _type(b) is not dict or any(b.get(k) is not v for k, v in pristine.items()):
            raise RuntimeError(f"coderl judge: the builtins were changed {when}")
        for k in names_in_tests:
            if k in pristine and k in ns and ns[k] is not pristine[k]:
                raise RuntimeError(f"coderl judge: the answer rebinds the builtin {k!r}, which the tests use")
        for name, (mod, snap) in watched.items():
            if _modules.get(name) is not mod or any(mod.__dict__.get(k) is not v for k, v in snap.items()):
                raise RuntimeError(f"coderl judge: module {name!r}, which the tests use, was changed {when}")
        for c, snap in trusted.items():
            if any(c.__dict__.get(k) is not v for k, v in snap.items()):
                raise RuntimeError(f"coderl judge: {c.__name__} was changed {when}")
        if ns.get("__coderl_plain") is not plain or ns.get("__coderl_problem") is not problem:
            raise RuntimeError(f"coderl judge: the judge's names were rebound {when}")

    # 4. the tests, with the builtins as they were before the answer ran
    _builtins.__dict__.update(pristine)
    ns["__builtins__"] = _dict(pristine)
    ns["__coderl_plain"] = plain
    ns["__coderl_problem"] = problem
    intact("by the answer")
    _exec(_compile(tests, "<tests>", "exec", dont_inherit=True), ns)
    if call_check:
        if entry not in ns:
            raise NameError(f"name {entry!r} is not defined")
        fn = ns[entry]

        def candidate(*args, **kwargs):
            return plain(fn(*args, **kwargs))

        ns["check"](candidate)
    intact("while the tests ran")
    try:
        _sys.stdout.flush()
    except Exception:
        pass
    _audit("coderl.done")
