"""results.md (and the charts) from a results.json document alone.

    write_report(doc, outdir)   writes outdir/results.md and the charts
    render_markdown(doc, charts)
"""
from __future__ import annotations

import re
from pathlib import Path

from .catalog import (BURST_TARGET, CASE_TITLES, CLIENT_BENCH_SERVER, PROGRAM_FIGURES, REF_CEILING, case_method,
                      case_refs, evaluate_http_targets, evaluate_targets)
from .charts import make_charts


def write_report(doc, outdir):
    """Write results.md and the charts into outdir; the chart file names."""
    outdir = Path(outdir)
    charts = make_charts(doc, outdir)
    (outdir / "results.md").write_text(render_markdown(doc, charts))
    return charts


def fmt(v, digits=0, unit=""):
    if v is None:
        return "–"
    if digits == 0:
        return f"{v:,.0f}{unit}"
    return f"{v:,.{digits}f}{unit}"


def ratio(a, b):
    if a is None or not b:
        return "–"
    return f"{a / b:.2f}×"


def mib(kib, digits=1):
    return fmt(None if kib is None else kib / 1024, digits)


# Python micro metrics and the uvasync_micro benchmarks that match them
# (first regex match on the benchmark name, aggregates excluded).
MICRO_ROWS = [
    # key, label, unit, how to read the Python figure, uvasync name patterns, how to read gbench
    ("gather_sleep_10k_ms", "10,000 tasks × sleep(1 ms), gathered: wall time", "ms",
     lambda m: m.get("gather_sleep_10k_ms"),
     [r"gather.*sleep", r"sleep.*gather", r"tasks_sleeping_1ms/10000(/|$)"], "time_ms"),
    ("call_soon_per_s", "1,000,000 call_soon callbacks: rate", "M/s",
     lambda m: (m.get("call_soon_per_s") or 0) / 1e6 or None, [r"call_soon"], "items_per_s_M"),
    ("lateness_idle_p50", "sleep(1 ms) lateness, idle loop, p50", "µs",
     lambda m: m.get("sleep_lateness_idle_us", {}).get("p50"), [r"(lateness|sched\w*delay|timer\w*late).*idle"], "p50_us"),
    ("lateness_idle_p99", "sleep(1 ms) lateness, idle loop, p99", "µs",
     lambda m: m.get("sleep_lateness_idle_us", {}).get("p99"), [r"(lateness|sched\w*delay|timer\w*late).*idle"], "p99_us"),
    ("lateness_busy_p50", "sleep(1 ms) lateness, busy loop (100 sleep(0) tasks), p50", "µs",
     lambda m: m.get("sleep_lateness_busy_us", {}).get("p50"), [r"(lateness|sched\w*delay|timer\w*late).*busy"], "p50_us"),
    ("lateness_busy_p99", "sleep(1 ms) lateness, busy loop (100 sleep(0) tasks), p99", "µs",
     lambda m: m.get("sleep_lateness_busy_us", {}).get("p99"), [r"(lateness|sched\w*delay|timer\w*late).*busy"], "p99_us"),
]

_TIME_TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def gbench_lookup(data, patterns, how):
    if not data or "benchmarks" not in data:
        return None, None
    for pat in patterns:
        for b in data["benchmarks"]:
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            if re.search(pat, b.get("name", ""), re.I):
                if how == "time_ms":
                    return b.get("real_time", 0) * _TIME_TO_MS.get(b.get("time_unit", "ns"), 1e-6), b["name"]
                if how == "items_per_s_M":
                    v = b.get("items_per_second")
                    return (v / 1e6 if v else None), b["name"]
                v = b.get(how)
                return v, b["name"]
    return None, None


def short_function(name):
    """A demangled name made readable: a coroutine body is the coroutine's
    own signature plus "[coroutine body]"; common long types shortened."""
    m = re.match(r"^(?P<f>.*?)\((?P<sig>.*)::_Z\S*\.Frame\*\) \[clone \.(?P<part>actor|destroy)\](?P<rest>.*)$", name)
    if m:
        name = f"{m['sig']} [coroutine {'body' if m['part'] == 'actor' else 'destroy'}]{m['rest']}"
    for long, short in ((", 18446744073709551615ul>", ">"),
                        ("std::basic_string_view<char, std::char_traits<char> >", "std::string_view"),
                        ("std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >",
                         "std::string"),
                        ("std::__n4861::", "std::")):
        name = name.replace(long, short)
    return name


