"""The command line: one module a verb (run, train, evaluate, report, ls, init), each parse -> call -> exit code."""
