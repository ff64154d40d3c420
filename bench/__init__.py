"""Benchmarks: each module is a command (`bench/run.sh <name>`) that brings up infrastructure of
its own, measures the project against a bare baseline in the same run, prints a table and
writes JSON under bench/results/."""
