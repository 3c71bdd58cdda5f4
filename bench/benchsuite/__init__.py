"""The benchmark suite's modules (bench/README.md, "Files").

    procs      child processes (nothing outlives the suite), ports, /proc readers
    catalog    implementations, cases, references, targets, binary lookup
    measure    one timed sample of a load case, medians, py/uvasync micro runs
    callgrind  instructions per request under valgrind --tool=callgrind
    machine    what the machine is and how busy it was
    report     results.md from results.json (and the charts, via charts)
    charts     the PNG charts

bench/suite.py measures and then reports; bench/report.py reports only.
"""