def _median(doc, case, impl):
    e = doc["results"].get(case, {}).get(impl) or {}
    m = e.get("median") or {}
    return None if "failed" in m else m


def render_markdown(doc, charts):
    mi = doc["machine"]
    me = doc["method"]
    out = []
    w = out.append
    w(f"# uvasync benchmark results — {doc['timestamp_utc']}{' (quick run)' if me['quick'] else ''}\n")
    w(f"Machine: {mi.get('cpu_model', '?')}, {mi['nproc']} CPUs, Linux {mi['kernel']}; "
      f"{mi.get('cxx_compiler_version') or mi.get('g++')}; libuv {mi.get('libuv')}, Boost {mi.get('boost')}, "
      f"Python {mi.get('python')}, uvloop {mi.get('uvloop')}, {mi.get('wrk')}"
      + (f", {mi['valgrind']}" if mi.get("valgrind") and me.get("callgrind") else "") + ".\n")
    w(f"Method: server on CPU {me['server_cpu']}, client on CPU {me['client_cpu']} (taskset); "
      f"{me['repeats']} repeat(s), fresh server per sample, medians shown; echo windows "
      f"{me['echo_duration_s']:g} s after {me['echo_warmup_s']:g} s warm-up, wrk {me['wrk_duration_s']} s "
      f"after {me['wrk_warmup_s']} s warm-up. Suite time {doc['elapsed_s'] / 60:.1f} min. "
      f"Latencies in µs; CPU = server CPU time per request in µs (user / system / total); "
      f"RSS = server peak RSS (VmHWM). Ratio columns compare req/s: "
      f"**× libuv** against raw libuv (the ceiling), **× uvloop** against uvloop-streams for echo "
      f"and readline cases and uvloop-protocol for HTTP. See bench/README.md.\n")
    bg = doc.get("background_before_run") or {}
    noisy = []
    for case in doc["cases"]:
        for impl, e in doc["results"][case["name"]].items():
            ol = (e.get("median") or {}).get("other_load_pct")
            if ol is not None and ol > 15:
                noisy.append(f"{case['name']}/{impl} ({ol:.0f}%)")
    if bg.get("busy_pct", 0) > 10 or noisy:
        w("> **Warning: the machine was not idle.** "
          + (f"Before the run {bg['busy_pct']:.0f}% of a CPU was busy ({', '.join(bg.get('top', []))}). "
             if bg.get("busy_pct", 0) > 10 else "")
          + (f"Other processes used more than 15% of a CPU during: {', '.join(noisy[:12])}"
             f"{' …' if len(noisy) > 12 else ''}. " if noisy else "")
          + "Treat these figures as indicative; rerun on a quiet machine.\n")

    # summary
    load_cases = [c for c in doc["cases"] if case_method(c) == "load"]
    impls = list(doc["implementations"])
    if load_cases:
        w("## Summary: requests per second (median)\n")
        w("| Case | " + " | ".join(impls) + " |")
        w("|---|" + "---:|" * len(impls))
        for c in load_cases:
            row = []
            for impl in impls:
                e = doc["results"][c["name"]].get(impl, {})
                if "skipped" in e:
                    row.append("skipped")
                elif "failed" in e.get("median", {}):
                    row.append("failed")
                else:
                    row.append(fmt(e.get("median", {}).get("rps")))
            w(f"| {c['name']} | " + " | ".join(row) + " |")
        w("")

    render_http_targets(doc, w)
    render_callgrind(doc, w)
    render_programs(doc, w)

    for case in doc["cases"]:
        name = case["name"]
        res = doc["results"][name]
        method = case_method(case)
        if method in ("callgrind", "program"):
            continue
        w(f"## {CASE_TITLES.get(name, case.get('title', name))} (`{name}`)\n")
        if method == "burst":
            render_burst(doc, case, res, w)
            continue
        if method == "client":
            render_client(doc, case, res, w)
            continue
        ref_l, ref_u = case_refs(case)
        if method in ("idle", "idle_http"):
            if method == "idle_http":
                w("Each connection sent one GET and read its answer, then stays open (keep-alive) and idle "
                  "(bench/clients/idle_after_request.py). ")
            w(f"Server RSS growth per connection; ratio columns compare bytes per connection "
              f"(lower is better) against {ref_l} and {ref_u}.\n")
            w(f"| Implementation | connections | RSS before (MiB) | RSS with conns (MiB) | bytes / conn "
              f"| × {ref_l} | × {ref_u} |")
            w("|---|---:|---:|---:|---:|---:|---:|")
            ref_c = (res.get(ref_l, {}).get("median") or {}).get("rss_per_conn_bytes")
            ref_v = (res.get(ref_u, {}).get("median") or {}).get("rss_per_conn_bytes")
            for impl, e in res.items():
                if "skipped" in e:
                    w(f"| {impl} | skipped: {e['skipped']} |  |  |  |  |  |")
                    continue
                m = e["median"]
                if "failed" in m:
                    w(f"| {impl} | failed: {m['failed'][:120]} |  |  |  |  |  |")
                    continue
                w(f"| {impl} | {fmt(m['connections'])} | {fmt(m['rss_before_kib'] / 1024, 1)} | "
                  f"{fmt(m['rss_after_kib'] / 1024, 1)} | {fmt(m['rss_per_conn_bytes'])} | "
                  f"{ratio(m['rss_per_conn_bytes'], ref_c)} | {ratio(m['rss_per_conn_bytes'], ref_v)} |")
            w("")
            continue
        if case.get("wrk_script"):
            w(f"Requests from `bench/wrk/{case['wrk_script']}`; only the servers that read request bodies.\n")
        w(f"× {ref_l} and × {ref_u}: req/s against those servers.\n")
        w(f"| Implementation | req/s | MiB/s | p50 | p99 | p99.9 | CPU user | CPU sys | CPU total "
          f"| peak RSS (MiB) | × {ref_l} | × {ref_u} | errors |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        ref_c = (res.get(ref_l, {}).get("median") or {}).get("rps")
        ref_v = (res.get(ref_u, {}).get("median") or {}).get("rps")
        for impl, e in res.items():
            if "skipped" in e:
                w(f"| {impl} | skipped: {e['skipped']} |" + " |" * 11)
                continue
            m = e["median"]
            if "failed" in m:
                w(f"| {impl} | failed: {m['failed'][:120]} |" + " |" * 11)
                continue
            spread = ""
            if m.get("samples", 1) > 1 and m["rps"]:
                spread = f" (±{(m['rps_max'] - m['rps_min']) / 2 / m['rps'] * 100:.0f}%)"
            w(f"| {impl} | {fmt(m['rps'])}{spread} | {fmt(m['mib_s'], 1)} | {fmt(m['p50_us'])} | "
              f"{fmt(m['p99_us'])} | {fmt(m['p999_us'])} | {fmt(m['cpu_user_us'], 2)} | "
              f"{fmt(m['cpu_sys_us'], 2)} | {fmt(m['cpu_total_us'], 2)} | "
              f"{fmt((m['server_hwm_kib'] or 0) / 1024, 1)} | {ratio(m['rps'], ref_c)} | "
              f"{ratio(m['rps'], ref_v)} | {fmt(m['errors'])} |")
        w("")

    render_micro(doc, w)

    if charts:
        w("## Charts\n")
        for c in charts:
            w(f"![{c}]({c})\n")
    if doc.get("skipped"):
        w("## Skipped\n")
        for sk in doc["skipped"]:
            w(f"- {sk['impl']} ({sk['kind']} server): skipped: {sk['reason']}")
        w("")
    return "\n".join(out) + "\n"


CALLGRIND_LABELS = {"echo": "echo", "line": "readline echo", "http": "HTTP hello", "tls_echo": "TLS echo"}


def render_callgrind(doc, w):
    cases = [c for c in doc["cases"] if case_method(c) == "callgrind"]
    if not cases:
        return
    w("## Deterministic cost: instructions per request (callgrind)\n")
    w("User-space instructions of the whole server process per request, counted by "
      "`valgrind --tool=callgrind` in steady state: the difference between a long and a short phase "
      "of the same load, divided by the difference in requests the load client counted, so start-up, "
      "shutdown and per-connection work cancel out (bench/README.md, \"Instructions per request\"). "
      "Deterministic within about 1%, unlike the timings; the protocol-v2 targets are judged on "
      "these. Ratios compare against the same case's libuv and Asio servers.\n")
    impls = [i for i in doc["implementations"] if any(i in doc["results"][c["name"]] for c in cases)]
    head = "| Server |"
    rule = "|---|"
    for c in cases:
        label = CALLGRIND_LABELS.get(c["kind"], c["kind"])
        head += f" {label} (`{c['name']}`) | × libuv | × asio |"
        rule += "---:|---:|---:|"
    w(head)
    w(rule)
    for impl in impls:
        row = f"| {impl} |"
        for c in cases:
            e = doc["results"][c["name"]].get(impl)
            if e is None:
                row += " | | |"
                continue
            if "skipped" in e:
                row += f" skipped: {e['skipped']} | | |"
                continue
            m = _median(doc, c["name"], impl)
            if m is None:
                row += f" failed: {e['median']['failed'][:80]} | | |"
                continue
            ref_l = _median(doc, c["name"], REF_CEILING) or {}
            ref_a = _median(doc, c["name"], "asio") or {}
            v = m.get("ir_per_request")
            row += (f" {fmt(v)} | {ratio(v, ref_l.get('ir_per_request'))} | "
                    f"{ratio(v, ref_a.get('ir_per_request'))} |")
        w(row)
    w("")
    servers = []
    for impl in impls:
        cmds = (doc["implementations"][impl].get("commands") or {})
        names = sorted({" ".join(p.lstrip("@") for p in cmds[c["kind"]]) for c in cases if cmds.get(c["kind"])})
        if names:
            servers.append(f"{impl}: `{'`, `'.join(names)}`")
    if servers:
        w("Servers: " + "; ".join(servers) + ".\n")

    targets = doc.get("targets") or evaluate_targets(doc["results"])
    w("### Targets (protocol v2)\n")
    w("| Target | uvasync | reference | ratio | limit | |")
    w("|---|---:|---:|---:|---:|---|")
    for t in targets:
        met = "–" if t["met"] is None else ("met" if t["met"] else "**missed**")
        r = "–" if t["ratio"] is None else f"{t['ratio']:.2f}×"
        w(f"| {t['target']} | {fmt(t['ir_per_request'])} | {fmt(t['reference_ir_per_request'])} | {r} | "
          f"≤ {t['limit']:.2f}× | {met} |")
    w("")

    w("### Counts\n")
    w("| Case | Server | requests (long − short) | instructions (long − short) | per request "
      "| long phase alone, per request |")
    w("|---|---|---:|---:|---:|---:|")
    for c in cases:
        for impl, e in doc["results"][c["name"]].items():
            m = _median(doc, c["name"], impl)
            if m is None or "skipped" in e:
                continue
            w(f"| {c['name']} | {impl} | {fmt(m.get('requests'))} | {fmt(m.get('instructions'))} | "
              f"{fmt(m.get('ir_per_request'), 1)} | {fmt(m.get('ir_per_request_long_phase'), 1)} |")
    w("")

    blocks = []
    for c in cases:
        for impl, e in doc["results"][c["name"]].items():
            samples = [s for s in e.get("samples", []) if s.get("ok") and s.get("top_functions")]
            if not samples or not impl.startswith("uvasync"):
                continue
            s = samples[0]
            total = s["phases"][-1]["instructions"] or 1
            lines = [f"<details><summary>{c['name']} / {impl}: the {len(s['top_functions'])} functions with "
                     f"the most instructions of their own (long phase)</summary>\n",
                     "| instructions | share | function | object |", "|---:|---:|---|---|"]
            for f in s["top_functions"]:
                fn = short_function(f["function"]).replace("|", "\\|")
                lines.append(f"| {fmt(f['ir'])} | {f['ir'] / total * 100:.1f}% | `{fn}` | {f['object'] or ''} |")
            lines.append("\n</details>\n")
            blocks.append("\n".join(lines))
    if blocks:
        w("### Where the instructions go\n")
        for b in blocks:
            w(b)


def render_http_targets(doc, w):
    targets = doc.get("http_targets")
    if targets is None:
        targets = evaluate_http_targets(doc["results"])
    if not any(t["value"] is not None for t in targets):
        return
    w("## uvasync::http targets\n")
    w("uvasync::http (server and client) against the references, from the cases below: req/s medians of "
      "the timed cases, instructions per request from the callgrind case, bytes per idle keep-alive "
      "connection from the idle HTTP case. Timed ratios move 10–40% between runs on a shared machine.\n")
    w("| Target | uvasync::http | reference | ratio | limit | |")
    w("|---|---:|---:|---:|---:|---|")
    for t in targets:
        if t["value"] is None and t["reference_value"] is None:
            continue
        met = "–" if t["met"] is None else ("met" if t["met"] else "**missed**")
        sign = "≥" if t["sense"] == "min" else "≤"
        if t["reference"] is None:
            w(f"| {t['target']} | {fmt(t['value'])} | – | – | {sign} {fmt(t['limit'])} B | {met} |")
            continue
        ref = f"{fmt(t['reference_value'])} ({t['reference'][1]})"
        r = "–" if t["ratio"] is None else f"{t['ratio']:.2f}×"
        w(f"| {t['target']} | {fmt(t['value'])} | {ref} | {r} | {sign} {t['limit']:.2f}× | {met} |")
    w("")


def render_client(doc, case, res, w):
    _, ref_u = case_refs(case)
    w(f"Each client runs pinned to CPU {doc['method']['server_cpu']} and GETs `/` {fmt(case['requests'])} times "
      f"with {case['conns']} requests in flight through a pool of at most {case['conns']} keep-alive "
      f"connections, from the raw {CLIENT_BENCH_SERVER} HTTP server on CPU {doc['method']['client_cpu']} "
      f"(bench/clients/). CPU = the client's CPU time per request in µs.\n")
    w(f"| Client | req/s | seconds | CPU user | CPU sys | CPU total | × {ref_u} | errors |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    ref = (res.get(ref_u, {}).get("median") or {}).get("rps")
    for impl, e in res.items():
        if "skipped" in e:
            w(f"| {impl} | skipped: {e['skipped']} |" + " |" * 6)
            continue
        m = e["median"]
        if "failed" in m:
            w(f"| {impl} | failed: {m['failed'][:120]} |" + " |" * 6)
            continue
        spread = ""
        if m.get("samples", 1) > 1 and m["rps"]:
            spread = f" (±{(m['rps_max'] - m['rps_min']) / 2 / m['rps'] * 100:.0f}%)"
        w(f"| {impl} | {fmt(m['rps'])}{spread} | {fmt(m['seconds'], 2)} | {fmt(m['client_cpu_user_us'], 1)} | "
          f"{fmt(m['client_cpu_sys_us'], 1)} | {fmt(m['client_cpu_total_us'], 1)} | {ratio(m['rps'], ref)} | "
          f"{fmt(m['errors'])} |")
    w("")


# ---- programs (issues 9 and 12) -----------------------------------------------
def render_programs(doc, w):
    """Every program case in one table: the case's figure for each
    implementation, its ratio to the reference and uvasync's target."""
    cases = [c for c in doc["cases"] if case_method(c) == "program"]
    if not cases:
        return
    w("## Programs\n")
    w("Whole programs against their asyncio originals (issues 9 and 12): each sample is one run of the case's "
      "driver in bench/programs/, or of the program itself (bench/README.md, \"Programs\"). × reference: the "
      "case's figure against the reference row (uvloop; plain blocking read(2) in C++ for the files cases), "
      "turned so that above 1× is better for the row (for a latency: reference / row). Target: what the "
      "issue asks of uvasync.\n")
    w("| Case | Implementation | figure | × reference | other figures | target |")
    w("|---|---|---:|---:|---|---|")
    for case in cases:
        res = doc["results"][case["name"]]
        _, ref_impl = case_refs(case)
        metric, lower = case["metric"], case.get("sense") == "lower"
        ref = (_median(doc, case["name"], ref_impl) or {}).get(metric)
        label = f"`{case['name']}`: {CASE_TITLES.get(case['name'], case.get('title', ''))}"
        for impl, e in res.items():
            if "skipped" in e or "failed" in e["median"]:
                why = f"skipped: {e['skipped']}" if "skipped" in e else f"failed: {e['median']['failed'][:120]}"
                w(f"| {label} | {impl} | {why} | | | |")
                label = ""
                continue
            m = e["median"]
            value = m.get(metric)
            r = (ref / value if lower else value / ref) if value and ref else None
            others = "; ".join(f"{name} {fmt(m.get(key), digits)}" for name, key, digits in
                               PROGRAM_FIGURES.get(case["kind"], []) if key != metric)
            target = ""
            if impl == "uvasync":
                t = case["target"]
                v = m.get(case["target_metric"]) if "target_metric" in case else r
                what = f"{case['target_metric']} ≥ {t:g}" if "target_metric" in case else f"≥ {t:g}× {ref_impl}"
                target = f"{what}: " + ("–" if v is None else f"{v:.2f}, {'met' if v >= t else '**missed**'}")
            shown = f"{fmt(value, 0 if value is None or abs(value) >= 100 else 2)} {metric}"
            w(f"| {label} | {impl} | {shown}{' (lower is better)' if lower else ''} | {ratio(r, 1) if r else '–'} | "
              f"{others} | {target} |")
            label = ""
    w("")
# ---- end of programs ----------------------------------------------------------


def render_burst(doc, case, res, w):
    me = doc["method"]
    idle = me.get("burst_idle_s")
    factor, slack = BURST_TARGET["factor"], BURST_TARGET["slack_kib"]
    w(f"{fmt(case['conns'])} connections open at once (at most 256 connecting at a time), each sends "
      f"{case.get('size', 64)} B and waits for the echo; all are held until every echo is back (the peak), "
      f"then closed; the server's VmRSS is read before, at the peak and after "
      f"{'' if idle is None else f'{idle:g} s of '}idleness once it has closed them all. "
      f"Target: RSS after ≤ {factor:g} × RSS at start + {slack // 1024} MiB.\n")
    w("| Implementation | connections | RSS at start (MiB) | at the peak (MiB) | after idle (MiB) "
      "| target (MiB) | |")
    w("|---|---:|---:|---:|---:|---:|---|")
    for impl, e in res.items():
        if "skipped" in e:
            w(f"| {impl} | skipped: {e['skipped']} |  |  |  |  |  |")
            continue
        m = e["median"]
        if "failed" in m:
            w(f"| {impl} | failed: {m['failed'][:120]} |  |  |  |  |  |")
            continue
        w(f"| {impl} | {fmt(m['connections'])} | {mib(m['rss_start_kib'])} | {mib(m['rss_peak_kib'])} | "
          f"{mib(m['rss_after_kib'])} | {mib(m['target_kib'])} | {'met' if m['met'] else '**missed**'} |")
    w("")


def render_micro(doc, w):
    micro = doc.get("micro") or {}
    py = micro.get("python", {})
    ub = micro.get("uvasync") or {}
    w("## Event-loop microbenchmarks\n")
    if ub.get("skipped"):
        w(f"uvasync_micro: skipped: {ub['skipped']}.\n")
    elif ub.get("error"):
        w(f"uvasync_micro: failed: {ub['error'][:300]}\n")
    w("Python figures from bench/py_micro.py (pinned to CPU 0); the uvasync column comes from the "
      "uvasync_micro benchmark whose name matches (named in brackets).\n")
    w("| Metric | unit | asyncio | uvloop | uvasync |")
    w("|---|---|---:|---:|---:|")
    for key, label, unit, get_py, pats, how in MICRO_ROWS:
        cells = []
        for loop in ("asyncio", "uvloop"):
            m = py.get(loop) or {}
            v = get_py(m) if "error" not in m else None
            cells.append(fmt(v, 2 if unit == "M/s" else 1))
        v, bname = gbench_lookup(ub, pats, how)
        cells.append(f"{fmt(v, 2 if unit == 'M/s' else 1)} [{bname}]" if bname else "–")
        w(f"| {label} | {unit} | " + " | ".join(cells) + " |")
    w("")
    benchmarks = ub.get("benchmarks") if isinstance(ub, dict) else None
    if benchmarks:
        w("### uvasync_micro (Google Benchmark, all results)\n")
        w("| Benchmark | real time | CPU time | unit | iterations | items/s | counters |")
        w("|---|---:|---:|---|---:|---:|---|")
        std = {"name", "run_name", "run_type", "repetitions", "repetition_index", "threads", "iterations",
               "real_time", "cpu_time", "time_unit", "items_per_second", "bytes_per_second", "family_index",
               "per_family_instance_index", "aggregate_name", "aggregate_unit", "label", "error_occurred",
               "error_message"}
        for b in benchmarks:
            counters = ", ".join(f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}={v}"
                                 for k, v in b.items() if k not in std)
            w(f"| {b.get('name')} | {fmt(b.get('real_time'), 1)} | {fmt(b.get('cpu_time'), 1)} | "
              f"{b.get('time_unit', '')} | {fmt(b.get('iterations'))} | {fmt(b.get('items_per_second'))} | "
              f"{counters} |")
        w("")
