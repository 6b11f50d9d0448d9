"""stackprobe's speed benchmark, run by bench/run (see bench/README.md), one module per part of the work.

Imports go one way, down this list (a module imports only modules below it):

  cli        the command line: options, the run's metadata, main()
  parts      which parts run in which order, the dry run's plan, the driver
  live       (u) `stackprobe up`, (f) and (f2) `pytest --stackprobe-reuse`, then `stackprobe down`
  harness    (b), (b4), (d), (e), (h): one timed pytest or stackprobe command each, (c) counted in each
  native     (g) the peer, native `terraform test`
  bare       (a) bare terraform, the baseline; (a20) with -parallelism=20
  context    what the parts share: work directory, logs, options, fresh caches, results so far
  workspace  the emulator and a private copy of terraform/ for bare terraform and the native peer
  report     the table as text, Markdown and JSON
  levers     what the harness's levers bought, in the run's own costs
  table      the rows: each figure, its ratio to its baseline, PASS/MISS against its target
  results    PartResult, what one part measured
  commands   a timed command in its own process group; the terraform command log
  sampling   the /proc sampler: peak RSS, provider boots
  config     paths: the repository, its venv, terraform/, bench/native/
"""
