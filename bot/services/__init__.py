"""The imperative shell: load, decide with the pure domain, store in one unit of work, act."""
